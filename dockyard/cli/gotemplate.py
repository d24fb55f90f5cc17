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
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
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
_NOFINAL: Any = object()  # no value piped in from a previous command

# --- lexer -------------------------------------------------------------------

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
_SPACE = " \t\r\n"
_TERMINATORS = frozenset(" \t\r\n.,|:)(")


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def _lex(src: str) -> list[tuple[int, str, int]]:
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
        trim = src.startswith("-", i + 2) and i + 3 < n and src[i + 3] in _SPACE
        text = src[start:i]
        if trim:
            text = text.rstrip(_SPACE)
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
                while pos < n and src[pos] in _SPACE:
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
                while pos < n and src[pos] in _SPACE:
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
        if ch in _SPACE:
            while pos < n and src[pos] in _SPACE:
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
                add((T_ERROR, f"bad number syntax: {_go_quote(src[start:-pos])}", start))
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
    return f"U+{ord(ch):04X} " + _go_quote(ch, quote="'")


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


def _unquote(token: str) -> str:
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


def _parse_number(text: str) -> int | float:
    if text.startswith("'"):
        value = _unquote(text)
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
        raise ValueError(f"illegal number syntax: {_go_quote(text)}") from None


# --- nodes -------------------------------------------------------------------


class _Node:
    __slots__ = ("pos", "text")

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text


class _Text(_Node):
    __slots__ = ()


class _Action(_Node):
    __slots__ = ("pipe",)


class _Control(_Node):
    __slots__ = ("kind", "pipe", "body", "else_body")


class _Jump(_Node):
    __slots__ = ()  # text is "break" or "continue"


class _Pipe(_Node):
    __slots__ = ("decl", "is_assign", "cmds")


class _Cmd(_Node):
    __slots__ = ("args",)


class _Field(_Node):
    __slots__ = ("names",)


class _Var(_Node):
    __slots__ = ("name", "names")


class _Chain(_Node):
    __slots__ = ("node", "names")


class _Ident(_Node):
    __slots__ = ()  # text is the function name


class _Dot(_Node):
    __slots__ = ()


class _Nil(_Node):
    __slots__ = ()


class _Const(_Node):
    __slots__ = ("value",)


# --- parser ------------------------------------------------------------------


