"""Go text/template's lexer: the source cut into (kind, text, position) tokens."""

from __future__ import annotations

from dockyard.cli.gotemplate.gofmt import go_quote

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable


(
    T_TEXT,
    T_LEFT,
    T_RIGHT,
    T_SPACE,
    T_FIELD,
    T_VAR,
    T_IDENT,
    T_STRING,
    T_RAW,
    T_CHAR,
    T_NUMBER,
    T_BOOL,
    T_DOT,
    T_NIL,
    T_PIPE,
    T_LPAREN,
    T_RPAREN,
    T_DECLARE,
    T_ASSIGN,
    T_PUNCT,
    T_KEYWORD,
    T_EOF,
    T_ERROR,
) = range(23)

_KEYWORDS = frozenset(
    ("if", "else", "end", "range", "with", "define", "template", "block", "break", "continue")
)
SPACE = " \t\r\n"
_TERMINATORS = frozenset(" \t\r\n.,|:)(")


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def lex(src: str) -> list[tuple[int, str, int]]:
    """Tokens (kind, text, offset). A lexical error becomes a T_ERROR token
    so that the parser reports errors in source order, as Go does."""
    toks: list[tuple[int, str, int]] = []
    add = toks.append
    n = len(src)
    pos = 0
    while True:
        start = pos
        i = src.find("{{", pos)
        if i < 0:
            if start < n:
                add((T_TEXT, src[start:], start))
            add((T_EOF, "", n))
            return toks
        trim = src.startswith("-", i + 2) and i + 3 < n and src[i + 3] in SPACE
        text = src[start:i]
        if trim:
            text = text.rstrip(SPACE)
        if text:
            add((T_TEXT, text, start))
        pos = i + 2 + (2 if trim else 0)
        if src.startswith("/*", pos):
            end = src.find("*/", pos + 2)
            if end < 0:
                add((T_ERROR, "unclosed comment", pos))
                return toks
            pos = end + 2
            if src.startswith(" -}}", pos):
                pos += 4
                while pos < n and src[pos] in SPACE:
                    pos += 1
            elif src.startswith("}}", pos):
                pos += 2
            else:
                add((T_ERROR, "comment ends before closing delimiter", pos))
                return toks
            continue
        add((T_LEFT, "{{", i))
        pos = _lex_action(src, pos, add)
        if pos < 0:
            return toks


def _lex_action(src: str, pos: int, add: Callable[[tuple[int, str, int]], None]) -> int:
    """Lex the inside of one action; return the offset after ``}}`` or -1."""
    n = len(src)
    depth = 0
    while True:
        if src.startswith("}}", pos) or src.startswith(" -}}", pos):
            if depth:
                add((T_ERROR, "unclosed left paren", pos))
                return -1
            if src[pos] == " ":
                pos += 2
                add((T_RIGHT, "}}", pos))
                pos += 2
                while pos < n and src[pos] in SPACE:
                    pos += 1
            else:
                add((T_RIGHT, "}}", pos))
                pos += 2
            return pos
        if pos >= n:
            add((T_ERROR, "unclosed action", pos))
            return -1
        ch = src[pos]
        start = pos
        if ch in SPACE:
            while pos < n and src[pos] in SPACE:
                if src.startswith(" -}}", pos):
                    break
                pos += 1
            if pos > start:
                add((T_SPACE, src[start:pos], start))
            continue
        if ch == "=":
            add((T_ASSIGN, "=", pos))
            pos += 1
        elif ch == ":":
            if not src.startswith(":=", pos):
                add((T_ERROR, "expected :=", pos))
                return -1
            add((T_DECLARE, ":=", pos))
            pos += 2
        elif ch == "|":
            add((T_PIPE, "|", pos))
            pos += 1
        elif ch == '"' or ch == "'":
            pos += 1
            while True:
                if pos >= n or src[pos] == "\n":
                    what = "quoted string" if ch == '"' else "character constant"
                    add((T_ERROR, f"unterminated {what}", start))
                    return -1
                c = src[pos]
                pos += 1
                if c == "\\":
                    if pos >= n or src[pos] == "\n":
                        continue  # reported as unterminated on the next turn
                    pos += 1
                elif c == ch:
                    break
            add((T_STRING if ch == '"' else T_CHAR, src[start:pos], start))
        elif ch == "`":
            end = src.find("`", pos + 1)
            if end < 0:
                add((T_ERROR, "unterminated raw quoted string", start))
                return -1
            pos = end + 1
            add((T_RAW, src[start:pos], start))
        elif ch == "$" or (ch == "." and not (pos + 1 < n and src[pos + 1].isdigit())):
            pos += 1
            while pos < n and _is_alnum(src[pos]):
                pos += 1
            if not _at_terminator(src, pos):
                add((T_ERROR, f"bad character {_char_repr(src[pos])}", pos))
                return -1
            word = src[start:pos]
            add((T_VAR if ch == "$" else (T_DOT if word == "." else T_FIELD), word, start))
        elif ch in "+-." or ch.isdigit():
            pos = _scan_number(src, pos)
            if pos < 0:
                add((T_ERROR, f"bad number syntax: {go_quote(src[start:-pos])}", start))
                return -1
            add((T_NUMBER, src[start:pos], start))
        elif _is_alnum(ch):
            while pos < n and _is_alnum(src[pos]):
                pos += 1
            if not _at_terminator(src, pos):
                add((T_ERROR, f"bad character {_char_repr(src[pos])}", pos))
                return -1
            word = src[start:pos]
            if word in _KEYWORDS:
                kind = T_KEYWORD
            elif word in ("true", "false"):
                kind = T_BOOL
            elif word == "nil":
                kind = T_NIL
            else:
                kind = T_IDENT
            add((kind, word, start))
        elif ch == "(":
            depth += 1
            add((T_LPAREN, "(", pos))
            pos += 1
        elif ch == ")":
            depth -= 1
            add((T_RPAREN, ")", pos))
            pos += 1
            if depth < 0:
                add((T_ERROR, "unexpected right paren", start))
                return -1
        elif ch.isascii() and ch.isprintable():
            add((T_PUNCT, ch, pos))
            pos += 1
        else:
            add((T_ERROR, f"unrecognized character in action: {_char_repr(ch)}", pos))
            return -1


