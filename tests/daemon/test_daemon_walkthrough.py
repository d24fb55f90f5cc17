"""The tutorial walk-through through the real docker CLI against dockyard's daemon,
compared line by line with the transcript of real Docker 20.10
(/work/shared/reference/docker-walkthrough.txt), IDs, times and sizes masked.

Every step of the transcript is run in order in one store. Steps whose output
depends on the machine that recorded it (versions, Docker Hub through a dead
proxy, Docker's own temp paths) or that differ from Docker 20.10 by design
(the Docker 25+ save layout with an OCI index) are compared on their exit code
only; the list below says why for each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemon.support import DOCKER, Daemon, have_docker_cli, have_runtime, import_base_images

TRANSCRIPT = Path(
    os.environ.get("DOCKYARD_REFERENCE", "/work/shared/reference/docker-walkthrough.txt")
)
INSPECT_DIR = TRANSCRIPT.parent / "inspect"

pytestmark = [
    pytest.mark.skipif(not TRANSCRIPT.exists(), reason="reference transcript not present"),
    pytest.mark.skipif(not have_docker_cli(), reason="needs the docker CLI"),
    pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime"),
]

RC_ONLY = {
    1: "client and engine versions of the recording machine",
    2: "facts of the recording machine (kernel, memory, plugins, proxies)",
    3: "Docker Hub through the recording's dead proxy",
    86: "the base image's files and timestamps are built on each machine",
    155: "Docker 20.10's own temp directory in the message",
    156: "Docker 20.10's own temp directory in the message",
    159: "Docker 20.10's own temp directory in the message",
    174: "Docker Hub through the recording's dead proxy",
    176: "Docker Hub through the recording's dead proxy",
}
SAVE_LAYOUT = "dockyard writes the Docker 25+ layout (OCI index + manifest.json), by design"
for _step in (53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 69, 70, 71, 73, 74, 75):
    RC_ONLY[_step] = SAVE_LAYOUT
RC_ONLY[57] = RC_ONLY[58] = SAVE_LAYOUT + " (index.json and oci-layout exist)"
SKIP = {
    168: "which image IDs share a first character is particular to the recording",
    169: "which image IDs share a first character is particular to the recording",
    170: "which image IDs share a first character is particular to the recording",
    171: "which image IDs share a first character is particular to the recording",
}
for _step in (57, 58, 59, 60, 61):
    SKIP[_step] = SAVE_LAYOUT + " (index.json and oci-layout, no <id>/json, <id>/VERSION)"
# Steps of the recording's set-up that the transcript does not show.
HIDDEN_SETUP = {
    # an image whose ID begins with "f" for the ambiguous-prefix steps; its prune output
    # (an image and the layer of /first) shows it was a commit of commit_test
    168: ["docker commit commit_test filler:1 >/dev/null"],
}
# Checked by their own functions below: a terminal session (tmux in the recording).
CUSTOM = {79, 189}
# Docker lists a container's changes in the order it walks the tree, which varies.
SORTED = {7, 11, 138, 139, 190, 194}
# Differences that lie below the daemon (engine, containers, layer codec): reported by the
# test, not failed on; each names its owner. The daemon passes these through unchanged.
KNOWN: dict[int, str] = {
    26: "lead (import): Docker's import gives Config.Env the default PATH",
    27: "lead (import): Config.Env PATH is inherited from the imported base image",
    28: "lead (import): Config.Env PATH is inherited from the imported base image",
}
# Where the transcript's inspect JSON was saved: compared by the shape of the document.
INSPECT_FILES = {
    20: "debian_bookworm.json",
    21: "commit_test_first.json",
    22: "commit_test_second.json",
    23: "busybox_latest.json",
    24: "container_commit_test.json",
    25: "container_commit_test2.json",
    94: "exported_latest.json",
}


@dataclass
class Step:
    number: int
    title: str
    command: str
    stdout: str | None  # None: saved elsewhere
    stderr: str
    rc: int
    pty: bool


def parse_transcript(text: str) -> list[Step]:
    steps: list[Step] = []
    blocks = re.split(r"^=== \[(\d+)\] ", text, flags=re.M)
    for index in range(1, len(blocks), 2):
        number = int(blocks[index])
        body = blocks[index + 1]
        title, _, rest = body.partition("\n")
        command_part, _, rest = rest.partition("\n--- stdout")
        command = command_part.strip()
        if command.startswith("$ "):
            command = command[2:]
        header, _, rest = rest.partition("\n")
        stdout_part, _, rest = rest.partition("--- stderr ---\n")
        stderr_part, _, rest = rest.partition("--- rc=")
        rc = int(rest.split()[0])
        stdout: str | None
        if header.startswith(":"):
            stdout = None
        else:
            stdout = stdout_part
            marker = "[no newline at end of stdout]\n"
            if stdout.endswith(marker):
                stdout = stdout[: -len(marker)].removesuffix("\n")
        steps.append(Step(number, title, command, stdout, stderr_part, rc, "under a pty" in title))
    return steps


MASKS = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<DIGEST>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<ID64>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<ID>"),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( \+0000 UTC|Z)?"),
        "<DATE>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b"), "<DATE>"),  # `tar tv`: no seconds
    (
        re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d+ +(\d\d:\d\d|\d{4})"),
        "<DATE>",
    ),
    (
        re.compile(
            r"(Less than a second|About a minute|About an hour|an hour|a minute|"
            r"\d+ (second|minute|hour|day|week|month|year)s?)( ago)?"
        ),
        "<TIME>",
    ),
    (re.compile(r"\b\d+(\.\d+)?(B|kB|MB|GB|TB)\b"), "<SIZE>"),
    (re.compile(r"\(\d+%\)"), "(<PCT>)"),
    (re.compile(r"\b\d{5,}\b"), "<N>"),
    (re.compile(r"docker-import-\d+"), "docker-import-<N>"),
    (re.compile(r"DockerVersion=\S+"), "DockerVersion=<VERSION>"),
]
ID_TOKEN = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{12})(?![0-9a-f])")
PREFIX_TOKEN = re.compile(r"(?<![0-9a-zA-Z_.:/-])[0-9a-f]{4,11}(?![0-9a-zA-Z_.:/-])")


class IdMap:
    """The recording's IDs -> this run's IDs, learned from outputs that match once masked."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def learn(self, reference: str, ours: str) -> None:
        theirs, mine = ID_TOKEN.findall(reference), ID_TOKEN.findall(ours)
        if len(theirs) != len(mine):
            return
        for ref, our in zip(theirs, mine, strict=False):
            if len(ref) != len(our):
                return
        for ref, our in zip(theirs, mine, strict=False):
            self.ids.setdefault(ref, our)
            self.ids.setdefault(ref[:12], our[:12])

    def substitute(self, command: str) -> str:
        command = ID_TOKEN.sub(lambda m: self.ids.get(m.group(0), m.group(0)), command)

        def prefix(match: re.Match[str]) -> str:
            text = match.group(0)
            owners = {
                our for ref, our in self.ids.items() if len(ref) == 64 and ref.startswith(text)
            }
            return next(iter(owners))[: len(text)] if len(owners) == 1 else text

        return PREFIX_TOKEN.sub(prefix, command)


