"""Dockerfile text -> instructions, with Docker's own parser.

The `dockerfile` package (PyPI) wraps the Go parser Docker's builders use
(moby/buildkit's frontend/dockerfile/parser): directives, line continuations,
comments, JSON and shell forms are split exactly as Docker splits them. What each
instruction's arguments and flags mean is ours (instructions.py). Heredocs, which
Docker 20.10's parser does not know, are refused as it refuses them.
"""

from __future__ import annotations

from dockyard.datarecord import dataclass, field
from dockyard.errors import InvalidArgument

KNOWN = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
}  # fmt: skip


class DockerfileParseError(InvalidArgument):
    """A Dockerfile Docker would refuse before the first step."""


@dataclass
class Instruction:
    name: str  # upper case
    original: str  # the source text as Docker prints it in "Step n/m : ..."
    line: int
    args: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    json: bool = False
    trigger: str = ""  # ONBUILD: the instruction after ONBUILD, as written
    end_line: int = 0


def escape_token(text: str) -> str:
    """The escape character the `# escape=` directive chose (backslash by default)."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        body = stripped[1:].strip()
        key, sep, value = body.partition("=")
        if not sep:
            break
        if key.strip().lower() == "escape":
            value = value.strip()
            if value not in ("\\", "`"):
                raise DockerfileParseError(f"invalid ESCAPE '{value}'. Must be ` or \\")
            return value
    return "\\"


def _error(line: int, message: str) -> DockerfileParseError:
    return DockerfileParseError(f"dockerfile parse error line {line}: {message}")


def parse(text: str, name: str = "Dockerfile") -> list[Instruction]:
    import dockerfile  # only builds need the Go parser

    if not text.strip():
        raise DockerfileParseError(f"the Dockerfile ({name}) cannot be empty")
    escape = escape_token(text)
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as error:
        message = str(error)
        if message == "file with no instructions":
            raise DockerfileParseError(f"the Dockerfile ({name}) cannot be empty") from None
        raise DockerfileParseError(f"dockerfile parse error: {message}") from None
    instructions = []
    for command in commands:
        if command.heredocs:
            raise _error(command.start_line, "unknown instruction: " + _heredoc_line(command))
        instructions.append(_instruction(command, escape))
    return instructions


def _heredoc_line(command) -> str:  # type: ignore[no-untyped-def]
    body = command.heredocs[0].content.split("\n", 1)[0]
    return (body.split() or ["<<"])[0].upper()


def _instruction(command, escape: str) -> Instruction:  # type: ignore[no-untyped-def]
    name = command.cmd.upper()
    line = command.start_line
    if name not in KNOWN:
        raise _error(line, f"unknown instruction: {name}")
    trigger = ""
    if name == "ONBUILD":
        sub = (command.sub_cmd or "").upper()
        if not sub:
            raise _error(line, "ONBUILD requires at least one argument")
        if sub == "ONBUILD":
            raise _error(line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if sub in ("FROM", "MAINTAINER"):
            raise _error(line, f"{sub} isn't allowed as an ONBUILD trigger")
        if sub not in KNOWN:
            raise _error(line, f"unknown instruction: {sub}")
        trigger = command.original.split(None, 1)[1] if " " in command.original else ""
    return Instruction(
        name=name,
        original=command.original,
        line=line,
        args=list(command.value),
        flags=list(command.flags),
        json=bool(command.json),
        trigger=trigger,
        end_line=command.end_line,
    )


def parse_trigger(text: str, escape: str = "\\") -> Instruction:
    """An ONBUILD trigger (one instruction) as stored in an image's OnBuild list."""
    instructions = parse(text + "\n")
    if len(instructions) != 1:
        raise DockerfileParseError(f"invalid ONBUILD trigger: {text}")
    return instructions[0]


def warnings(text: str, instructions: list[Instruction]) -> list[str]:
    """Docker's parser warnings: an instruction continued over an empty line."""
    lines = text.splitlines()
    found = []
    for instruction in instructions:
        inner = lines[instruction.line : instruction.end_line]
        if any(not line.strip() for line in inner):
            found.append(
                f"[WARNING]: Empty continuation line found in:\n    {instruction.original}"
            )
    if found:
        found.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    return found
