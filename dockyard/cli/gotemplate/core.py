"""The pieces every stage shares: the template error and Go's missing value."""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


class TemplateError(InvalidArgument):
    """A template that does not parse or fails while executing.

    ``go_message`` is Go's own text ("template: :1: ..."), without the
    "template parsing error: " prefix docker adds to parse errors.
    """

    def __init__(self, message: str, go_message: str) -> None:
        super().__init__(message)
        self.go_message = go_message


class _Missing:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()
NOFINAL: Any = object()  # no value piped in from a previous command
