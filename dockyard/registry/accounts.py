"""Users, grants, repository settings and stars: the metadata the admin commands change."""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.registry.metadata import Metadata
from dockyard.registry.passwords import hash_password

ACTIONS = ("pull", "push", "delete")
USER_RE_TEXT = r"^[a-z0-9][a-z0-9._-]{0,63}$"


@dataclass(frozen=True)
class User:
    name: str
    password: str
    admin: bool


def _check_user_name(name: str) -> None:
    if not re.match(USER_RE_TEXT, name):
        raise InvalidArgument(
            f"invalid user name {name!r}: use lowercase letters, digits, '.', '_' or '-'"
        )


class Accounts:
    def __init__(self, meta: Metadata) -> None:
        self.meta = meta

    # -- users -----------------------------------------------------------------------

    def has_users(self) -> bool:
        return self.meta.one("SELECT 1 FROM users LIMIT 1") is not None

    def get(self, name: str) -> User | None:
        row = self.meta.one("SELECT name, password, admin FROM users WHERE name = ?", name)
        return User(row[0], row[1], bool(row[2])) if row else None

    def users(self) -> list[User]:
        rows = self.meta.all("SELECT name, password, admin FROM users ORDER BY name")
        return [User(r[0], r[1], bool(r[2])) for r in rows]

    def add(self, name: str, password: str, admin: bool = False) -> None:
        _check_user_name(name)
        if not password:
            raise InvalidArgument("the password must not be empty")
        encoded = hash_password(password)
        with self.meta.write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"user {name} already exists")
            db.execute(
                "INSERT INTO users (name, password, admin, created) VALUES (?, ?, ?, ?)",
                (name, encoded, int(admin), time.time()),
            )

    def remove(self, name: str) -> None:
        with self.meta.write() as db:
            if not db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise NotFound(f"no such user: {name}")
            db.execute('DELETE FROM grants WHERE "user" = ?', (name,))
            db.execute('DELETE FROM stars WHERE "user" = ?', (name,))

    def set_password(self, name: str, password: str, admin: bool | None = None) -> None:
        if not password:
            raise InvalidArgument("the password must not be empty")
        encoded = hash_password(password)
        with self.meta.write() as db:
            if not db.execute(
                "UPDATE users SET password = ? WHERE name = ?", (encoded, name)
            ).rowcount:
                raise NotFound(f"no such user: {name}")
            if admin is not None:
                db.execute("UPDATE users SET admin = ? WHERE name = ?", (int(admin), name))

    # -- grants ----------------------------------------------------------------------

    def grant(self, repo: str, user: str, actions: list[str]) -> None:
        bad = [a for a in actions if a not in ACTIONS]
        if bad or not actions:
            raise InvalidArgument(f"actions must be some of {', '.join(ACTIONS)}")
        with self.meta.write() as db:
            if not db.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone():
                raise NotFound(f"no such user: {user}")
            db.execute(
                'INSERT INTO grants (repo, "user", actions) VALUES (?, ?, ?) '
                'ON CONFLICT (repo, "user") DO UPDATE SET actions = excluded.actions',
                (repo, user, ",".join(sorted(set(actions)))),
            )

    def revoke(self, repo: str, user: str) -> None:
        with self.meta.write() as db:
            if not db.execute(
                'DELETE FROM grants WHERE repo = ? AND "user" = ?', (repo, user)
            ).rowcount:
                raise NotFound(f"user {user} has no grant on {repo}")

    def granted(self, repo: str, user: str) -> set[str]:
        """Actions granted to ``user`` on ``repo`` (grants may use patterns: ``team/*``)."""
        actions: set[str] = set()
        for pattern, granted in self.meta.all(
            'SELECT repo, actions FROM grants WHERE "user" = ?', user
        ):
            if pattern == repo or fnmatch.fnmatchcase(repo, pattern):
                actions.update(granted.split(","))
        return actions

    # -- repositories ------------------------------------------------------------------

    def _update_repo(self, repo: str, column: str, value: object) -> None:
        with self.meta.write() as db:
            db.execute(
                "INSERT INTO repositories (name, created) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (repo, time.time()),
            )
            db.execute(f"UPDATE repositories SET {column} = ? WHERE name = ?", (value, repo))

    def set_description(self, repo: str, description: str) -> None:
        self._update_repo(repo, "description", description)

    def set_official(self, repo: str, official: bool) -> None:
        self._update_repo(repo, "official", int(official))

    def set_private(self, repo: str, private: bool) -> None:
        self._update_repo(repo, "private", int(private))

    def is_private(self, repo: str) -> bool:
        row = self.meta.one("SELECT private FROM repositories WHERE name = ?", repo)
        return bool(row and row[0])

    # -- stars -------------------------------------------------------------------------

    def star(self, repo: str, user: str, on: bool) -> int:
        with self.meta.write() as db:
            if on:
                db.execute(
                    'INSERT INTO stars (repo, "user", created) VALUES (?, ?, ?) '
                    "ON CONFLICT DO NOTHING",
                    (repo, user, time.time()),
                )
            else:
                db.execute('DELETE FROM stars WHERE repo = ? AND "user" = ?', (repo, user))
            return db.execute("SELECT COUNT(*) FROM stars WHERE repo = ?", (repo,)).fetchone()[0]

    def starred(self, repo: str, user: str) -> bool:
        return (
            self.meta.one('SELECT 1 FROM stars WHERE repo = ? AND "user" = ?', repo, user)
            is not None
        )
