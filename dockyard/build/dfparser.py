"""Dockerfile text -> instructions: Docker 20.10's parser (moby/buildkit v0.8
frontend/dockerfile/parser) ported to Python.

Parser directives (`# escape=`, `# syntax=`), comments, line continuations (and the
empty-continuation-line warning), then each instruction's arguments split as Docker's
dispatch table splits them: JSON or shell form, whitespace-delimited words, name=value
pairs with quotes kept (substitution removes them later), ONBUILD's sub-instruction,
HEALTHCHECK's type. The node a line becomes is what the `dockerfile` package (Docker's
Go parser) returns; tests/build/test_parser.py compares the two on the corpus.
"""

from __future__ import annotations

import json
import re

from dockyard.datarecord import dataclass, field

_DIRECTIVE = re.compile(r"^#[ \t]*([a-z][a-z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


class ParseError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Node:
    cmd: str  # upper case, as the `dockerfile` package reports it
    original: str
    start_line: int
    end_line: int
    flags: list[str] = field(default_factory=list)
    value: list[str] = field(default_factory=list)
    json: bool = False
    sub_cmd: str | None = None


@dataclass
class Result:
    nodes: list[Node]
    escape: str
    warnings: list[str]


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.seen: set[str] = set()
        self.complete = False
        self.continuation = re.compile(r"\\[ \t]*$")

    def consider(self, line: str) -> None:
        if self.complete:
            return
        match = _DIRECTIVE.match(line.lower())
        if match and match.group(1) in ("escape", "syntax"):
            key = match.group(1)
            if key in self.seen:
                raise ValueError(f"only one {key} parser directive can be used")
            self.seen.add(key)
            if key == "escape":
                value = line[match.start(2) : match.end(2)]
                if value not in ("`", "\\"):
                    raise ValueError(f"invalid ESCAPE '{value}'. Must be ` or \\")
                self.escape = value
                self.continuation = re.compile(re.escape(value) + r"[ \t]*$")
            return
        self.complete = True


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def parse(text: str) -> Result:
    directives = _Directives()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    nodes: list[Node] = []
    warnings: list[str] = []
    index = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        try:
            directives.consider(raw.lstrip())
        except ValueError as error:
            raise ParseError(str(error), index) from None
        body = "" if _is_comment(raw) else raw.lstrip()
        start = index
        line, done = _trim_continuation(body, directives)
        if done and line == "":
            continue
        empty_continuation = False
        while not done and index < len(lines):
            raw = lines[index]
            index += 1
            if _is_comment(raw):
                continue
            if not raw.strip():
                empty_continuation = True
                continue
            more, done = _trim_continuation(raw, directives)
            line += more
        if empty_continuation:
            warnings.append("[WARNING]: Empty continuation line found in:\n    " + line)
        try:
            nodes.append(_node(line, directives.escape, start, index))
        except ValueError as error:
            raise ParseError(str(error), start) from None
    if warnings:
        warnings.append(
            "[WARNING]: Empty continuation lines will become errors in a future release."
        )
    if not nodes:
        raise ParseError("file with no instructions", index)
    return Result(nodes, directives.escape, warnings)


def _trim_continuation(line: str, directives: _Directives) -> tuple[str, bool]:
    match = directives.continuation.search(line)
    if match:
        return line[: match.start()], False
    return line, True


def _split_command(line: str) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    cmd = parts[0].lower()
    flags: list[str] = []
    args = ""
    if len(parts) == 2:
        args, flags = _builder_flags(parts[1])
    return cmd, flags, args.strip()


def _builder_flags(line: str) -> tuple[str, list[str]]:
    """Leading --flags (extractBuilderFlags)."""
    flags: list[str] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos].isspace():
            pos += 1
        if not line.startswith("--", pos):
            return line[pos:], flags
        word = ""
        quote = ""
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    word += ch
                pos += 1
                continue
            if ch.isspace():
                break
            if ch in "'\"":
                quote = ch
                pos += 1
                continue
            if ch == "\\" and pos + 1 < n:
                pos += 1
                ch = line[pos]
            word += ch
            pos += 1
        if quote:
            raise ValueError(f"unmatched quote in flags: {line}")
        if word == "--":
            return line[pos:], flags
        flags.append(word)


def _words(rest: str, escape: str) -> list[str]:
    """parseWords: white space splits words outside quotes; quotes and escapes are kept."""
    words: list[str] = []
    word = ""
    in_word = in_quote = False
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if not in_word and not in_quote:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            in_word = True
        if pos == n:
            if blank_ok or word:
                words.append(word)
            break
        if in_word and not in_quote:
            if ch.isspace():
                in_word = False
                if blank_ok or word:
                    words.append(word)
                word = ""
                blank_ok = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                in_quote = True
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word += ch
                pos += 1
                ch = rest[pos]
            word += ch
            pos += 1
            continue
        if in_quote:
            if ch == quote:
                in_quote = False
            if ch == escape and quote != "'":
                if pos + 1 == n:
                    in_quote = False
                    pos += 1
                    continue
                pos += 1
                word += ch
                ch = rest[pos]
            word += ch
            pos += 1
    return words


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    """parseMaybeJSON: a JSON array of strings (what follows it is ignored, as Go's
    json.Decoder ignores it), else the text as one argument; an array holding anything
    but strings is an error."""
    text = rest.lstrip()
    if text.startswith("["):
        try:
            value, _ = json.JSONDecoder().raw_decode(text)
        except ValueError:
            value = None
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ValueError(
                    "when using JSON array syntax, arrays must be comprised of strings only"
                )
            return value, True
    return ([rest] if rest else []), False


def _maybe_json_list(rest: str) -> tuple[list[str], bool]:
    value, is_json = _maybe_json(rest)
    if is_json:
        return value, True
    return rest.split(), False


def _name_val(rest: str, key: str, escape: str) -> list[str]:
    if not rest:
        return []
    words = _words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise ValueError(f"{key} must have two arguments")
        return [parts[0], parts[1]]
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise ValueError(
                f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        name, _, value = word.partition("=")
        out += [name, value]
    return out


def _node(line: str, escape: str, start: int, end: int) -> Node:
    cmd, flags, args = _split_command(line)
    node = Node(cmd=cmd.upper(), original=line, start_line=start, end_line=end, flags=flags)
    if cmd in ("run", "cmd", "entrypoint", "shell"):
        node.value, node.json = _maybe_json(args)
    elif cmd in ("add", "copy", "volume"):
        node.value, node.json = _maybe_json_list(args)
    elif cmd in ("expose", "from"):
        node.value = args.split()
    elif cmd in ("maintainer", "stopsignal", "user", "workdir"):
        node.value = [args] if args else []
    elif cmd in ("env", "label"):
        node.value = _name_val(args, cmd.upper(), escape)
    elif cmd == "arg":
        node.value = _words(args, escape)
    elif cmd == "healthcheck":
        parts = re.split(r"\s+", args, maxsplit=1) if args else []
        if parts:
            node.value = [parts[0]]
            rest, node.json = _maybe_json(parts[1] if len(parts) > 1 else "")
            node.value += rest
    elif cmd == "onbuild":
        if args:
            sub = _node(args, escape, start, end)
            node.sub_cmd = sub.cmd
            node.value, node.json = sub.value, sub.json  # the trigger's flags: when it runs
    else:
        node.value = [""] if args else []
    return node
