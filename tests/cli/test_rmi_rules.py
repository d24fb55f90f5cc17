"""rmi follows Docker's rules line for line (reference transcript steps 40-50, 104-130)."""

from __future__ import annotations

import re

import pytest

from dockyard.digest import Digest
from tests.cli.imagefactory import child_image

ID = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture
def base(engine, busybox_tar):  # type: ignore[no-untyped-def]
    return engine.images.import_(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_parent_child_untag_then_delete_chain(engine, cli, base) -> None:  # type: ignore[no-untyped-def]
    first = child_image(engine, "busybox", {"first": b"first_test!\n"}, "commit_test:first")
    second = child_image(
        engine, "commit_test:first", {"second": b"second!\n"}, "commit_test:second"
    )
    first_chain = engine.store.image(first).top_chain
    second_chain = engine.store.image(second).top_chain

    # [41]/[42]: by ID, a parent with a child is a hard conflict, with or without -f
    for flags in ((), ("-f",)):
        result = cli("rmi", *flags, first.short, check=False)
        assert result.returncode == 1
        assert result.stderr == (
            f"Error: conflict: unable to delete {first.short} (cannot be forced)"
            " - image has dependent child images\n"
        )
    # [44]: by tag, untag only because a child exists
    assert cli("rmi", "commit_test:first").stdout == "Untagged: commit_test:first\n"
    # [45]/[46]: the untagged parent is hidden unless -a
    assert first.short not in cli("images").stdout
    all_rows = cli("images", "-a").stdout
    assert re.search(rf"^<none>\s+<none>\s+{first.short}\s", all_rows, re.M)
    # [48]
    assert cli(
        "image", "inspect", "-f", "{{.Id}} RepoTags={{json .RepoTags}}", first.short
    ).stdout == (f"{first} RepoTags=[]\n")
    # [49]: the child goes, with its layer, then the untagged parent and its layer
    assert lines(cli("rmi", "commit_test:second").stdout) == [
        "Untagged: commit_test:second",
        f"Deleted: {second}",
        f"Deleted: {second_chain}",
        f"Deleted: {first}",
        f"Deleted: {first_chain}",
    ]
    assert lines(cli("images", "-a", "--format", "{{.Repository}}:{{.Tag}}").stdout) == [
        "busybox:latest"
    ]
    assert not engine.store.layers_dir.joinpath(second_chain.hex[:20]).exists()
    assert not engine.store.blobs.exists(second)


def test_untag_one_of_several_and_latest_default(engine, cli, base) -> None:  # type: ignore[no-untyped-def]
    cli("tag", "busybox:latest", "mybusybox:v1")
    cli("tag", "busybox:latest", "mybusybox")
    cli("tag", base.short, "someuser/busybox:12")
    # [104]/[105]
    assert cli("rmi", "mybusybox:v1").stdout == "Untagged: mybusybox:v1\n"
    assert cli("rmi", "mybusybox").stdout == "Untagged: mybusybox:latest\n"
    # [107]: by ID while referenced in two repositories
    result = cli("rmi", base.short, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: conflict: unable to delete {base.short} (must be forced)"
        " - image is referenced in multiple repositories\n"
    )
    # [128]: -f by ID untags all, sorted, then deletes
    layer = engine.store.image(base).top_chain
    assert lines(cli("rmi", "-f", base.short).stdout) == [
        "Untagged: busybox:latest",
        "Untagged: someuser/busybox:12",
        f"Deleted: {base}",
        f"Deleted: {layer}",
    ]


def test_missing_and_multiple_arguments(engine, cli, base) -> None:  # type: ignore[no-untyped-def]
    cli("tag", "busybox:latest", "tmp:1")
    result = cli("rmi", "tmp:1", "nosuchimage:latest", check=False)
    assert (result.returncode, result.stdout) == (1, "Untagged: tmp:1\n")
    assert result.stderr == "Error: No such image: nosuchimage:latest\n"
    for name, shown in (
        ("nosuchimage", "nosuchimage:latest"),
        ("nosuchimage:v1", "nosuchimage:v1"),
        ("sha256:" + "0" * 64, "sha256:" + "0" * 64),
    ):
        result = cli("rmi", name, check=False)
        assert (result.returncode, result.stderr) == (1, f"Error: No such image: {shown}\n")


def test_ambiguous_and_unique_id_prefixes(engine, cli, base) -> None:  # type: ignore[no-untyped-def]
    ids = [base] + [child_image(engine, "busybox", {f"f{i}": b"x" * i}) for i in range(12)]
    by_first: dict[str, list[Digest]] = {}
    for image_id in ids:
        by_first.setdefault(image_id.hex[0], []).append(image_id)
    shared = next((c for c, members in by_first.items() if len(members) > 1), None)
    unique = next(c for c, members in by_first.items() if len(members) == 1)
    if shared is not None:  # [169]: an ambiguous prefix is read as a name
        result = cli("rmi", shared, check=False)
        assert result.stderr == f"Error: No such image: {shared}:latest\n"
    # [171]: a unique one-character prefix finds the image
    assert cli("image", "inspect", "-f", "{{.Id}}", unique).stdout == f"{by_first[unique][0]}\n"


def test_no_prune_keeps_untagged_parent(engine, cli, base) -> None:  # type: ignore[no-untyped-def]
    parent = child_image(engine, "busybox", {"np": b""}, "np:parent")
    child = child_image(engine, "np:parent", {"np2": b""}, "np:child")
    child_chain = engine.store.image(child).top_chain
    assert cli("rmi", "np:parent").stdout == "Untagged: np:parent\n"
    # [130]
    assert lines(cli("rmi", "--no-prune", "np:child").stdout) == [
        "Untagged: np:child",
        f"Deleted: {child}",
        f"Deleted: {child_chain}",
    ]
    assert re.search(rf"^<none>\s+<none>\s+{parent.short}\s", cli("images", "-a").stdout, re.M)


def test_containers_block_removal(engine, cli, base) -> None:  # type: ignore[no-untyped-def]
    child = child_image(engine, "busybox", {"c": b"c\n"}, "rmitest:child")
    cid = "c125553c0465" + "0" * 52
    engine.store.add_container(cid, "stopped", child, "rmitest:child")
    # [40]: by tag, the last reference, a container uses it
    result = cli("rmi", "rmitest:child", check=False)
    assert result.stderr == (
        'Error: conflict: unable to remove repository reference "rmitest:child" (must force)'
        f" - container {cid[:12]} is using its referenced image {child.short}\n"
    )
    # [121]: by ID, a stopped container is a soft conflict
    result = cli("rmi", child.short, check=False)
    assert result.stderr == (
        f"Error: conflict: unable to delete {child.short} (must be forced)"
        f" - image is being used by stopped container {cid[:12]}\n"
    )
    # [122]: forced, the image goes but the container keeps its layers
    out = lines(cli("rmi", "-f", child.short).stdout)
    assert out == ["Untagged: rmitest:child", f"Deleted: {child}"]
    chain = [
        layer.dir
        for layer in engine.store.layer_chain(
            engine.store.db.execute(
                "SELECT top_chain FROM containers WHERE id = ?", (cid,)
            ).fetchone()[0]
            and Digest.parse(
                engine.store.db.execute(
                    "SELECT top_chain FROM containers WHERE id = ?", (cid,)
                ).fetchone()[0]
            )
        )
    ]
    assert all(directory.is_dir() for directory in chain) and len(chain) == 2
    released = engine.store.remove_container(cid)
    assert [layer.chain_id for layer in released][0] != str(base)
    assert len(released) == 1
    assert not chain[1].exists() and chain[0].is_dir()
