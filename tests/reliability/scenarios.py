"""The operations the crash harness interrupts, each on a prepared store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard import reference
from dockyard.devtools.baseimages import ensure_base_image

from .artifacts import ArchiveImage, docker_archive, random_tree, sha256
from .harness import run
from .storestate import StoreState

BUSYBOX = ensure_base_image("busybox")  # the cached rootfs tar (built if missing)


def full(name: str) -> str:
    return str(reference.parse(name).with_default_tag())


# Images of the base store (p:1, p:2 share K1; K2 is gzip in the archive) and of the inputs.
K1, K2 = random_tree(1, files=30), random_tree(2, files=30, top="more")
BASE_IMAGES = [ArchiveImage([K1], ["p:1"]), ArchiveImage([K1, K2], ["p:2"], gzip_top=True)]
L1, L2, L3, L4, L5 = (random_tree(n, files=40, top=f"l{n}") for n in (11, 12, 13, 14, 15))
LOAD_IMAGES = [
    ArchiveImage([L1, L2], ["a:1"]),
    ArchiveImage([L1, L2, L3], ["b:1", "b:latest"], gzip_top=True),
    ArchiveImage([L1, L4], [], comment="untagged"),
    ArchiveImage([K1, L5], ["p:1"]),  # moves p:1 to a new image
]
DANGLING = [ArchiveImage([L4], [], comment="e"), ArchiveImage([L4, L5], [], comment="f")]


@dataclass
class Scenario:
    name: str
    args: list[str]  # the interrupted command; {work} is replaced by the inputs' directory
    prepare: list[list[str]] = field(default_factory=list)  # commands on top of the base store
    may_remove: set[str] = field(default_factory=set)  # references the operation may drop or move
    expect: Callable[[StoreState], list[str]] = lambda state: []
    done_error: str | None = None  # rerun's error when the first run had already finished

    def command(self, work: Path) -> list[str]:
        return [_fill(arg, work) for arg in self.args]


REGISTRY = {"host": ""}  # the registry of the pull and push scenarios (set by the harness)


def _fill(arg: str, work: Path) -> str:
    return arg.replace("{work}", str(work)).replace("{registry}", REGISTRY["host"])


def _has(*names: str) -> Callable[[StoreState], list[str]]:
    return lambda state: [f"{n} missing" for n in names if full(n) not in state.refs]


def _points_to(name: str, image_id: str) -> Callable[[StoreState], list[str]]:
    return lambda state: [] if state.refs.get(full(name)) == image_id else [f"{name} wrong"]


def _absent(*image_ids: str, refs: tuple[str, ...] = ()) -> Callable[[StoreState], list[str]]:
    def check(state: StoreState) -> list[str]:
        wrong = [f"{i} still there" for i in image_ids if i in state.images]
        return wrong + [f"{n} still there" for n in refs if full(n) in state.refs]

    return check


def _all(*checks: Callable[[StoreState], list[str]]) -> Callable[[StoreState], list[str]]:
    return lambda state: [p for check in checks for p in check(state)]


def _committed(state: StoreState) -> list[str]:
    image_id = state.refs.get(full("committed:1"))
    if image_id is None:
        return ["committed:1 missing"]
    base = state.refs[full("bb:base")]
    if len(state.image_chain(image_id)) != len(state.image_chain(base)) + 1:
        return ["committed image does not have one layer more than its parent"]
    return []


SCENARIOS: list[Scenario] = [
    Scenario("import", ["import", "{work}/flat.tar", "imp:1"], expect=_has("imp:1")),
    Scenario(
        "import-retag",
        ["import", "-m", "again", str(BUSYBOX), "bb:base"],
        may_remove={full("bb:base")},
        expect=_has("bb:base"),
    ),
    Scenario(
        "load",
        ["load", "-i", "{work}/load.tar"],
        may_remove={full("p:1")},
        expect=_all(
            _has("a:1", "b:1", "b:latest"),
            _points_to("p:1", LOAD_IMAGES[3].id),
            lambda s: [] if LOAD_IMAGES[2].id in s.images else ["untagged image missing"],
        ),
    ),
    Scenario(
        "tag",
        ["tag", "p:2", "bb:base"],
        may_remove={full("bb:base")},
        expect=_points_to("bb:base", BASE_IMAGES[1].id),
    ),
    Scenario(
        "rmi",
        ["rmi", "p:2"],
        may_remove={full("p:2")},
        expect=_absent(BASE_IMAGES[1].id, refs=("p:2",)),
        done_error="No such image",
    ),
    Scenario(
        "rmi-two",
        ["rmi", "p:2", "p:1"],
        may_remove={full("p:1"), full("p:2")},
        expect=_absent(BASE_IMAGES[0].id, BASE_IMAGES[1].id),
        done_error="No such image",
    ),
    Scenario(
        "prune",
        ["image", "prune", "-f"],
        prepare=[["load", "-i", "{work}/dangling.tar"]],
        expect=_absent(*(image.id for image in DANGLING)),
    ),
    Scenario(
        "commit",
        ["commit", "c1", "committed:1"],
        prepare=[
            [
                "run",
                "--name",
                "c1",
                "bb:base",
                "sh",
                "-c",
                "mkdir /work && head -c 3000000 /dev/urandom > /work/blob && rm /bin/ls",
            ]
        ],
        expect=_committed,
    ),
]


def _pulled(state: StoreState) -> list[str]:
    names = [name for name in state.refs if name.endswith("/lib/img0:1")]
    return [] if names else ["lib/img0:1 was not pulled"]


def _pushed(state: StoreState) -> list[str]:
    """The registry holds the pushed tag with every blob (checked over HTTP)."""
    from .hostile_registry import request

    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    host = REGISTRY["host"]
    answer = request(host, "GET", "/v2/pushed/bb/manifests/1", None, accept)
    if answer.status != 200:
        return [f"pushed manifest: {answer.status}"]
    document = json.loads(answer.body)
    problems = []
    for descriptor in [document["config"], *document["layers"]]:
        blob = request(host, "GET", f"/v2/pushed/bb/blobs/{descriptor['digest']}")
        if blob.status != 200 or sha256(blob.body) != descriptor["digest"]:
            problems.append(f"pushed blob {descriptor['digest']}: {blob.status}")
    return problems


SCENARIOS += [
    Scenario("pull", ["pull", "{registry}/lib/img0:1"], expect=_pulled),
    Scenario(
        "push",
        ["push", "{registry}/pushed/bb:1"],
        prepare=[["tag", "bb:base", "{registry}/pushed/bb:1"]],
        expect=_pushed,
    ),
]


def write_inputs(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "base.tar").write_bytes(docker_archive(BASE_IMAGES))
    (work / "load.tar").write_bytes(docker_archive(LOAD_IMAGES))
    (work / "dangling.tar").write_bytes(docker_archive(DANGLING))
    (work / "flat.tar").write_bytes(random_tree(99, files=150))


def make_base(root: Path, work: Path) -> None:
    for args in (["import", str(BUSYBOX), "bb:base"], ["load", "-i", str(work / "base.tar")]):
        outcome = run(root, *args)
        if not outcome.ok:
            raise RuntimeError(f"preparing the base store: {args}: {outcome.line()}")


def prepare(scenario: Scenario, root: Path, work: Path) -> None:
    for args in scenario.prepare:
        outcome = run(root, *[_fill(a, work) for a in args])
        if not outcome.ok:
            raise RuntimeError(f"preparing {scenario.name}: {args}: {outcome.line()}")
