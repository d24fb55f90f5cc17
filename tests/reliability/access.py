"""The registry's access rules as a full matrix, against a live registry.

    .venv/bin/python -m tests.reliability.access

Credentials (anonymous; HTTP basic of two users and an admin, a wrong password, an
unknown user; bearer tokens from /token for each of them, expired, for another scope,
tampered, signed with another key, for another service) x repositories (public and
private, own, granted and foreign) x actions (pull, push, delete, mount) plus catalog
and search. The expected answer of each cell is computed from the rules written in
docs/registry.md, not from the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .harness import dockyard_argv, remove_tree
from .hostile_registry import Answer, request, sha
from .registryfixture import start_registry

USERS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}
ADMINS = {"root"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
# repository -> (private, owner-less grants {user: actions})
REPOS: dict[str, tuple[bool, dict[str, set[str]]]] = {
    "alice/app": (False, {}),
    "alice/secret": (True, {}),
    "bob/tools": (False, {}),
    "team/private": (True, {"bob": {"pull"}}),
    "team/pushers": (False, {"alice": {"pull", "push"}}),
    "shared/public": (False, {}),
}
ACTIONS = ("pull", "push", "delete", "mount")
VALID = "valid"
INVALID = "invalid"


@dataclass(frozen=True)
class Credential:
    name: str
    user: str | None  # who it speaks for (None: anonymous)
    kind: str  # basic, token, none, or a broken kind
    scope_repo: str | None = None  # a token for another scope: the only repository it names

    @property
    def valid(self) -> bool:
        return self.kind in ("basic", "token", "none", "other-scope")


CREDENTIALS = [
    Credential("anonymous", None, "none"),
    Credential("basic alice", "alice", "basic"),
    Credential("basic bob", "bob", "basic"),
    Credential("basic root (admin)", "root", "basic"),
    Credential("token anonymous", None, "token"),
    Credential("token alice", "alice", "token"),
    Credential("token bob", "bob", "token"),
    Credential("token root (admin)", "root", "token"),
    Credential("token alice, expired", "alice", "expired"),
    Credential("token alice, for alice/app only", "alice", "other-scope", "alice/app"),
    Credential("token alice, tampered (sub=root)", "alice", "tampered"),
    Credential("token alice, another key", "alice", "wrong-key"),
    Credential("token alice, another service", "alice", "other-service"),
    # Last: failed sign-ins from one address are limited (429 after 20 in a minute).
    Credential("basic alice, wrong password", "alice", "wrong-password"),
    Credential("basic unknown user", "ghost", "unknown-user"),
]
RATE_LIMITED = ("wrong-password", "unknown-user")


# -- the rules (docs/registry.md, "Accounts and permissions") -----------------------
def permitted(user: str | None, repo: str, action: str) -> bool:
    if user in ADMINS:
        return True
    private, grants = REPOS.get(repo, (False, {}))
    if user is not None:
        if repo.startswith(user + "/"):
            return True
        if action in grants.get(user, set()):
            return True
    return action == "pull" and not private


def expected_status(cred: Credential, repo: str, action: str) -> int:
    if not cred.valid:
        return 401
    user = cred.user
    target = f"{user or 'anon'}/m"
    if action == "mount":
        if not permitted(user, target, "push") or (
            cred.scope_repo is not None and cred.scope_repo != target
        ):
            return 401 if user is None or cred.scope_repo is not None else 403
        return 201 if permitted(user, repo, "pull") else 202
    allowed = permitted(user, repo, action)
    if cred.scope_repo is not None and not (repo == cred.scope_repo and action in ("pull", "push")):
        return 401 if allowed else 403
    if allowed:
        return {"pull": 200, "push": 202, "delete": 202}[action]
    return 401 if user is None else 403


def visible(cred: Credential) -> set[str]:
    """Repositories catalog and search show (bad credentials: the anonymous view)."""
    user = cred.user if cred.valid else None
    return {repo for repo in REPOS if permitted(user, repo, "pull")}


# -- talking to the registry ----------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _sign(key: bytes, claims: dict) -> str:
    head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


@dataclass
class World:
    host: str
    key: bytes
    service: str = "dockyard-registry"
    config_digest: str = ""
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, user: str | None, scopes: list[str]) -> str:
        query = "&".join(f"scope={quote(s)}" for s in scopes)
        headers = _basic(user, USERS[user]) if user else {}
        answer = request(self.host, "GET", f"/token?service={self.service}&{query}", None, headers)
        assert answer.status == 200, answer
        return json.loads(answer.body)["token"]

    def claims(self, user: str, access: list[dict], **change) -> dict:  # type: ignore[no-untyped-def]
        now = int(time.time())
        claims = {"iss": self.service, "sub": user, "aud": self.service, "iat": now,
                  "nbf": now - 5, "exp": now + 300, "jti": "x", "access": access}  # fmt: skip
        claims.update(change)
        return claims

    def headers(self, cred: Credential, scopes: list[str]) -> dict[str, str]:
        everything = [
            {"type": "repository", "name": s.split(":")[1], "actions": s.split(":")[2].split(",")}
            for s in scopes
        ]
        if cred.kind == "none":
            return {}
        if cred.kind == "basic":
            return _basic(cred.user, USERS[cred.user])  # type: ignore[arg-type]
        if cred.kind == "wrong-password":
            return _basic(cred.user, "not-the-password")  # type: ignore[arg-type]
        if cred.kind == "unknown-user":
            return _basic(cred.user, "whatever")  # type: ignore[arg-type]
        if cred.kind == "token":
            return {"Authorization": "Bearer " + self.token(cred.user, scopes)}
        if cred.kind == "other-scope":
            token = self.token(cred.user, [f"repository:{cred.scope_repo}:pull,push"])
            return {"Authorization": "Bearer " + token}
        if cred.kind == "expired":
            past = int(time.time()) - 3600
            claims = self.claims(cred.user, everything, exp=past, iat=past - 300, nbf=past - 300)  # type: ignore[arg-type]
            return {"Authorization": "Bearer " + _sign(self.key, claims)}
        if cred.kind == "tampered":
            head, body, signature = self.token(cred.user, scopes).split(".")
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            claims["sub"] = "root"
            return {
                "Authorization": f"Bearer {head}.{_b64(json.dumps(claims).encode())}.{signature}"
            }
        if cred.kind == "wrong-key":
            claims = self.claims(cred.user, everything)  # type: ignore[arg-type]
            return {"Authorization": "Bearer " + _sign(b"k" * 32, claims)}
        if cred.kind == "other-service":
            claims = self.claims(cred.user, everything, aud="another-registry")  # type: ignore[arg-type]
            return {"Authorization": "Bearer " + _sign(self.key, claims)}
        raise AssertionError(cred.kind)


def _registry_cli(storage: Path, *args: str, stdin: str | None = None) -> None:
    result = subprocess.run(
        dockyard_argv("registry", *args, "--storage", str(storage)),
        input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _push(world: World, repo: str, tags: list[str]) -> None:
    root = _basic("root", USERS["root"])
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    world.config_digest = sha(config)
    answer = request(
        world.host, "POST", f"/v2/{repo}/blobs/uploads/?digest={sha(config)}", config, root
    )
    assert answer.status == 201, answer
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha(config)},
        "layers": [],
    }).encode()  # fmt: skip
    for tag in tags:
        headers = {**root, "Content-Type": OCI_MANIFEST}
        answer = request(world.host, "PUT", f"/v2/{repo}/manifests/{tag}", manifest, headers)
        assert answer.status == 201, answer


def setup(directory: Path) -> tuple[World, object]:
    storage = directory / "storage"
    for user, password in USERS.items():
        extra = ["--admin"] if user in ADMINS else []
        _registry_cli(
            storage, "user", "add", user, "--password-stdin", *extra, stdin=password + "\n"
        )
    registry = start_registry(storage)
    from dockyard.registry.metadata_open import open_metadata
    from dockyard.registry.tokens import load_key

    # the key is in the registry's metadata database: load_key reads it
    meta = open_metadata(None, str(storage))
    world = World(registry.host, load_key(meta))
    meta.close()
    for repo, (private, grants) in REPOS.items():
        _push(world, repo, ["v1"] + [f"del-{n}" for n in range(len(CREDENTIALS))])
        if private:
            _registry_cli(storage, "repo", "set-private", repo)
        for user, actions in grants.items():
            _registry_cli(storage, "repo", "grant", repo, user, ",".join(sorted(actions)))
    return world, registry


def send(world: World, cred: Credential, number: int, repo: str, action: str) -> Answer:
    if action == "pull":
        headers = world.headers(cred, [f"repository:{repo}:pull"])
        headers["Accept"] = OCI_MANIFEST
        return request(world.host, "GET", f"/v2/{repo}/manifests/v1", None, headers)
    if action == "push":
        headers = world.headers(cred, [f"repository:{repo}:pull,push"])
        return request(world.host, "POST", f"/v2/{repo}/blobs/uploads/", b"", headers)
    if action == "delete":
        headers = world.headers(cred, [f"repository:{repo}:delete"])
        return request(world.host, "DELETE", f"/v2/{repo}/manifests/del-{number}", None, headers)
    target = f"{cred.user or 'anon'}/m"
    headers = world.headers(cred, [f"repository:{target}:pull,push", f"repository:{repo}:pull"])
    path = f"/v2/{target}/blobs/uploads/?mount={world.config_digest}&from={repo}"
    return request(world.host, "POST", path, b"", headers)


def listing(world: World, cred: Credential, what: str) -> set[str] | str:
    headers = world.headers(cred, [])
    if what == "catalog":
        answer = request(world.host, "GET", "/v2/_catalog?n=1000", None, headers)
        if answer.status != 200:
            return f"status {answer.status}"
        return {r for r in json.loads(answer.body)["repositories"] if r in REPOS}
    answer = request(world.host, "GET", "/v1/search?q=&n=100", None, headers)
    if answer.status != 200:
        return f"status {answer.status}"
    names = {r["name"] for r in json.loads(answer.body)["results"]}
    return {r for r in REPOS if r in names}


def run_matrix(directory: Path) -> tuple[int, list[str]]:
    world, registry = setup(directory)
    cells = 0
    wrong: list[str] = []
    try:
        for number, cred in enumerate(CREDENTIALS):
            for repo in REPOS:
                for action in ACTIONS:
                    cells += 1
                    want = expected_status(cred, repo, action)
                    got = send(world, cred, number, repo, action)
                    limited = got.status == 429 and want == 401 and cred.kind in RATE_LIMITED
                    if got.status != want and not limited:
                        wrong.append(f"{cred.name} {action} {repo}: {got.status}, expected {want}")
            for what in ("catalog", "search"):
                cells += 1
                got_names = listing(world, cred, what)
                if got_names != visible(cred):
                    wrong.append(
                        f"{cred.name} {what}: {got_names}, expected {sorted(visible(cred))}"
                    )
    finally:
        registry.stop()  # type: ignore[attr-defined]
    return cells, wrong


def main() -> int:
    directory = Path(tempfile.mkdtemp(prefix="dockyard-access-"))
    cells, wrong = run_matrix(directory)
    for line in wrong:
        print(f"FAIL {line}")
    print(f"access: {cells} cells ({len(CREDENTIALS)} credentials x {len(REPOS)} repositories x"
          f" {len(ACTIONS)} actions + catalog + search), {len(wrong)} wrong")  # fmt: skip
    if not wrong:
        remove_tree(directory)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
