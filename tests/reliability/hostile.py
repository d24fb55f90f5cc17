"""Hostile input beyond import/load: a lying registry for `pull`, `cp` escapes, and the
registry's upload, manifest and listing endpoints.

    .venv/bin/python -m tests.reliability.hostile --full

Each case must be refused (a CLI: exit code 1 and one line on stderr, no traceback; the
registry: a 4xx answer, never a 5xx) with the store (or the registry's storage)
unchanged and nothing written outside it. The import/load cases live in
tests/places/test_hostile_store.py, tests/layers/test_layers_hostile.py and tests/places/test_docker_archive.py.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .harness import copy_tree, remove_tree, run
from .scenarios import BUSYBOX
from .storestate import read_state


@dataclass
class Verdict:
    area: str
    case: str
    problems: list[str] = field(default_factory=list)


def store_snapshot(root: Path) -> tuple:
    """What a refused command must not change: references, images, layers, blobs."""
    state = read_state(root, with_trees=False)
    files = []
    for top in ("blobs", "layers"):
        for path in sorted((root / top).rglob("*")):
            info = path.lstat()
            content = ""
            if path.is_file() and not path.is_symlink() and top == "blobs":
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            files.append((str(path.relative_to(root)), info.st_mode, info.st_size, content))
    return (sorted(state.refs.items()), sorted(state.images), sorted(state.layers), files)


def marks_outside(places: list[Path], mark: str) -> list[str]:
    found = []
    for place in places:
        for directory, dirs, files in os.walk(place):
            found += [os.path.join(directory, n) for n in dirs + files if mark in n]
    return found


def one_clear_line(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    if "Traceback" in stderr:
        return [f"traceback: {stderr[-600:]}"]
    if len(lines) != 1:
        return [f"stderr has {len(lines)} lines: {stderr[-600:]!r}"]
    if "internal error" in stderr:
        return [f"not a clear error: {stderr.strip()[-300:]!r}"]
    return []


def run_pull_cases(directory: Path, names: list[str] | None = None) -> list[Verdict]:
    from .hostile_pull import CASES, MARK
    from .lyingregistry import LyingRegistry

    base = directory / "base"
    outcome = run(base, "import", str(BUSYBOX), "bb:base")
    assert outcome.ok, outcome.line()
    registry = LyingRegistry()
    verdicts = []
    try:
        for case in CASES:
            if names and case.name not in names:
                continue
            place = directory / case.name
            place.mkdir()
            root = place / "store"
            copy_tree(base, root)
            outside = place / "outside"
            outside.mkdir()
            (outside / "sentinel").write_text("keep\n")
            verdict = Verdict("pull", case.name)
            routes, args = case.build(outside)
            registry.serve(routes)
            before = store_snapshot(root)
            result = run(root, "pull", *[a.replace("{host}", registry.host) for a in args])
            if result.ok and not case.harmless:
                verdict.problems.append(f"pull succeeded: {result.stdout[-300:]!r}")
            if not result.ok:
                verdict.problems += one_clear_line(result.stderr)
                if store_snapshot(root) != before:
                    verdict.problems.append("the store changed")
            state = read_state(root, with_trees=False)
            verdict.problems += [f"visible: {p}" for p in state.visible_problems]
            inside_layers = str(root / "layers") + os.sep
            escaped = [p for p in marks_outside([place], MARK) if not p.startswith(inside_layers)]
            verdict.problems += [f"escaped: {p}" for p in escaped]
            if sorted(os.listdir(outside)) != ["sentinel"]:
                verdict.problems.append(f"outside changed: {os.listdir(outside)}")
            if verdict.problems:
                verdict.problems.append(f"stderr: {result.stderr.strip()[-300:]}")
            else:
                remove_tree(place)
            verdicts.append(verdict)
    finally:
        registry.close()
    return verdicts


def run_registry_cases(directory: Path, names: list[str] | None = None) -> list[Verdict]:
    from .hostile_registry import CASES, request, storage_snapshot
    from .registryfixture import seeded_registry

    registry = seeded_registry(directory / "registry")
    verdicts = []
    try:
        for case in CASES:
            if names and case.name not in names:
                continue
            verdict = Verdict("registry", case.name)
            before = storage_snapshot(registry.storage)
            try:
                answer = case.send(registry.host)
            except Exception as error:  # noqa: BLE001 - the server hung up or timed out
                verdict.problems.append(f"no answer: {error!r}")
            else:
                if not (400 <= answer.status < 500 or answer.status in case.allowed):
                    verdict.problems.append(f"status {answer.status}: {answer.body[:300]!r}")
            if not case.stores and storage_snapshot(registry.storage) != before:
                verdict.problems.append("the storage changed")
            if registry.process.poll() is not None:
                verdict.problems.append("the registry died")
                verdicts.append(verdict)
                break
            if request(registry.host, "GET", "/v2/").status != 200:
                verdict.problems.append("the registry no longer answers")
            verdicts.append(verdict)
    finally:
        registry.stop()
    return verdicts


def run_cp_cases(directory: Path, names: list[str] | None = None) -> list[Verdict]:
    from .hostile_cp import CASES, SECRET, container_setup, leaked, make_sources

    root = directory / "store"
    outside = directory / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("keep\n")
    (outside / "secret").write_bytes(SECRET)
    src = directory / "src"
    make_sources(src)
    for args in (
        ["import", str(BUSYBOX), "bb:base"],
        ["run", "--name", "cpc", "bb:base", "sh", "-c", container_setup(outside)],
    ):
        outcome = run(root, *args)
        assert outcome.ok, outcome.line()
    verdicts = []
    for case in CASES:
        if names and case.name not in names:
            continue
        verdict = Verdict("cp", case.name)
        dest = directory / "dest" / case.name
        dest.mkdir(parents=True)
        args = [
            a.replace("{outside}", str(outside)).replace("{src}", str(src))
            .replace("{dest}", str(dest))
            for a in case.args
        ]  # fmt: skip
        result = run(root, "cp", *args)
        if not result.ok:
            verdict.problems += one_clear_line(result.stderr)
        if sorted(os.listdir(outside)) != ["secret", "sentinel"]:
            verdict.problems.append(f"outside changed: {sorted(os.listdir(outside))}")
        if (outside / "sentinel").read_text() != "keep\n":
            verdict.problems.append("the host's sentinel was overwritten")
        if (outside / "secret").read_bytes() != SECRET:
            verdict.problems.append("the host's secret was overwritten")
        verdict.problems += [f"host file handed over: {p}" for p in leaked(dest)]
        if verdict.problems:
            verdict.problems.append(
                f"rc={result.returncode} stderr: {result.stderr.strip()[-300:]}"
            )
        verdicts.append(verdict)
    run(root, "rm", "-f", "cpc")
    return verdicts


REFERENCE_CASES = {
    "pull-uppercase": ["pull", "127.0.0.1:1/Evil/Name:1"],
    "pull-three-colons": ["pull", "a:b:c:d"],
    "pull-300-char-name": ["pull", "a" * 300],
    "pull-dotdot": ["pull", "127.0.0.1:1/../../x:1"],
    "pull-bad-digest": ["pull", "busybox@sha256:xyz"],
    "tag-leading-dash": ["tag", "bb:base", "--", "-x"],
    "tag-129-char-tag": ["tag", "bb:base", "x:" + "t" * 129],
    "tag-with-digest": ["tag", "bb:base", f"x@sha256:{'0' * 64}"],
    "push-no-such-image": ["push", "127.0.0.1:1/nothere:1"],
    "save-invalid-name": ["save", "-o", "/dev/null", "UPPER:case"],
    "rmi-empty": ["rmi", ""],
    "import-digest-tag": ["import", str(BUSYBOX), f"x@sha256:{'0' * 64}"],
}


def run_reference_cases(directory: Path, names: list[str] | None = None) -> list[Verdict]:
    root = directory / "store"
    assert run(root, "import", str(BUSYBOX), "bb:base").ok
    verdicts = []
    for name, args in REFERENCE_CASES.items():
        if names and name not in names:
            continue
        verdict = Verdict("reference", name)
        before = store_snapshot(root)
        result = run(root, *args)
        if result.ok:
            verdict.problems.append("accepted")
        else:
            verdict.problems += one_clear_line(result.stderr)
        if store_snapshot(root) != before:
            verdict.problems.append("the store changed")
        if verdict.problems:
            verdict.problems.append(f"stderr: {result.stderr.strip()[-300:]}")
        verdicts.append(verdict)
    return verdicts


AREAS = {
    "reference": run_reference_cases,
    "cp": run_cp_cases,
    "pull": run_pull_cases,
    "registry": run_registry_cases,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="every area, every case")
    parser.add_argument("--area", action="append", choices=sorted(AREAS))
    parser.add_argument("--case", action="append", help="only these cases")
    parser.add_argument("--dir", help="work directory (kept)")
    args = parser.parse_args(argv)
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="dockyard-hostile-"))
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    verdicts: list[Verdict] = []
    for area in args.area or sorted(AREAS):
        place = directory / area
        place.mkdir()
        verdicts += AREAS[area](place, args.case)
    failed = [v for v in verdicts if v.problems]
    for verdict in verdicts:
        print(f"{'FAIL' if verdict.problems else 'ok':4} {verdict.area:9} {verdict.case}")
        for problem in verdict.problems:
            print(f"     {problem}")
    print(
        f"hostile: {len(verdicts)} cases, {len(verdicts) - len(failed)} refused cleanly,"
        f" {len(failed)} failed; {time.monotonic() - started:.0f} s"
    )
    if not args.dir and not failed:
        remove_tree(directory)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
