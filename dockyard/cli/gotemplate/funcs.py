"""The template functions: Go's builtins and the docker CLI's (json, join, title, ...)."""

from __future__ import annotations

from dockyard.cli.gotemplate.core import MISSING
from dockyard.cli.gotemplate.gofmt import go_sprint, go_sprintf, go_sprintln, go_str, type_name
from dockyard.gojson import go_json

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _FuncError(Exception):
    """An error a template function returns (Go's second result)."""


def is_true(value: Any) -> bool:
    """Go template truth: false, 0, nil, and empty strings/lists/maps are false."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def go_and(*args: Any) -> Any:  # evaluated lazily by State.eval_function
    raise AssertionError


def go_or(*args: Any) -> Any:
    raise AssertionError


def _not(value: Any) -> bool:
    return not is_true(value)


def _len(value: Any) -> int:
    if value is None:
        raise _FuncError("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (list, tuple, dict, bytes)) or hasattr(value, "__len__"):
        return len(value)
    raise _FuncError(f"len of type {type_name(value)}")


def _int_index(index: Any, length: int, cap: int | None = None) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise _FuncError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index >= (length if cap is None else cap + 1):
        raise _FuncError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    for index in indexes:
        if item is None:
            return ""  # a nil map (Go's typed nil map yields the zero value)
        if isinstance(item, str):
            item = ord(item[_int_index(index, len(item))])  # Go yields a byte
        elif isinstance(item, (list, tuple)):
            item = item[_int_index(index, len(item))]
        elif isinstance(item, dict):
            if index in item:
                item = item[index]
            elif item and all(isinstance(v, str) for v in item.values()) or not item:
                item = ""  # zero value of a map[string]string
            else:
                item = MISSING
        else:
            raise _FuncError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _FuncError("slice of untyped nil")
    if not isinstance(item, (list, tuple, str)):
        raise _FuncError(f"can't slice item of type {type_name(item)}")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str) and len(indexes) == 3:
        raise _FuncError("cannot 3-index slice a string")
    bounds = [_int_index(i, len(item), len(item)) for i in indexes]
    start = bounds[0] if bounds else 0
    end = bounds[1] if len(bounds) > 1 else len(item)
    if start > end:
        raise _FuncError(f"invalid slice index: {start} > {end}")
    return item[start:end]


def _kind(value: Any) -> str:
    if value is None or value is MISSING:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise _FuncError("missing argument for comparison")
    kind = _kind(first)
    for other in others:
        other_kind = _kind(other)
        if kind != other_kind:
            if kind == "nil" or other_kind == "nil":
                continue
            raise _FuncError("incompatible types for comparison")
        if kind == "nil" or first == other:
            return True
    return False


def _ne(first: Any, second: Any) -> bool:
    return not _eq(first, second)


def _less(first: Any, second: Any) -> bool:
    kind = _kind(first)
    if kind not in ("number", "string") or _kind(second) not in ("number", "string"):
        raise _FuncError("invalid type for comparison")
    if kind != _kind(second):
        raise _FuncError("incompatible types for comparison")
    return first < second


def _lt(first: Any, second: Any) -> bool:
    return _less(first, second)


def _le(first: Any, second: Any) -> bool:
    return _less(first, second) or _eq(first, second)


def _gt(first: Any, second: Any) -> bool:
    return not _le(first, second)


def _ge(first: Any, second: Any) -> bool:
    return not _less(first, second)


def _string_arg(value: Any) -> str:
    if not isinstance(value, str):
        raise _FuncError(f"wrong type for value; expected string; got {type_name(value)}")
    return value


def template_json(value: Any, escape_html: bool = False) -> str:
    """JSON of a template value: Go's invalid Value (MISSING) is null, and HTML
    characters stay as they are unless asked (docker's ``json`` function)."""
    return go_json(None if value is MISSING else value, escape_html=escape_html)


def _json(value: Any) -> str:
    try:
        return template_json(value)
    except ValueError:
        return ""  # docker ignores the encoder's error


def _join(elems: Any, sep: Any) -> str:
    if elems is None:
        return ""
    if not isinstance(elems, (list, tuple)):
        raise _FuncError(f"wrong type for value; expected []string; got {type_name(elems)}")
    return _string_arg(sep).join(go_str(e) for e in elems)


def _split(text: Any, sep: Any) -> list[str]:
    text = _string_arg(text)
    sep = _string_arg(sep)
    if sep == "":
        return list(text)
    return text.split(sep)


def _is_separator(ch: str) -> bool:
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit():
        return False
    return ch.isspace()


def _title(text: Any) -> str:
    """strings.Title: upper-case the first letter of each word, keep the rest."""
    text = _string_arg(text)
    out: list[str] = []
    prev = " "
    for ch in text:
        if _is_separator(prev):
            upper = ch.title()
            out.append(upper if len(upper) == 1 else ch)
        else:
            out.append(ch)
        prev = ch
    return "".join(out)


def _lower(text: Any) -> str:
    return _string_arg(text).lower()


def _upper(text: Any) -> str:
    return _string_arg(text).upper()


def _pad_with_space(text: Any, prefix: Any, suffix: Any) -> str:
    text = _string_arg(text)
    if text == "":
        return text
    return " " * prefix + text + " " * suffix


def _truncate(text: Any, length: Any) -> str:
    text = _string_arg(text)
    if len(text) < length:
        return text
    return text[:length]


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return go_sprint(*args)


def _html(*args: Any) -> str:
    text = _eval_args(args)
    for old, new in (
        ("&", "&amp;"),
        ("'", "&#39;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&#34;"),
        ("\0", "\ufffd"),
    ):
        text = text.replace(old, new)
    return text


def _urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_eval_args(args), safe="")


def _identity(value: Any, *_: Any) -> Any:
    return value


FUNCS: dict[str, Callable[..., Any]] = {
    "and": go_and,
    "or": go_or,
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": go_sprint,
    "printf": go_sprintf,
    "println": go_sprintln,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "html": _html,
    "urlquery": _urlquery,
    # the docker CLI's functions (cli/templates)
    "json": _json,
    "split": _split,
    "join": _join,
    "title": _title,
    "lower": _lower,
    "upper": _upper,
    "pad": _pad_with_space,
    "truncate": _truncate,
}

# docker's HeaderFunctions: the table header keeps the column names intact.
HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    name: _identity for name in ("json", "split", "join", "title", "lower", "upper", "truncate")
}

ARITY: dict[Any, tuple[int, int | None]] = {
    _not: (1, 1),
    _len: (1, 1),
    _index: (1, None),
    _slice: (1, None),
    go_sprintf: (1, None),
    _eq: (1, None),
    _ne: (2, 2),
    _lt: (2, 2),
    _le: (2, 2),
    _gt: (2, 2),
    _ge: (2, 2),
    _json: (1, 1),
    _split: (2, 2),
    _join: (2, 2),
    _title: (1, 1),
    _lower: (1, 1),
    _upper: (1, 1),
    _pad_with_space: (3, 3),
    _truncate: (2, 2),
}
