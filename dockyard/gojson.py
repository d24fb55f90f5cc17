"""JSON and float text byte for byte as Go writes them: the one encoder of the project.

Docker is written in Go, and what it writes with encoding/json differs from
Python's json.dumps in ways its users can see: ``<``, ``>`` and ``&`` escaped as
``\\u003c`` (json.Marshal's default), U+2028 and U+2029 always escaped, floats
without a needless ``.0`` and with an exponent only outside [1e-6, 1e21), and
``MarshalIndent``'s layout. Used for ``--format '{{json .}}'``, ``inspect``, the
table formats, docker-archive metadata and the json-file container logs.

Dicts keep their order (a Go struct's field order); sort them beforehand to mimic
a Go map. Imports only the json module's string quoting (the CLI loads this).
"""

from __future__ import annotations

from json.encoder import encode_basestring

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

_HTML = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))


def go_json(value: Any, *, escape_html: bool = True, indent: str | None = None) -> str:
    """``json.Marshal(value)`` (``MarshalIndent(value, "", indent)`` with ``indent``).

    ``escape_html=False`` is an Encoder with SetEscapeHTML(false), as the docker
    CLI's ``json`` template function uses.
    """
    parts: list[str] = []
    _encode(value, parts, indent, 0)
    text = "".join(parts)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        # Structural JSON never holds these characters: only strings are touched.
        for char, escaped in _HTML:
            text = text.replace(char, escaped)
    return text


def _encode(value: Any, parts: list[str], indent: str | None, level: int) -> None:
    if isinstance(value, str):
        parts.append(encode_basestring(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        parts.append(str(int(value)))
    elif isinstance(value, float):
        parts.append(json_float(value))
    elif isinstance(value, dict):
        _encode_items(
            [(encode_basestring(_key_text(key)), item) for key, item in value.items()],
            "{}",
            parts,
            indent,
            level,
        )
    elif isinstance(value, (list, tuple)):
        _encode_items([(None, item) for item in value], "[]", parts, indent, level)
    elif isinstance(value, (bytes, bytearray)):
        import binascii  # rare: only []byte fields

        parts.append('"' + binascii.b2a_base64(bytes(value), newline=False).decode() + '"')
    elif hasattr(value, "__dict__"):
        public = {k: v for k, v in vars(value).items() if not k.startswith("_")}
        _encode(public, parts, indent, level)
    else:
        parts.append(encode_basestring(str(value)))


def _encode_items(
    items: list[tuple[str | None, Any]],
    brackets: str,
    parts: list[str],
    indent: str | None,
    level: int,
) -> None:
    parts.append(brackets[0])
    if items:
        inner = None if indent is None else "\n" + indent * (level + 1)
        for index, (key, item) in enumerate(items):
            if index:
                parts.append(",")
            if inner is not None:
                parts.append(inner)
            if key is not None:
                parts.append(key)
                parts.append(":" if indent is None else ": ")
            _encode(item, parts, indent, level + 1)
        if indent is not None:
            parts.append("\n" + indent * level)
    parts.append(brackets[1])


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return json_float(key)
    return str(key)


# --- Go's float formatting (strconv) -------------------------------------------


def _float_digits(value: float) -> tuple[str, int]:
    """Shortest decimal digits of a positive finite float and the position
    of the decimal point (value = 0.DIGITS x 10**dp)."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    stripped = digits.lstrip("0")
    dp = len(whole) - (len(digits) - len(stripped)) + (int(exponent) if exponent else 0)
    stripped = stripped.rstrip("0")
    return stripped or "0", dp


def _format_e(digits: str, dp: int, min_exp_digits: int = 2) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = dp - 1
    sign = "-" if exp < 0 else "+"
    return f"{mantissa}e{sign}{abs(exp):0{min_exp_digits}d}"


def _format_f(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (strconv 'g', shortest): 1e+06, 3.5, 123456."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign = "-" if value < 0 else ""
    digits, dp = _float_digits(abs(value))
    exp = dp - 1
    if exp < -4 or exp >= 6:  # shortest 'g' decides with precision 6
        return sign + _format_e(digits, dp)
    return sign + _format_f(digits, dp)


def json_float(value: float) -> str:
    """encoding/json's float64: fixed notation, exponent only outside [1e-6, 1e21)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"json: unsupported value: {go_float(value)}")
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign = "-" if value < 0 else ""
    digits, dp = _float_digits(abs(value))
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        return sign + _format_e(digits, dp, 1)
    return sign + _format_f(digits, dp)
