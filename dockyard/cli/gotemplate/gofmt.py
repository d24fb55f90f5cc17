"""Go's fmt for template values: %v printing, quoting, Sprint/Sprintf/Sprintln."""

from __future__ import annotations

from dockyard.cli.gotemplate.core import MISSING
from dockyard.gojson import go_float

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


def type_name(value: Any) -> str:
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def sorted_keys(mapping: Any) -> list[Any]:
    keys = list(mapping.keys())
    try:
        return sorted(keys)
    except TypeError:
        return keys


def go_print(value: Any) -> str:
    """What ``{{value}}`` prints: Go's fmt %v, with ``<no value>`` for MISSING."""
    if type(value) is str:
        return value
    if value is MISSING:
        return "<no value>"
    return go_str(value)


def go_str(value: Any) -> str:
    """Go's ``fmt.Sprint`` of one value."""
    if isinstance(value, str):
        return value
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "map["
            + " ".join(f"{go_str(key)}:{go_str(value[key])}" for key in sorted_keys(value))
            + "]"
        )
    if isinstance(value, bytes):
        return "[" + " ".join(str(b) for b in value) + "]"
    return str(value)


def go_quote(text: str, quote: str = '"') -> str:
    """strconv.Quote (or QuoteRune with quote="'")."""
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


# --- printf ------------------------------------------------------------------


def _bad_verb(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(value)}={go_str(value)})"


def _pad(text: str, width: int | None, minus: bool, zero: bool) -> str:
    if width is None or len(text) >= width:
        return text
    if minus:
        return text + " " * (width - len(text))
    if zero:
        sign = text[0] if text[:1] in ("+", "-") else ""
        return sign + "0" * (width - len(text)) + text[len(sign) :]
    return " " * (width - len(text)) + text


def _fmt_one(value: Any, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    minus = "-" in flags
    zero = "0" in flags and not minus
    plus = "+" in flags
    if verb == "T":
        return _pad(type_name(value), width, minus, False)
    if isinstance(value, (list, tuple)):
        inner = " ".join(_fmt_one(item, verb, flags, width, prec) for item in value)
        return "[" + inner + "]"
    if isinstance(value, dict):
        inner = " ".join(
            f"{_fmt_one(k, verb, flags, width, prec)}:{_fmt_one(value[k], verb, flags, width, prec)}"
            for k in sorted_keys(value)
        )
        return "map[" + inner + "]"
    if value is None:
        return _pad("<nil>", width, minus, False) if verb == "v" else _bad_verb(verb, value)
    if isinstance(value, bool):
        if verb in "vt":
            return _pad("true" if value else "false", width, minus, False)
        return _bad_verb(verb, value)
    if isinstance(value, int):
        if verb in "vd":
            text = f"{value:+d}" if plus else str(value)
        elif verb in "xXob":
            spec = ("#" if "#" in flags else "") + verb
            text = format(value, spec)
            if plus and value >= 0:
                text = "+" + text
        elif verb == "c":
            text = chr(value)
        elif verb == "q":
            text = go_quote(chr(value), quote="'")
        elif verb == "U":
            text = f"U+{value:04X}"
        elif verb in "eEfFgG":
            return _bad_verb(verb, value)
        else:
            return _bad_verb(verb, value)
        if prec is not None and verb in "dxXob":
            sign = "-" if text.startswith("-") else ""
            body = text[len(sign) :]
            text = sign + body.rjust(prec, "0")
            zero = False
        return _pad(text, width, minus, zero)
    if isinstance(value, float):
        if verb in "vgG":
            if prec is None:
                text = go_float(value)
                if verb == "G":
                    text = text.upper()
            else:
                text = format(value, f".{prec}{'g' if verb == 'v' else verb}")
        elif verb in "eEfF":
            text = format(value, f".{6 if prec is None else prec}{verb}")
        else:
            return _bad_verb(verb, value)
        if plus and not text.startswith("-"):
            text = "+" + text
        return _pad(text, width, minus, zero)
    if isinstance(value, str):
        if verb in "vs":
            text = value if prec is None else value[:prec]
        elif verb == "q":
            text = go_quote(value if prec is None else value[:prec])
        elif verb in "xX":
            data = value.encode()
            text = data.hex() if verb == "x" else data.hex().upper()
        else:
            return _bad_verb(verb, value)
        return _pad(text, width, minus, zero)
    if verb in "vs":
        text = go_str(value)
        return _pad(text if prec is None else text[:prec], width, minus, False)
    return _bad_verb(verb, value)


def go_sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the common verbs (v s d q x X o b c U e f g t T %)."""
    out: list[str] = []
    n = len(fmt)
    i = 0
    argi = 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width: int | None = None
        prec: int | None = None
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int):
                width = args[argi]
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int):
                    prec = max(args[argi], 0)
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_fmt_one(args[argi], verb, flags, width, prec))
        argi += 1
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={go_str(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def go_sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    prev_string = False
    for index, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if index and not is_string and not prev_string:
            out.append(" ")
        out.append(go_str(arg))
        prev_string = is_string
    return "".join(out)


def go_sprintln(*args: Any) -> str:
    return " ".join(go_str(arg) for arg in args) + "\n"
