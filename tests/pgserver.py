"""A throwaway PostgreSQL 15 (Debian's postgresql package) for tests and benchmarks.

``initdb`` into a fresh directory, ``postgres`` listening on 127.0.0.1 at a free port
(and a unix socket in the same directory), trust authentication, durability off (the
data is thrown away). As root the server runs as the ``postgres`` user (PostgreSQL
refuses to run as root). ``stop()`` ends exactly the PID it started and removes the
directory.

From a shell: ``python -m tests.pgserver`` prints the URL and serves until interrupted.
The session fixture ``postgres`` (tests/conftest.py) starts one per test session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

SUPERUSER = "postgres"
START_TIMEOUT = 60.0
KEPT_TABLES = ("settings", "schema_migrations")
# A test session killed outright (no fixture teardown) must not leave the server behind:
# it gets SIGINT (PostgreSQL's fast shutdown) when the process that started it dies.
# setpriv execs postgres, so the PID stays the one to stop.
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "INT", "--"] if shutil.which("setpriv") else []
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "400",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


class PostgresUnavailable(RuntimeError):
    """The postgresql package is not installed here."""


def binaries() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (apt-get install postgresql; scripts/install.sh does)"
        )
    return os.path.dirname(found[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.bin = binaries()
        self.base = tempfile.mkdtemp(prefix="dockyard-pg-")
        self.data = os.path.join(self.base, "data")
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self._as: dict = {}
        if os.geteuid() == 0:  # postgres refuses root: run it as the package's user
            account = pwd.getpwnam(SUPERUSER)
            os.chown(self.base, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.log_path = os.path.join(self.base, "postgres.log")

    @property
    def user(self) -> str:
        return SUPERUSER

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        subprocess.run(
            [
                os.path.join(self.bin, "initdb"),
                "-D",
                self.data,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **self._as,
        )
        options = [f"-c{key}={value}" for key, value in SETTINGS.items()]
        options += [f"-cport={self.port}", f"-cunix_socket_directories={self.base}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*DIE_WITH_PARENT, os.path.join(self.bin, "postgres"), "-D", self.data, *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **self._as,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited at start: {self.log_tail()}")
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"postgres did not start: {self.log_tail()}") from None
                time.sleep(0.05)

    def log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as log:
                return " | ".join(log.read().splitlines()[-5:])
        except OSError:
            return ""

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def reset_database(self, url: str, keep: tuple[str, ...] = KEPT_TABLES) -> None:
        """Empty every table of a registry's database but ``keep`` (its key, its schema)."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            tables = [
                name
                for (name,) in connection.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
                if name not in keep
            ]
            if tables:
                connection.execute(f"TRUNCATE {', '.join(tables)}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # "fast" shutdown: ends the sessions
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def main() -> int:
    server = PostgresServer().start()
    print(server.url(), flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
