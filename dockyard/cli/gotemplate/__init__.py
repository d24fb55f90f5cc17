"""A subset of Go's text/template, as the docker CLI uses it for ``--format``.

``parse(text)`` builds a Template once; ``Template.execute(data)`` renders it
for one value. Data is plain Python: ``.Field`` looks up a dict key (a missing
key gives Go's ``<no value>``) or an object attribute (a callable attribute is
called like a Go method, with the action's arguments). Values print like Go's
``fmt.Print``: lists ``[a b]``, dicts ``map[k:v]``, ``None`` ``<nil>``.

Supported: text and actions with ``{{-``/``-}}`` trimming, comments, fields,
variables (``$``, ``$x := ...``, ``$x = ...``), pipelines, parenthesised
pipelines, literals, if/else if/else, range (lists, dicts in key order, ints,
``$i, $v :=``, break, continue, else), with/else with, and the functions of
Go (and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le,
gt, ge, html, urlquery) and of the docker CLI (json, join, split, title,
lower, upper, pad, truncate). Not supported: define, template, block, call, js.

The package follows the stages of Go's implementation: ``lexer`` (tokens),
``parser`` and ``nodes`` (the parse tree), ``execute`` (walking it against
data), ``gofmt`` (printing values as Go's fmt does) and ``funcs`` (the function
table); ``core`` holds what they share. JSON goes through ``dockyard.gojson``.
"""

from __future__ import annotations

from dockyard.cli.gotemplate.core import MISSING, TemplateError
from dockyard.cli.gotemplate.execute import BreakLoop, ContinueLoop, ExecError, State
from dockyard.cli.gotemplate.funcs import FUNCS, HEADER_FUNCS
from dockyard.cli.gotemplate.funcs import template_json as go_json
from dockyard.cli.gotemplate.gofmt import go_sprintf, go_str
from dockyard.cli.gotemplate.parser import Parser
from dockyard.gojson import go_float

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from dockyard.cli.gotemplate.nodes import Node

__all__ = [
    "FUNCS",
    "HEADER_FUNCS",
    "MISSING",
    "Template",
    "TemplateError",
    "go_float",
    "go_json",
    "go_sprintf",
    "go_str",
    "parse",
    "render",
]


class Template:
    """A parsed template; execute it once per value."""

    __slots__ = ("source", "_nodes", "_funcs")

    def __init__(self, source: str, nodes: list[Node], funcs: Mapping[str, Any]) -> None:
        self.source = source
        self._nodes = nodes
        self._funcs = funcs

    def execute(self, data: Any, funcs: Mapping[str, Any] | None = None) -> str:
        """Render for ``data``. ``funcs`` replaces functions by name at execution
        time (Go's ``tmpl.Funcs(...)`` after parsing), e.g. HEADER_FUNCS."""
        out: list[str] = []
        self.execute_into(out, data, funcs)
        return "".join(out)

    def execute_into(
        self, out: list[str], data: Any, funcs: Mapping[str, Any] | None = None
    ) -> None:
        """Like execute, appending to ``out``; on error ``out`` keeps what was
        written before it, as a Go writer would."""
        table = self._funcs if not funcs else {**self._funcs, **funcs}
        state = State(table, data)
        state.out = out
        try:
            state.walk(data, self._nodes)
        except ExecError as error:
            raise self._exec_error(error) from None
        except (BreakLoop, ContinueLoop):  # pragma: no cover - the parser forbids it
            pass

    def _exec_error(self, error: ExecError) -> TemplateError:
        node = error.node
        if node is None:
            go = f'template: :1:0: executing "" at <>: {error.message}'
        else:
            before = self.source[: node.pos]
            line = before.count("\n") + 1
            col = node.pos - (before.rfind("\n") + 1)
            go = f'template: :{line}:{col}: executing "" at <{node.text}>: {error.message}'
        return TemplateError(go, go)


def parse(text: str, funcs: Mapping[str, Callable[..., Any]] | None = None) -> Template:
    """Parse ``text``; ``funcs`` adds or replaces functions (checked at parse
    time like Go's). Raises TemplateError (an InvalidArgument) with docker's
    "template parsing error: template: :LINE: ..." message."""
    table: Mapping[str, Any] = FUNCS if not funcs else {**FUNCS, **funcs}
    nodes = Parser(text, table).parse()
    return Template(text, nodes, table)


def render(text: str, data: Any) -> str:
    """Parse and execute in one go."""
    return parse(text).execute(data)