def mask(text: str) -> list[str]:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    lines = [re.sub(r"[ \t]+", " ", line).rstrip() for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def run_step(daemon: Daemon, step: Step, cwd: Path) -> tuple[str, str, int]:
    env = daemon.env(PATH=f"{Path(DOCKER).parent}:{os.environ.get('PATH', '')}")
    if step.pty:
        from tests.daemon.support import run_on_pty

        output, code = run_on_pty(["bash", "-c", step.command], [], env, cwd=cwd, timeout=60)
        text = output.decode(errors="replace").replace("\r", "<CR>").replace("\x1b", "<ESC>")
        return text, "", code
    process = subprocess.run(
        ["bash", "-c", step.command],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
    )
    return (
        process.stdout.decode(errors="replace"),
        process.stderr.decode(errors="replace"),
        process.returncode,
    )


ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _screen_text(output: bytes) -> str:
    return ESCAPES.sub("", output.decode(errors="replace")).replace("\r", "")


def check_load_on_a_terminal(daemon: Daemon, step: Step, work: Path, known: list[str]) -> list[str]:
    """[79] docker load on a terminal: per-layer "Loading layer" bars and the result lines."""
    from tests.daemon.support import run_on_pty

    output, code = run_on_pty(
        ["bash", "-c", step.command], [], daemon.env(), cwd=work, timeout=120, size=(50, 200)
    )
    text = _screen_text(output)
    problems = []
    if code != 0:
        problems.append(f"[79] rc {code}: {text!r}")
    for needed in ("Loaded image: debian:bookworm", "Loaded image: busybox:latest"):
        if needed not in text:
            problems.append(f"[79] {needed!r} missing from {text!r}")
    if not re.search(r"[0-9a-f]{12}: Loading layer \[=+>\s*\]", text):
        problems.append(f"[79] no 'Loading layer' progress bar in {text!r}")
    if not problems and text.index("Loaded image: debian") > text.index("Loading layer"):
        known.append(
            "[79] lead (load): 'Loaded image' lines come at the end (Docker prints each"
            " image's line once its layers are in)"
        )
    return problems


def check_interactive_session(daemon: Daemon, work: Path) -> list[str]:
    """[189] the tmux session: run -i -t, start -ai, detach with ^P^Q, attach, exit 7."""
    from tests.daemon.support import run_on_pty

    env = daemon.env()
    problems = []
    output, code = run_on_pty(
        ["docker", "run", "-i", "-t", "--network", "none", "--name", "it_test", "debian:bookworm"],
        [
            ("# ", b"echo first_test! >> first\r"),
            ("# ", b"cat first; tty; echo $0\r"),
            (0.3, b"exit\r"),
        ],
        env,
        cwd=work,
    )
    text = _screen_text(output)
    if code != 0 or "first_test!\n/dev/pts/0\nbash\n" not in text or "exit\n" not in text:
        problems.append(f"[189] run -i -t: rc={code} {text!r}")
    output, code = run_on_pty(
        ["docker", "start", "-ai", "it_test"],
        [("# ", b"ls -l first\r"), ("root root 12", b"\x10\x11")],
        env,
        cwd=work,
    )
    text = _screen_text(output)
    if code != 0 or not re.search(r"-rw-r--r-- 1 root root 12 \w+ +\d+ \d\d:\d\d first", text):
        problems.append(f"[189] start -ai + detach: rc={code} {text!r}")
    status = daemon.docker("ps", "--format", "{{.Names}} {{.Status}}", check=False).stdout
    if not re.search(r"^it_test Up ", status, re.M):
        problems.append(f"[189] after detach: {status!r}")
    output, code = run_on_pty(["docker", "attach", "it_test"], [(1.0, b"exit 7\r")], env, cwd=work)
    if code != 7:
        problems.append(f"[189] attach: rc={code} {_screen_text(output)!r}")
    return problems


def shape(value: object, depth: int = 0) -> object:
    """The keys of a JSON document, two levels deep (values vary by machine)."""
    if isinstance(value, dict):
        if depth >= 2:
            return "{}"
        return {key: shape(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0], depth + 1)] if value and isinstance(value[0], dict) else "[]"
    return type(value).__name__ if value is not None else "null"


