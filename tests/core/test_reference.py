"""Docker's reference grammar, normalisation and error texts."""

import pytest

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidDigest, InvalidReference


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
        ("someuser/debian:12", "docker.io/someuser/debian:12", "someuser/debian:12"),
        ("127.0.0.1:5000/debian:bookworm", "127.0.0.1:5000/debian:bookworm", None),
        ("localhost/x", "localhost/x", "localhost/x"),
        ("localhost:5000/a/b/c:v1.2-x_y", "localhost:5000/a/b/c:v1.2-x_y", None),
        ("index.docker.io/foo/bar", "docker.io/foo/bar", "foo/bar"),
        ("docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04"),
        ("a__b-c/e.f-g", "docker.io/a__b-c/e.f-g", "a__b-c/e.f-g"),
    ],
)
def test_normalisation(text: str, full: str, familiar: str | None) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == (familiar or text)


def test_default_tag_and_digest() -> None:
    assert str(reference.parse_tagged("ubuntu")) == "docker.io/library/ubuntu:latest"
    hexpart = "a" * 64
    ref = reference.parse(f"ubuntu@sha256:{hexpart}")
    assert ref.tag is None and ref.digest == Digest("sha256", hexpart)
    assert reference.parse_tagged(f"ubuntu@sha256:{hexpart}").tag is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "UPPER:case",
            "invalid reference format: repository name (library/UPPER) must be lowercase",
        ),
        ("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"),
        ("Upper/case", "invalid reference format: repository name must be lowercase"),
        ("bb:bad tag", "invalid reference format"),
        ("", "invalid reference format"),
        ("a/../b", "invalid reference format"),
        ("-leading", "invalid reference format"),
        ("name:" + "t" * 129, "invalid reference format"),
        (
            "f" * 64,
            f"invalid repository name ({'f' * 64}), cannot specify 64-byte hexadecimal strings",
        ),
    ],
)
def test_docker_error_texts(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        reference.parse(text)
    assert str(caught.value) == message


def test_digests() -> None:
    sha512 = "sha512:" + "0" * 128
    assert str(Digest.parse(sha512)) == sha512
    assert Digest.of_bytes(b"").hex.startswith("e3b0c442")
    for bad in (
        "sha256:abc",
        "md5:" + "0" * 32,
        "sha256:" + "G" * 64,
        "nocolon",
        "sha256:" + "A" * 64,
    ):
        with pytest.raises(InvalidDigest):
            Digest.parse(bad)
