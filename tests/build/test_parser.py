"""dockyard's port of Docker's Dockerfile parser against Docker's own (the Go parser the
PyPI `dockerfile` package wraps): the same nodes for every corpus Dockerfile and for
snippets of the tricky rules."""

from __future__ import annotations

import pytest

from dockyard.build import dfparser
from dockyard.build.parser import DockerfileParseError, parse
from tests.build.corpus_support import CORPUS

SNIPPETS = {
    "json-forms": 'FROM a\nCMD [ "x" , "y" ]\nENTRYPOINT []\nRUN ["a"] trailing\nRUN [not json\n',
    "flags": 'FROM --platform=linux/amd64 a AS b\nCOPY --from=b --chown="1:2" x y\n'
    "ADD --chown=a\\ b x y\nCOPY -- --x y\n",
    "name-values": 'FROM a\nENV A   b c  d\nLABEL "x y"=\'z w\' q=\\"r\nARG a=1 b c="x y"\n'
    "ENV e='it''s' f=\"q\\\"uote\" g=h\\ i\n",
    "onbuild": "FROM a\nONBUILD  RUN echo x\nonbuild copy --chown=1 a b\n",
    "healthcheck": 'FROM a\nHEALTHCHECK --interval=1s CMD ["a","b"]\nHEALTHCHECK NONE\n'
    "HEALTHCHECK   CMD  echo  x\n",
    "continuations": "FROM a\nRUN a \\\n  b \\\n\n  c\\  \n\nRUN x\\\n# c\n y\n",
    "escape-directive": "# escape=`\n# syntax=x\nFROM a\nRUN a `\n b\nCOPY a\\b c\\\n",
    "bom-and-comments": "\ufeffFROM a\n\n\n   # indented comment\nRUN x   \n",
    "crlf": "FROM a\r\nRUN x \\\r\n y\r\n",
    "unknown": "FROM a\nFOO bar baz\n",
    "words": 'FROM a\nEXPOSE 80/tcp  443\nVOLUME ["/a"]\nVOLUME /b /c\nWORKDIR  /x y\nUSER a:b\n',
    "last-line-continued": "FROM a\nRUN echo \\",
    "late-directive": "FROM a\n# escape=`\nRUN a `\n",
    "not-strings": 'FROM a\nRUN ["a", 1]\n',
}


def _texts() -> dict[str, str]:
    texts = {p.parent.name: p.read_text() for p in sorted(CORPUS.glob("*/Dockerfile"))}
    texts.update(SNIPPETS)
    return {name: text for name, text in texts.items() if text.strip()}


def _docker(text: str):  # type: ignore[no-untyped-def]
    dockerfile = pytest.importorskip("dockerfile")
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as error:
        return f"error: {error}"
    return [
        (c.cmd.lower(), (c.sub_cmd or "").lower(), c.json, c.original, c.start_line,
         c.end_line, tuple(c.flags), tuple(c.value))
        for c in commands
    ]  # fmt: skip


def _ours(text: str):  # type: ignore[no-untyped-def]
    try:
        nodes = dfparser.parse(text).nodes
    except dfparser.ParseError as error:
        return f"error: {error}"
    return [
        (n.cmd.lower(), (n.sub_cmd or "").lower(), n.json, n.original, n.start_line,
         n.end_line, tuple(n.flags), tuple(n.value))
        for n in nodes
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(_texts()))
def test_same_nodes_as_dockers_parser(name: str) -> None:
    text = _texts()[name]
    assert _ours(text) == _docker(text)


def test_heredocs_are_refused_as_docker_20_10_refuses_them() -> None:
    with pytest.raises(DockerfileParseError, match="line 3: unknown instruction: ECHO"):
        parse("FROM a\nRUN <<EOF\necho hi\nEOF\n")


def test_warnings_for_empty_continuation_lines() -> None:
    result = dfparser.parse("FROM a\nRUN a \\\n\n  b\n")
    assert result.warnings == [
        "[WARNING]: Empty continuation line found in:\n    RUN a   b",
        "[WARNING]: Empty continuation lines will become errors in a future release.",
    ]