def _keys(value: object, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(prefix + key)
            if prefix.count(".") < 1:
                found |= _keys(item, prefix + key + ".")
    return found


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path, debian_tar: Path):
    base = tmp_path_factory.mktemp("walkthrough")
    daemon = Daemon(base / "daemon").start()
    work = base / "work"
    work.mkdir()
    (work / "notatar.txt").write_text("this is not a tar archive\n")
    (work / "empty").write_bytes(b"")
    (work / "garbage.bin").write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4096)))
    import_base_images(daemon, busybox_tar, debian_tar)
    yield daemon, work
    for line in daemon.docker("ps", "-aq", check=False).stdout.split():
        daemon.docker("rm", "-f", line, check=False)
    daemon.stop()


def test_walkthrough_line_by_line(walk) -> None:  # type: ignore[no-untyped-def]
    daemon, work = walk
    steps = parse_transcript(TRANSCRIPT.read_text())
    assert len(steps) > 150
    problems: list[str] = []
    known: list[str] = []
    ids = IdMap()
    for step in steps:
        for command in HIDDEN_SETUP.get(step.number, []):
            result = run_step(daemon, Step(0, "set-up", command, "", "", 0, False), work)
            if result[2] != 0:
                problems.append(f"set-up before [{step.number}] {command}: {result}")
        if step.number in SKIP:
            continue
        step.command = ids.substitute(step.command)
        if step.number == 79:
            problems += check_load_on_a_terminal(daemon, step, work, known)
            continue
        if step.number == 189:
            problems += check_interactive_session(daemon, work)
            continue
        stdout, stderr, rc = run_step(daemon, step, work)
        if os.environ.get("DOCKYARD_WALK_TRACE"):
            with open(os.environ["DOCKYARD_WALK_TRACE"], "a") as trace:
                listing = daemon.docker("images", "-a", check=False).stdout
                trace.write(f"[{step.number}] {step.command}\n{stdout}{stderr}{listing}\n")
        where = f"[{step.number}] {step.command}"
        if rc != step.rc:
            problems.append(
                f"{where}\n  rc {rc} != {step.rc}\n  stdout={stdout!r}\n  stderr={stderr!r}"
            )
            continue
        if step.number in RC_ONLY:
            continue
        if step.number in INSPECT_FILES:
            reference = json.loads((INSPECT_DIR / INSPECT_FILES[step.number]).read_text())
            ours = json.loads(stdout)
            missing = _keys(reference[0]) - _keys(ours[0])
            if missing:
                problems.append(f"{where}\n  inspect lacks keys {sorted(missing)}")
            continue
        if step.stdout is None:
            continue
        for name, got, want in (("stdout", stdout, step.stdout), ("stderr", stderr, step.stderr)):
            got_lines, want_lines = mask(got), mask(want)
            if got_lines == want_lines:
                ids.learn(want, got)  # same lines in the same order: the IDs correspond
                continue
            if step.number in SORTED or "docker images" in step.command:
                # the docker CLI lists the names of one image in map order (random)
                if sorted(got_lines) == sorted(want_lines):
                    continue
            report = problems if step.number not in KNOWN else known
            report.append(
                f"{where}\n  {name} differs:\n    got:  "
                + "\n          ".join(got_lines)
                + "\n    want: "
                + "\n          ".join(want_lines)
            )
    if known:
        import warnings

        warnings.warn(
            f"{len(known)} known differences below the daemon:\n" + "\n".join(known), stacklevel=1
        )
    assert not problems, f"{len(problems)} steps differ:\n" + "\n".join(problems)


def test_masking_keeps_what_matters() -> None:
    assert mask("commit_test   first      e8b048e7f9e4   Less than a second ago   117MB\n") == [
        "commit_test first <ID> <TIME> <SIZE>"
    ]
    assert mask("Exited (7) 4 seconds ago") == ["Exited (7) <TIME>"]
    steps = parse_transcript(TRANSCRIPT.read_text())
    by_number = {step.number: step for step in steps}
    assert by_number[133].stdout.endswith("[y/N] ")
    assert by_number[20].stdout is None
    assert by_number[82].pty and by_number[82].rc == 1


if __name__ == "__main__":  # print the parsed steps
    for item in parse_transcript(TRANSCRIPT.read_text()):
        sys.stdout.write(f"[{item.number}] rc={item.rc} pty={item.pty} {item.command[:60]!r}\n")
