"""login/logout: Docker's config.json shared with the real docker CLI, Basic and bearer
token authentication, token reuse and the retry after a 401."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from tests.client.registries import (
    htpasswd_file,
    memory_image,
    start_cncf_registry,
    start_dockyard_registry,
    stop_process,
)


@pytest.fixture(scope="module")
def locked(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A CNCF registry with htpasswd authentication (alice / secret)."""
    directory = tmp_path_factory.mktemp("locked")
    registry = start_cncf_registry(
        directory / "registry", htpasswd_file(directory / "htpasswd", "alice", "secret")
    )
    yield registry
    stop_process(registry.process)


def _docker(config_dir, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    import shutil

    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    return subprocess.run(
        ["docker", "--config", str(config_dir), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_wrong_password_fails_with_the_registry_message(cli, client_env, locked):  # type: ignore[no-untyped-def]
    result = cli("login", locked.host, "-u", "alice", "-p", "wrong", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
        f"Error: login attempt to http://{locked.host}/v2/ failed with status: 401 Unauthorized",
    ]
    assert not (client_env / "docker-config" / "config.json").exists()


def test_login_writes_config_the_docker_cli_reads(cli, client_env, locked):  # type: ignore[no-untyped-def]
    config_dir = client_env / "docker-config"
    (config_dir / "config.json").write_text(json.dumps({"psFormat": "table {{.ID}}"}))
    result = cli("login", locked.host, "-u", "alice", "--password-stdin", stdin=b"secret\n")
    assert result.stdout == "Login Succeeded\n"
    assert result.stderr == (
        f"\nWARNING! Your credentials are stored unencrypted in '{config_dir}/config.json'.\n"
        "Configure a credential helper to remove this warning. See\n"
        "https://docs.docker.com/go/credential-store/\n\n"
    )
    document = json.loads((config_dir / "config.json").read_text())
    assert document["psFormat"] == "table {{.ID}}"
    assert base64.b64decode(document["auths"][locked.host]["auth"]) == b"alice:secret"
    assert (config_dir / "config.json").stat().st_mode & 0o777 == 0o600
    docker = _docker(config_dir, "login", locked.host)
    assert "Authenticating with existing credentials... [Username: alice]" in (
        docker.stdout + docker.stderr
    )
    removed = _docker(config_dir, "logout", locked.host)
    assert removed.returncode == 0
    assert removed.stdout == f"Removing login credentials for {locked.host}\n"
    assert json.loads((config_dir / "config.json").read_text())["auths"] == {}


def test_credentials_saved_by_docker_work_for_dockyard(cli, client_env, locked, busybox_tar):  # type: ignore[no-untyped-def]
    config_dir = client_env / "docker-config"
    cli("import", str(busybox_tar), "busybox:latest")
    name = f"{locked.host}/alice/busybox:latest"
    cli("tag", "busybox", name)
    denied = cli("push", name, check=False)
    assert denied.returncode == 1
    assert denied.stderr.startswith("Error: unauthorized: ")
    docker = _docker(config_dir, "login", locked.host, "-u", "alice", "-p", "secret")
    assert docker.returncode == 0, docker.stderr
    cli("push", name)
    cli("rmi", name, "busybox")
    cli("pull", name)
    result = cli("logout", locked.host)
    assert result.stdout == f"Removing login credentials for {locked.host}\n"
    assert locked.host not in json.loads((config_dir / "config.json").read_text())["auths"]
    assert cli("pull", name, check=False).returncode == 1


def test_bearer_token_is_reused_and_refreshed_once_after_401(cli, client_env, faulty):  # type: ignore[no-untyped-def]
    image = memory_image([{"a": b"1"}, {"b": b"2"}, {"c": b"3"}])
    faulty.add_image("tok/image", "latest", image)
    faulty.bearer = ("carol", "pw")
    name = f"{faulty.host}/tok/image:latest"
    anonymous = cli("pull", name, check=False)
    assert anonymous.returncode == 1
    assert "unauthorized: incorrect username or password" in anonymous.stderr
    wrong = cli("login", faulty.host, "-u", "carol", "-p", "nope", check=False)
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines()[-1] == (
        f'Error: Get "http://{faulty.host}/v2/": unauthorized: incorrect username or password'
    )
    cli("login", faulty.host, "-u", "carol", "-p", "pw")
    faulty.token_requests.clear()
    cli("pull", name)
    assert faulty.token_requests == [["repository:tok/image:pull"]]
    faulty.token_requests.clear()
    faulty.expire_next = True
    cli("rmi", name)
    cli("pull", name)
    assert len(faulty.token_requests) == 2


def test_token_login_and_push_to_dockyard_registry(cli, client_env, busybox_tar, tmp_path):  # type: ignore[no-untyped-def]
    storage = tmp_path / "dockyard-registry"
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "dockyard.cli.main",
            "registry",
            "user",
            "add",
            "dave",
            "--password-stdin",
            "--storage",
            str(storage),
        ],
        input="pa55\n",
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    server = start_dockyard_registry(storage)
    try:
        wrong = cli("login", server.host, "-u", "dave", "-p", "bad", check=False)
        assert wrong.returncode == 1
        assert wrong.stderr.splitlines()[-1].startswith(f'Error: Get "http://{server.host}/v2/": ')
        cli("login", server.host, "-u", "dave", "--password-stdin", stdin=b"pa55")
        cli("import", str(busybox_tar), "busybox:latest")
        name = f"{server.host}/dave/busybox:1"
        cli("tag", "busybox", name)
        cli("push", name)
        cli("rmi", name, "busybox")
        cli("pull", name)
    finally:
        stop_process(server.process)


def test_engine_api_auth_config_is_used_instead_of_config_json(client_env, faulty, tmp_path):  # type: ignore[no-untyped-def]
    """The daemon passes X-Registry-Auth (an AuthConfig) to pull/push/search, and checks
    POST /auth with authenticate(), which stores nothing."""
    from dockyard.client.errors import Unauthorized
    from dockyard.client.login import authenticate
    from dockyard.engine import Engine
    from dockyard.imageops.pull import pull

    image = memory_image([{"x": b"1"}])
    faulty.add_image("auth/config", "latest", image)
    faulty.bearer = ("erin", "pw")
    engine = Engine(tmp_path / "store")
    try:
        with pytest.raises(Unauthorized):
            pull(engine.store, f"{faulty.host}/auth/config")
        auth = {"username": "erin", "password": "pw", "serveraddress": faulty.host}
        [result] = pull(engine.store, f"{faulty.host}/auth/config", auth=auth)
        assert str(result.image_id) == image.image_id
    finally:
        engine.close()
    checked = authenticate(faulty.host, "erin", "pw")
    assert checked.config_file is None and checked.key == faulty.host
    with pytest.raises(Unauthorized, match="incorrect username or password"):
        authenticate(faulty.host, "erin", "bad")
    assert not (client_env / "docker-config" / "config.json").exists()
