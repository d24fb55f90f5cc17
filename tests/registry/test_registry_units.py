"""Unit tests of the registry's small pieces: ranges, tokens, passwords, ranking, names, driver."""

from __future__ import annotations

import time

import pytest

from dockyard.registry.blobfile import parse_range
from dockyard.registry.errors import RegistryError, error_body
from dockyard.registry.metadata_open import open_metadata
from dockyard.registry.names import check_name, check_tag, parse_digest
from dockyard.registry.passwords import hash_password, verify_password
from dockyard.registry.search import RepoSummary, rank
from dockyard.registry.storage.filesystem import FilesystemDriver
from dockyard.registry.tokens import TokenSigner, load_key


def test_parse_range():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 10)
    assert parse_range("bytes=90-", 100) == (90, 10)
    assert parse_range("bytes=90-500", 100) == (90, 10)
    assert parse_range("bytes=-30", 100) == (70, 30)
    assert parse_range("bytes=-300", 100) == (0, 100)
    assert parse_range("bytes=100-", 100) is False
    assert parse_range("bytes=5-4", 100) is False
    assert parse_range("bytes=-0", 100) is False
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole blob
    assert parse_range("items=0-1", 100) is None


def test_tokens(tmp_path):
    meta = open_metadata(None, str(tmp_path))
    key = load_key(meta, str(tmp_path))
    other = open_metadata(None, str(tmp_path))
    assert load_key(other, str(tmp_path)) == key and len(key) == 32  # created once, shared
    assert not (tmp_path / "token.key").exists()  # in the database, not a per-node file
    meta.close()
    other.close()
    signer = TokenSigner(key, "svc")
    access = [{"type": "repository", "name": "a/b", "actions": ["pull"]}]
    token, issued = signer.issue("alice", access, 60)
    claims = signer.verify(token)
    assert claims["sub"] == "alice" and claims["access"] == access and claims["iat"] == issued
    head, body, signature = token.split(".")
    assert signer.verify(f"{head}.{body}.{signature[::-1]}") is None
    assert TokenSigner(b"x" * 32, "svc").verify(token) is None
    assert TokenSigner(key, "other").verify(token) is None
    expired, _ = signer.issue("alice", access, -10)
    assert signer.verify(expired) is None
    assert signer.verify("garbage") is None


def test_passwords():
    encoded = hash_password("s3cret")
    assert encoded.startswith("scrypt$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("wrong", encoded)
    assert not verify_password("s3cret", "plain$text")
    assert hash_password("s3cret") != encoded  # salted


def test_rank():
    items = [
        RepoSummary("library/ubuntu", "Ubuntu", True, False, 1),
        RepoSummary("x/ubuntu-extra", "more", False, False, 9),
        RepoSummary("y/tools", "for ubuntu users", False, False, 3),
        RepoSummary("z/other", "nothing", False, False, 50),
    ]
    assert [i.display_name for i in rank(items, "ubuntu")] == [
        "ubuntu",
        "x/ubuntu-extra",
        "y/tools",
    ]
    assert [i.display_name for i in rank(items, "")][0] == "z/other"
    assert rank(items, "ubuntu users")[0].name == "y/tools"


def test_names_and_digests():
    assert check_name("a/b-c/d_e.f") == "a/b-c/d_e.f"
    for bad in ("A", "a//b", "-a", "a/", "a" * 256):
        with pytest.raises(RegistryError) as caught:
            check_name(bad)
        assert caught.value.code == "NAME_INVALID" and caught.value.status == 400
    assert check_tag("v1.0_rc-2") == "v1.0_rc-2"
    with pytest.raises(RegistryError):
        check_tag(".hidden")
    with pytest.raises(RegistryError) as caught:
        parse_digest("sha256:abc")
    assert caught.value.code == "DIGEST_INVALID"
    assert str(parse_digest("sha512:" + "a" * 128)) == "sha512:" + "a" * 128


def test_error_body_matches_cncf():
    body = error_body([RegistryError("DIGEST_INVALID")])
    assert body == (
        b'{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match '
        b'uploaded content"}]}\n'
    )


def test_filesystem_driver(tmp_path):
    driver = FilesystemDriver(str(tmp_path))
    with driver.writer("a/b/data") as writer:
        writer.writev([b"one", memoryview(b"two"), bytearray(b"three")])
        assert writer.size == 11
    writer = driver.writer("a/b/data", append=True)
    writer.write(b"!")
    writer.commit()
    assert driver.get("a/b/data") == b"onetwothree!"
    assert driver.read_range("a/b/data", 3, 3) == b"two"
    assert driver.stat("a/b/data").size == 12
    assert driver.stat("missing") is None
    driver.put("a/c", b"x")
    assert driver.list("a") == ["b", "c"]
    assert sorted(i.path for i in driver.walk("a")) == ["a/b/data", "a/c"]
    driver.move("a/c", "d/e")
    assert driver.get("d/e") == b"x" and driver.stat("a/c") is None
    driver.delete("a")
    assert driver.list("a") == [] and driver.list("nowhere") == []
    driver.delete("a")  # absent: no error
    with pytest.raises(ValueError):
        driver.get("../etc/passwd")
    cancelled = driver.writer("f/data")
    cancelled.write(b"partial")
    cancelled.cancel()
    assert driver.stat("f/data") is None
    assert time.time() - driver.stat("d/e").mtime < 60


def test_client_address_through_trusted_proxies():
    from aiohttp.test_utils import make_mocked_request

    from dockyard.errors import InvalidArgument
    from dockyard.registry.clientaddr import ClientAddress, parse_proxies

    def request(peer: str, forwarded: str | None = None):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        transport = type("Transport", (), {"get_extra_info": lambda self, name: (peer, 1234)})()
        return make_mocked_request("GET", "/v2/", headers=headers, transport=transport)

    untrusting = ClientAddress("")
    assert untrusting.of(request("10.0.0.5", "203.0.113.7")) == "10.0.0.5"
    balancers = ClientAddress("10.0.0.0/24, 127.0.0.1")
    # from a balancer: the right-most address that is not a balancer
    assert balancers.of(request("10.0.0.5", "203.0.113.7")) == "203.0.113.7"
    assert balancers.of(request("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.0.0.9")) == "203.0.113.7"
    # a forged header from a stranger is ignored; a balancer without the header is the client
    assert balancers.of(request("192.0.2.1", "203.0.113.7")) == "192.0.2.1"
    assert balancers.of(request("10.0.0.5")) == "10.0.0.5"
    # garbage in the chain stops the walk at the last good address
    assert balancers.of(request("10.0.0.5", "junk, 10.0.0.8")) == "10.0.0.8"
    with pytest.raises(InvalidArgument):
        parse_proxies("10.0.0.0/33")