def _at_terminator(src: str, pos: int) -> bool:
    return pos >= len(src) or src[pos] in _TERMINATORS or src.startswith("}}", pos)


def _char_repr(ch: str) -> str:
    return f"U+{ord(ch):04X} " + go_quote(ch, quote="'")


def _scan_number(src: str, pos: int) -> int:
    """Go's lexer.scanNumber; returns the end offset, or -(end) on bad syntax."""
    n = len(src)

    def run(chars: str, p: int) -> int:
        while p < n and src[p] in chars:
            p += 1
        return p

    if pos < n and src[pos] in "+-":
        pos += 1
    digits = "0123456789_"
    if src.startswith("0", pos):
        pos += 1
        if pos < n and src[pos] in "xX":
            digits, pos = "0123456789abcdefABCDEF_", pos + 1
        elif pos < n and src[pos] in "oO":
            digits, pos = "01234567_", pos + 1
        elif pos < n and src[pos] in "bB":
            digits, pos = "01_", pos + 1
    pos = run(digits, pos)
    if src.startswith(".", pos):
        pos = run(digits, pos + 1)
    if len(digits) == 11 and pos < n and src[pos] in "eE":
        pos = run("0123456789_", pos + 1 + (pos + 1 < n and src[pos + 1] in "+-"))
    if len(digits) == 23 and pos < n and src[pos] in "pP":
        pos = run("0123456789_", pos + 1 + (pos + 1 < n and src[pos + 1] in "+-"))
    if src.startswith("i", pos):
        pos += 1
    if pos < n and _is_alnum(src[pos]):
        return -(pos + 1)
    return pos


_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def unquote(token: str) -> str:
    """strconv.Unquote for "..." and '...' (the lexer checked termination)."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("invalid syntax")
        esc = body[i + 1]
        i += 2
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
        elif esc in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i : i + size]
            if len(digits) != size or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 16)))
            i += size
        elif esc in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def parse_number(text: str) -> int | float:
    if text.startswith("'"):
        value = unquote(text)
        if len(value) != 1:
            raise ValueError(f"malformed character constant: {text}")
        return ord(value)
    if text.endswith("i"):
        raise ValueError(f"complex numbers are not supported: {text}")
    clean = text.replace("_", "")
    body = clean.lstrip("+-")
    lower = body.lower()
    try:
        if lower.startswith(("0x", "0o", "0b")):
            if lower.startswith("0x") and ("." in lower or "p" in lower):
                value = float.fromhex(clean)
                return value
            return int(clean, 0)
        if "." in body or "e" in lower:
            return float(clean)
        if len(body) > 1 and body.startswith("0"):
            return int(clean, 8)
        return int(clean)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
