"""daemon.json (mirrors, insecure registries, index), config.json credentials and
helpers, WWW-Authenticate parsing, platform choice: the client's small parts."""

from __future__ import annotations

import json
import os
import stat

import pytest

from dockyard.client import credentials
from dockyard.client.challenge import parse_challenge, pick_challenge
from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.platforms import choose, parse_platform
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.oci.types import Descriptor, Index, Platform
from tests.client.registries import free_port


def test_daemon_json_keys(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "daemon.json"
    path.write_text(
        json.dumps(
            {
                "registry-mirrors": ["http://127.0.0.1:5000/"],
                "insecure-registries": ["http://registry.lan:5000", "10.1.0.0/16"],
                "index-server": "127.0.0.1:5000",
                "log-level": "debug",
            }
        )
    )
    config = load_daemon_config(str(path))
    assert config.mirrors == ["http://127.0.0.1:5000"]
    assert config.index_server == "https://127.0.0.1:5000"
    assert config.is_insecure("registry.lan:5000")
    assert config.is_insecure("10.1.2.3:443")
    assert not config.is_insecure("10.2.0.1:5000")
    assert not config.is_insecure("registry.lan:5001")
    monkeypatch.setenv("DOCKYARD_CONFIG", str(path))
    assert load_daemon_config().mirrors == ["http://127.0.0.1:5000"]


def test_loopback_and_localhost_are_insecure_by_default():  # type: ignore[no-untyped-def]
    config = DaemonConfig()
    for host in ("127.0.0.1:5000", "127.8.9.10", "localhost:5000", "[::1]:5000"):
        assert config.is_insecure(host), host
    assert not config.is_insecure("registry-1.docker.io")
    assert not config.is_insecure("192.168.1.10:5000")


def test_bad_daemon_json_is_one_clear_error(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "daemon.json"
    path.write_text("{not json")
    with pytest.raises(InvalidArgument, match="unable to configure the daemon with file"):
        load_daemon_config(str(path))
    path.write_text(json.dumps({"registry-mirrors": ["ftp://x"]}))
    with pytest.raises(InvalidArgument, match="invalid mirror"):
        load_daemon_config(str(path))
    with pytest.raises(InvalidArgument, match="no such file"):
        load_daemon_config(str(tmp_path / "missing.json"))


def test_mirror_that_is_down_falls_back_to_the_next(cli, client_env, faulty):  # type: ignore[no-untyped-def]
    from tests.client.registries import memory_image

    image = memory_image([{"etc/mirror": b"yes"}])
    faulty.add_image("library/mirrored", "latest", image)
    dead = free_port()
    (client_env / "daemon.json").write_text(
        json.dumps({"registry-mirrors": [f"http://127.0.0.1:{dead}", f"http://{faulty.host}"]})
    )
    result = cli("pull", "mirrored")
    assert result.stdout.splitlines()[-1] == "docker.io/library/mirrored:latest"
    assert json.loads(cli("inspect", "mirrored").stdout)[0]["Id"] == image.image_id


def test_credentials_round_trip_and_docker_hub_key(client_env):  # type: ignore[no-untyped-def]
    path, unencrypted = credentials.save(
        "docker.io", credentials.Credentials("me", "pw:with:colons")
    )
    assert unencrypted
    document = json.loads(path.read_text())
    assert list(document["auths"]) == ["https://index.docker.io/v1/"]
    assert credentials.load("registry-1.docker.io") == credentials.Credentials(
        "me", "pw:with:colons"
    )
    document["auths"]["http://other.example:5000/v2/"] = {"auth": "dTpw"}
    path.write_text(json.dumps(document))
    assert credentials.load("other.example:5000") == credentials.Credentials("u", "p")
    assert credentials.erase("other.example:5000")
    assert credentials.load("other.example:5000") is None
    assert not credentials.erase("never.example")


def test_credential_helper(client_env, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """credsStore: a docker-credential-* program (a small fake kept in a file)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(
        f"""#!/usr/bin/env python3
import json, sys
path = {str(store)!r}
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {{}}
action = sys.argv[1]
if action == "store":
    item = json.load(sys.stdin)
    data[item["ServerURL"]] = [item["Username"], item["Secret"]]
    json.dump(data, open(path, "w"))
elif action == "get":
    key = sys.stdin.read().strip()
    if key not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": key, "Username": data[key][0], "Secret": data[key][1]}}))
elif action == "erase":
    data.pop(sys.stdin.read().strip(), None)
    json.dump(data, open(path, "w"))
"""
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = client_env / "docker-config" / "config.json"
    config.write_text(json.dumps({"credsStore": "fake"}))
    _, unencrypted = credentials.save("reg.example:5000", credentials.Credentials("al", "s3"))
    assert not unencrypted
    assert json.loads(config.read_text())["auths"] == {"reg.example:5000": {}}
    assert credentials.load("reg.example:5000") == credentials.Credentials("al", "s3")
    credentials.erase("reg.example:5000")
    assert credentials.load("reg.example:5000") is None
    config.write_text(json.dumps({"credsStore": "missing-helper"}))
    with pytest.raises(DockyardError, match="docker-credential-missing-helper"):
        credentials.load("reg.example:5000")


def test_challenges():  # type: ignore[no-untyped-def]
    bearer = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"'
    )
    assert bearer is not None and bearer.scheme == "bearer"
    assert bearer.realm == "https://auth.example/token"
    assert bearer.params["scope"] == "repository:a/b:pull,push"
    assert bearer.params["error"] == "insufficient_scope"
    chosen = pick_challenge(['Basic realm="x"', 'Bearer realm="y",service="s"'])
    assert chosen is not None and chosen.scheme == "bearer" and chosen.realm == "y"
    assert pick_challenge([]) is None


def _entry(architecture: str, variant: str | None = None, attestation: bool = False) -> Descriptor:
    from dockyard.digest import Digest

    annotations = {"vnd.docker.reference.type": "attestation-manifest"} if attestation else None
    return Descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        Digest.of_bytes(f"{architecture}{variant}{attestation}".encode()),
        1,
        annotations,
        Platform(architecture, "linux", variant),
    )


def test_platform_choice():  # type: ignore[no-untyped-def]
    entries = (
        _entry("amd64", attestation=True),
        _entry("arm", "v6"),
        _entry("arm", "v7"),
        _entry("arm64", "v8"),
        _entry("amd64"),
    )
    index = Index("application/vnd.oci.image.index.v1+json", entries)
    assert choose(index, parse_platform("linux/amd64")) is entries[4]
    assert choose(index, parse_platform("linux/arm/v7")) is entries[2]
    assert choose(index, parse_platform("linux/arm64")) is entries[3]
    with pytest.raises(NotFound, match="no matching manifest for linux/ppc64le"):
        choose(index, parse_platform("linux/ppc64le"))
    with pytest.raises(InvalidArgument):
        parse_platform("linux/amd64/v2/extra")


def test_secure_registry_speaking_plain_http_is_refused_as_docker_words_it(faulty):  # type: ignore[no-untyped-def]
    """A registry not marked insecure gets HTTPS only; a plain HTTP server is an error."""
    import asyncio

    from dockyard.client.errors import RegistryError
    from dockyard.client.session import RegistrySession, new_http_session

    class Strict(DaemonConfig):
        def is_insecure(self, host: str) -> bool:
            return False

    async def ping() -> None:
        async with new_http_session() as http:
            await RegistrySession(http, faulty.host, Strict(), credentials=None).ping()

    with pytest.raises(RegistryError) as raised:
        asyncio.run(ping())
    assert str(raised.value) == (
        f'Get "https://{faulty.host}/v2/": http: server gave HTTP response to HTTPS client'
    )