class _Parser:
    def __init__(self, src: str, funcs: Mapping[str, Any]) -> None:
        self.src = src
        self.funcs = funcs
        toks = _lex(src)
        # The lexer stops at EOF or at an error; repeat that token so that
        # reading past it and backing up stay consistent.
        toks.extend([toks[-1]] * 4)
        self.toks = toks
        self.last = len(toks) - 1
        self.i = 0
        self.vars = ["$"]
        self.range_depth = 0

    # token access
    def next(self) -> tuple[int, str, int]:
        tok = self.toks[self.i]
        if self.i < self.last:
            self.i += 1
        return tok

    def peek(self) -> tuple[int, str, int]:
        return self.toks[self.i]

    def next_non_space(self) -> tuple[int, str, int]:
        tok = self.next()
        while tok[0] == T_SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> tuple[int, str, int]:
        j = self.i
        while self.toks[j][0] == T_SPACE:
            j += 1
        self.i = j
        return self.toks[j]

    def error(self, message: str, pos: int | None = None) -> TemplateError:
        if pos is None:
            pos = self.toks[max(self.i - 1, 0)][2]
        line = self.src.count("\n", 0, pos) + 1
        go = f"template: :{line}: {message}"
        return TemplateError(f"template parsing error: {go}", go)

    def unexpected(self, tok: tuple[int, str, int], context: str) -> TemplateError:
        if tok[0] == T_ERROR:
            return self.error(tok[1], tok[2])
        return self.error(f"unexpected {_describe(tok)} in {context}", tok[2])

    # grammar
    def parse(self) -> list[_Node]:
        nodes: list[_Node] = []
        while self.peek()[0] != T_EOF:
            node = self.text_or_action()
            if isinstance(node, _Control) and node.kind in ("end", "else"):
                raise self.error(f"unexpected {{{{{node.kind}}}}}", node.pos)
            nodes.append(node)
        return nodes

    def text_or_action(self) -> _Node:
        tok = self.next_non_space()
        if tok[0] == T_TEXT:
            return _Text(tok[2], tok[1])
        if tok[0] == T_LEFT:
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> _Node:
        tok = self.next_non_space()
        if tok[0] == T_KEYWORD:
            word = tok[1]
            if word in ("if", "range", "with"):
                return self.control(word, tok[2])
            if word == "else":
                peek = self.peek_non_space()
                if not (peek[0] == T_KEYWORD and peek[1] in ("if", "with")):
                    self.expect_right("else")
                return self._marker("else", tok[2])
            if word == "end":
                self.expect_right("end")
                return self._marker("end", tok[2])
            if word in ("break", "continue"):
                self.expect_right(f"{{{{{word}}}}}")
                if not self.range_depth:
                    raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}", tok[2])
                return _Jump(tok[2], word)
            raise self.error(f"{{{{{word}}}}} is not supported", tok[2])
        self.i -= 1
        pipe = self.pipeline("command", T_RIGHT)
        node = _Action(pipe.pos, pipe.text)
        node.pipe = pipe
        return node

    @staticmethod
    def _marker(kind: str, pos: int) -> _Control:
        node = _Control(pos, kind)
        node.kind = kind
        return node

    def expect_right(self, context: str) -> None:
        tok = self.next_non_space()
        if tok[0] != T_RIGHT:
            raise self.unexpected(tok, context)

    def control(self, kind: str, pos: int) -> _Control:
        mark = len(self.vars)
        pipe = self.pipeline(kind, T_RIGHT)
        if kind == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_body = None
        if nxt.kind == "else":
            peek = self.peek()
            if kind in ("if", "with") and peek[0] == T_KEYWORD and peek[1] == kind:
                self.next()
                else_body = [self.control(kind, peek[2])]
            else:
                else_body, nxt = self.item_list()
                if nxt.kind != "end":
                    raise self.error(f"expected end; found {{{{{nxt.kind}}}}}", nxt.pos)
        del self.vars[mark:]
        node = _Control(pos, kind)
        node.kind = kind
        node.pipe = pipe
        node.body = body
        node.else_body = else_body
        return node

    def item_list(self) -> tuple[list[_Node], _Control]:
        nodes: list[_Node] = []
        while self.peek_non_space()[0] != T_EOF:
            node = self.text_or_action()
            if isinstance(node, _Control) and node.kind in ("end", "else"):
                return nodes, node
            nodes.append(node)
        tok = self.peek()
        if tok[0] == T_ERROR:
            raise self.unexpected(tok, "input")
        raise self.error("unexpected EOF", tok[2])

    def pipeline(self, context: str, end: int) -> _Pipe:
        start_tok = self.peek_non_space()
        decl: list[str] = []
        is_assign = False
        while True:
            tok = self.peek_non_space()
            if tok[0] != T_VAR:
                break
            save = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt[0] in (T_ASSIGN, T_DECLARE):
                self.next()
                is_assign = nxt[0] == T_ASSIGN
                decl.append(tok[1])
                self.vars.append(tok[1])
                break
            if nxt[0] == T_PUNCT and nxt[1] == ",":
                self.next()
                decl.append(tok[1])
                self.vars.append(tok[1])
                if context == "range" and len(decl) < 2:
                    if self.peek_non_space()[0] in (T_VAR, T_RIGHT, T_RPAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = save
            break
        cmds: list[_Cmd] = []
        while True:
            tok = self.next_non_space()
            if tok[0] == end:
                if not cmds:
                    raise self.error(f"missing value for {context}", tok[2])
                for index, cmd in enumerate(cmds[1:]):
                    if isinstance(cmd.args[0], (_Const, _Dot, _Nil)):
                        raise self.error(f"non executable command in pipeline stage {index + 2}")
                text_end = tok[2]
                pipe = _Pipe(start_tok[2], self.src[start_tok[2] : text_end].strip())
                pipe.decl = decl
                pipe.is_assign = is_assign
                pipe.cmds = cmds
                return pipe
            if tok[0] in _OPERAND_START:
                self.i -= 1
                cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def command(self) -> _Cmd:
        start = self.peek_non_space()[2]
        args: list[_Node] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            tok = self.next()
            if tok[0] == T_SPACE:
                continue
            if tok[0] in (T_RIGHT, T_RPAREN):
                self.i -= 1
            elif tok[0] != T_PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not args:
            raise self.error("empty command")
        cmd = _Cmd(start, self.src[start : tok[2]].strip(_SPACE))
        cmd.args = args
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek()[0] == T_FIELD:
            names: list[str] = []
            while self.peek()[0] == T_FIELD:
                tok = self.next()
                names.append(tok[1][1:])
                end = tok[2] + len(tok[1])
            text = self.src[node.pos : end]
            if isinstance(node, _Field):
                field = _Field(node.pos, text)
                field.names = node.names + tuple(names)
                return field
            if isinstance(node, _Var):
                var = _Var(node.pos, text)
                var.name = node.name
                var.names = node.names + tuple(names)
                return var
            if isinstance(node, (_Const, _Nil, _Dot)):
                raise self.error(f"unexpected . after term {_go_quote(node.text)}")
            chain = _Chain(node.pos, text)
            chain.node = node
            chain.names = tuple(names)
            return chain
        return node

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        kind, text, pos = tok
        if kind == T_IDENT:
            if text not in self.funcs:
                raise self.error(f"function {_go_quote(text)} not defined", pos)
            return _Ident(pos, text)
        if kind == T_DOT:
            return _Dot(pos, ".")
        if kind == T_NIL:
            return _Nil(pos, "nil")
        if kind == T_VAR:
            self._use_var(text, pos)
            var = _Var(pos, text)
            var.name = text
            var.names = ()
            return var
        if kind == T_FIELD:
            field = _Field(pos, text)
            field.names = (text[1:],)
            return field
        if kind in (T_BOOL, T_NUMBER, T_CHAR, T_STRING, T_RAW):
            try:
                if kind == T_BOOL:
                    value: Any = text == "true"
                elif kind == T_STRING:
                    value = _unquote(text)
                elif kind == T_RAW:
                    value = text[1:-1].replace("\r", "")
                else:
                    value = _parse_number(text)
            except ValueError as error:
                raise self.error(str(error), pos) from None
            node = _Const(pos, text)
            node.value = value
            return node
        if kind == T_LPAREN:
            pipe = self.pipeline("parenthesized pipeline", T_RPAREN)
            pipe.pos = pos
            pipe.text = self.src[pos : self.toks[self.i - 1][2] + 1]
            return pipe
        self.i -= 1
        return None

    def _use_var(self, name: str, pos: int) -> None:
        base = name.split(".", 1)[0]
        if base not in self.vars:
            raise self.error(f"undefined variable {_go_quote(base)}", pos)


_OPERAND_START = frozenset(
    (T_BOOL, T_CHAR, T_DOT, T_FIELD, T_IDENT, T_NUMBER, T_NIL, T_RAW, T_STRING, T_VAR, T_LPAREN)
)


def _describe(tok: tuple[int, str, int]) -> str:
    kind, text, _ = tok
    if kind == T_EOF:
        return "EOF"
    if kind == T_KEYWORD:
        return f"<{text}>"
    if kind == T_LEFT:
        return '"{{"'
    if kind == T_RIGHT:
        return '"}}"'
    if len(text) > 10:
        return _go_quote(text[:10]) + "..."
    return _go_quote(text)


# --- execution ---------------------------------------------------------------


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


class _ExecError(Exception):
    def __init__(self, node: _Node | None, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _State:
    __slots__ = ("funcs", "vars", "out", "node")

    def __init__(self, funcs: Mapping[str, Any], data: Any) -> None:
        self.funcs = funcs
        self.vars: list[list[Any]] = [["$", data]]
        self.out: list[str] = []
        self.node: _Node | None = None

    def fail(self, message: str) -> _ExecError:
        return _ExecError(self.node, message)

    # variables
    def lookup(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.fail(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.fail(f"undefined variable: {name}")

    # walking
    def walk(self, dot: Any, nodes: list[_Node]) -> None:
        out = self.out
        for node in nodes:
            if type(node) is _Text:
                out.append(node.text)
            elif type(node) is _Action:
                self.node = node
                value = self.eval_pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    out.append(_go_print(value))
            elif type(node) is _Control:
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    self.walk_if_with(dot, node)
            elif type(node) is _Jump:
                raise _BreakLoop() if node.text == "break" else _ContinueLoop()

    def walk_if_with(self, dot: Any, node: _Control) -> None:
        mark = len(self.vars)
        self.node = node
        value = self.eval_pipeline(dot, node.pipe)
        if is_true(value):
            self.walk(value if node.kind == "with" else dot, node.body)
        elif node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: _Control) -> None:
        mark = len(self.vars)
        self.node = node
        pipe = node.pipe
        value = self.eval_pipeline(dot, pipe)
        items = self._range_items(value, len(pipe.decl))
        body_mark = len(self.vars)
        ran = False
        try:
            for index, elem in items:
                ran = True
                if pipe.decl:
                    if pipe.is_assign:
                        if len(pipe.decl) > 1:
                            self.set_var(pipe.decl[0], index)
                            self.set_var(pipe.decl[1], elem)
                        else:
                            self.set_var(pipe.decl[0], elem)
                    else:
                        # eval_pipeline pushed the declared names: element on top,
                        # index (if any) below it.
                        self.vars[body_mark - 1][1] = elem
                        if len(pipe.decl) > 1:
                            self.vars[body_mark - 2][1] = index
                try:
                    self.walk(elem, node.body)
                except _ContinueLoop:
                    pass
                del self.vars[body_mark:]
        except _BreakLoop:
            pass
        if not ran and node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def _range_items(self, value: Any, nvars: int) -> Any:
        if value is None or value is MISSING:
            return ()
        if isinstance(value, (list, tuple)):
            return enumerate(value)
        if isinstance(value, dict):
            return [(key, value[key]) for key in _sorted_keys(value)]
        if isinstance(value, bool) or isinstance(value, (str, float)):
            raise self.fail(f"range can't iterate over {_go_print(value)}")
        if isinstance(value, int):
            if nvars > 1:
                raise self.fail(f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        if hasattr(value, "keys") and hasattr(value, "__getitem__"):
            return [(key, value[key]) for key in _sorted_keys(value)]
        if hasattr(value, "__iter__"):
            return enumerate(value)
        raise self.fail(f"range can't iterate over {_go_print(value)}")

    # evaluation
    def eval_pipeline(self, dot: Any, pipe: _Pipe) -> Any:
        value = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def eval_command(self, dot: Any, cmd: _Cmd, final: Any) -> Any:
        first = cmd.args[0]
        kind = type(first)
        self.node = first
        if kind is _Field:
            return self.eval_chain(dot, dot, first, first.names, cmd.args, final)
        if kind is _Var:
            value = self.lookup(first.name)
            if not first.names:
                self._not_a_function(cmd.args, final)
                return value
            return self.eval_chain(dot, value, first, first.names, cmd.args, final)
        if kind is _Chain:
            if type(first.node) is _Nil:
                raise self.fail(f"indirection through explicit nil in {first.text}")
            value = self.eval_arg(dot, first.node)
            self.node = first
            return self.eval_chain(dot, value, first, first.names, cmd.args, final)
        if kind is _Ident:
            return self.eval_function(dot, first.text, cmd, final)
        self._not_a_function(cmd.args, final)
        if kind is _Pipe:
            return self.eval_pipeline(dot, first)
        if kind is _Const:
            return first.value
        if kind is _Dot:
            return dot
        raise self.fail("nil is not a command")

    def _not_a_function(self, args: list[_Node], final: Any) -> None:
        if len(args) > 1 or final is not _NOFINAL:
            raise self.fail(f"can't give argument to non-function {args[0].text}")

    def eval_arg(self, dot: Any, node: _Node) -> Any:
        self.node = node
        kind = type(node)
        if kind is _Dot:
            return dot
        if kind is _Const:
            return node.value
        if kind is _Nil:
            return None
        if kind is _Field:
            return self.eval_chain(dot, dot, node, node.names, [node], _NOFINAL)
        if kind is _Var:
            value = self.lookup(node.name)
            if node.names:
                return self.eval_chain(dot, value, node, node.names, [node], _NOFINAL)
            return value
        if kind is _Pipe:
            return self.eval_pipeline(dot, node)
        if kind is _Ident:
            return self.eval_function(dot, node.text, None, _NOFINAL)
        if kind is _Chain:
            value = self.eval_arg(dot, node.node)
            self.node = node
            return self.eval_chain(dot, value, node, node.names, [node], _NOFINAL)
        raise self.fail(f"can't handle {node.text} for arg")

    def eval_chain(
        self,
        dot: Any,
        receiver: Any,
        node: _Node,
        names: tuple[str, ...],
        args: list[_Node],
        final: Any,
    ) -> Any:
        last = len(names) - 1
        for i, name in enumerate(names):
            if i < last:
                receiver = self.eval_field(dot, name, node, None, _NOFINAL, receiver)
            else:
                receiver = self.eval_field(dot, name, node, args, final, receiver)
        return receiver

    def eval_field(
        self,
        dot: Any,
        name: str,
        node: _Node,
        args: list[_Node] | None,
        final: Any,
        receiver: Any,
    ) -> Any:
        self.node = node
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            raise self.fail(f"nil pointer evaluating interface {{}}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
        if isinstance(receiver, dict):
            if has_args:
                raise self.fail(f"{name} is not a method but has arguments")
            return receiver.get(name, MISSING)
        if isinstance(receiver, (str, int, float, list, tuple)) or name.startswith("_"):
            raise self.fail(f"can't evaluate field {name} in type {_type_name(receiver)}")
        try:
            value = getattr(receiver, name)
        except AttributeError:
            if hasattr(receiver, "keys") and hasattr(receiver, "__getitem__"):
                if has_args:
                    raise self.fail(f"{name} is not a method but has arguments") from None
                try:
                    return receiver[name]
                except KeyError:
                    return MISSING
            raise self.fail(f"can't evaluate field {name} in type {_type_name(receiver)}") from None
        if callable(value) and not isinstance(value, type):
            return self.call(dot, value, name, args[1:] if args else [], final, node)
        if has_args:
            raise self.fail(f"{name} has arguments but cannot be invoked as function")
        return value

    def eval_function(self, dot: Any, name: str, cmd: _Cmd | None, final: Any) -> Any:
        arg_nodes = cmd.args[1:] if cmd is not None else []
        fn = self.funcs.get(name)
        if fn is None:
            raise self.fail(f'"{name}" is not a defined function')
        if fn is _and or fn is _or:
            want_true = fn is _or
            count = len(arg_nodes) + (final is not _NOFINAL)
            if count == 0:
                raise self.fail(f"wrong number of args for {name}: want at least 1 got 0")
            value: Any = None
            for arg in arg_nodes:
                value = _arg(self.eval_arg(dot, arg))
                if is_true(value) == want_true:
                    return value
            if final is not _NOFINAL:
                value = _arg(final)
            return value
        return self.call(dot, fn, name, arg_nodes, final, cmd)

    def call(
        self,
        dot: Any,
        fn: Callable[..., Any],
        name: str,
        arg_nodes: list[_Node],
        final: Any,
        node: _Node | None,
    ) -> Any:
        argv = [_arg(self.eval_arg(dot, arg)) for arg in arg_nodes]
        if final is not _NOFINAL:
            argv.append(_arg(final))
        if node is not None:
            self.node = node
        arity = _ARITY.get(fn)
        if arity is not None:
            low, high = arity
            if len(argv) < low or (high is not None and len(argv) > high):
                if high is None:
                    want = f"at least {low}"
                else:
                    want = str(low)
                raise self.fail(f"wrong number of args for {name}: want {want} got {len(argv)}")
        try:
            return fn(*argv)
        except (_ExecError, _BreakLoop, _ContinueLoop):
            raise
        except Exception as error:  # a Go function returning an error
            raise self.fail(f"error calling {name}: {error}") from None


def _arg(value: Any) -> Any:
    """An invalid value passed to a function arrives as nil, as in Go."""
    return None if value is MISSING else value


# --- Go value printing -------------------------------------------------------


def _type_name(value: Any) -> str:
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


def _sorted_keys(mapping: Any) -> list[Any]:
    keys = list(mapping.keys())
    try:
        return sorted(keys)
    except TypeError:
        return keys


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


def _json_float(value: float) -> str:
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


def _go_print(value: Any) -> str:
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
            + " ".join(f"{go_str(key)}:{go_str(value[key])}" for key in _sorted_keys(value))
            + "]"
        )
    if isinstance(value, bytes):
        return "[" + " ".join(str(b) for b in value) + "]"
    return str(value)


def _go_quote(text: str, quote: str = '"') -> str:
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


def go_json(value: Any, escape_html: bool = False) -> str:
    """Compact JSON as Go's encoding/json writes it.

    Dicts keep their order (a Go struct's field order); sort them beforehand to
    mimic a Go map. ``escape_html`` writes <, >, & as \\u003c, \\u003e, \\u0026
    like ``json.Marshal``; docker's ``json`` template function does not.
    """
    from json.encoder import encode_basestring

    parts: list[str] = []
    _json_into(value, parts, encode_basestring)
    text = "".join(parts)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _json_into(value: Any, parts: list[str], quote: Callable[[str], str]) -> None:
    if isinstance(value, str):
        parts.append(quote(value))
    elif value is None or value is MISSING:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        parts.append(str(int(value)))
    elif isinstance(value, float):
        parts.append(_json_float(value))
    elif isinstance(value, dict):
        parts.append("{")
        first = True
        for key, item in value.items():
            if not first:
                parts.append(",")
            first = False
            parts.append(quote(key if isinstance(key, str) else go_str(key)))
            parts.append(":")
            _json_into(item, parts, quote)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _json_into(item, parts, quote)
        parts.append("]")
    elif isinstance(value, (bytes, bytearray)):
        import binascii

        parts.append('"' + binascii.b2a_base64(bytes(value), newline=False).decode() + '"')
    elif hasattr(value, "__dict__"):
        _json_into({k: v for k, v in vars(value).items() if not k.startswith("_")}, parts, quote)
    else:
        parts.append(quote(str(value)))


# --- printf ------------------------------------------------------------------


def _bad_verb(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_type_name(value)}={go_str(value)})"


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
        return _pad(_type_name(value), width, minus, False)
    if isinstance(value, (list, tuple)):
        inner = " ".join(_fmt_one(item, verb, flags, width, prec) for item in value)
        return "[" + inner + "]"
    if isinstance(value, dict):
        inner = " ".join(
            f"{_fmt_one(k, verb, flags, width, prec)}:{_fmt_one(value[k], verb, flags, width, prec)}"
            for k in _sorted_keys(value)
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
            text = _go_quote(chr(value), quote="'")
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
            text = _go_quote(value if prec is None else value[:prec])
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
            "<nil>" if a is None else f"{_type_name(a)}={go_str(a)}" for a in args[argi:]
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


# --- functions ---------------------------------------------------------------


class _FuncError(Exception):
    """An error a template function returns (Go's second result)."""


def is_true(value: Any) -> bool:
    """Go template truth: false, 0, nil, and empty strings/lists/maps are false."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def _and(*args: Any) -> Any:  # evaluated lazily by _State.eval_function
    raise AssertionError


def _or(*args: Any) -> Any:
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
    raise _FuncError(f"len of type {_type_name(value)}")


def _int_index(index: Any, length: int, cap: int | None = None) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise _FuncError(f"cannot index slice/array with type {_type_name(index)}")
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
            raise _FuncError(f"can't index item of type {_type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _FuncError("slice of untyped nil")
    if not isinstance(item, (list, tuple, str)):
        raise _FuncError(f"can't slice item of type {_type_name(item)}")
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
        raise _FuncError(f"wrong type for value; expected string; got {_type_name(value)}")
    return value


def _json(value: Any) -> str:
    try:
        return go_json(value)
    except ValueError:
        return ""  # docker ignores the encoder's error


def _join(elems: Any, sep: Any) -> str:
    if elems is None:
        return ""
    if not isinstance(elems, (list, tuple)):
        raise _FuncError(f"wrong type for value; expected []string; got {_type_name(elems)}")
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
    "and": _and,
    "or": _or,
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

_ARITY: dict[Any, tuple[int, int | None]] = {
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


# --- public API --------------------------------------------------------------


class Template:
    """A parsed template; execute it once per value."""

    __slots__ = ("source", "_nodes", "_funcs")

    def __init__(self, source: str, nodes: list[_Node], funcs: Mapping[str, Any]) -> None:
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
        state = _State(table, data)
        state.out = out
        try:
            state.walk(data, self._nodes)
        except _ExecError as error:
            raise self._exec_error(error) from None
        except (_BreakLoop, _ContinueLoop):  # pragma: no cover - the parser forbids it
            pass

    def _exec_error(self, error: _ExecError) -> TemplateError:
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
    nodes = _Parser(text, table).parse()
    return Template(text, nodes, table)


def render(text: str, data: Any) -> str:
    """Parse and execute in one go."""
    return parse(text).execute(data)
