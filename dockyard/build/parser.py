"""Dockerfile text -> instructions, as Docker 20.10's parser splits them.

dfparser.py is the port of Docker's parser (directives, line continuations, comments,
JSON and shell forms); this module checks each instruction's name and turns nodes into
Instructions. Chosen by measurement over the `dockerfile` package (PyPI, Docker's Go
parser): the same nodes for every corpus Dockerfile and tricky snippet
(tests/build/test_parser.py), 3x faster per file, no Go runtime to load, line numbers in
every error, and 20.10's own refusal of heredocs (which that newer Go parser accepts).
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


def _error(line: int, message: str) -> DockerfileParseError:
    return DockerfileParseError(f"dockerfile parse error line {line}: {message}")


def parse(text: str, name: str = "Dockerfile") -> list[Instruction]:
    return parse_with_warnings(text, name)[0]


def parse_with_warnings(
    text: str, name: str = "Dockerfile"
) -> tuple[list[Instruction], list[str], str]:
    """The instructions, the parser's warnings and the escape character."""
    from dockyard.build import dfparser

    if not text.strip():
        raise DockerfileParseError(f"the Dockerfile ({name}) cannot be empty")
    try:
        result = dfparser.parse(text)
    except dfparser.ParseError as error:
        if str(error) == "file with no instructions":
            raise DockerfileParseError(f"the Dockerfile ({name}) cannot be empty") from None
        raise _error(error.line, str(error)) from None
    instructions = [_instruction(node, result.escape) for node in result.nodes]
    return instructions, result.warnings, result.escape


def _instruction(command, escape: str) -> Instruction:  # type: ignore[no-untyped-def]
    """A parsed node (dfparser.Node; the `dockerfile` package's Command has the same
    fields) as an Instruction."""
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
