"""Go text/template's parser: tokens into the parse tree, with Go's error texts."""

from __future__ import annotations

from dockyard.cli.gotemplate.core import TemplateError
from dockyard.cli.gotemplate.gofmt import go_quote
from dockyard.cli.gotemplate.lexer import (
    SPACE,
    T_ASSIGN,
    T_BOOL,
    T_CHAR,
    T_DECLARE,
    T_DOT,
    T_EOF,
    T_ERROR,
    T_FIELD,
    T_IDENT,
    T_KEYWORD,
    T_LEFT,
    T_LPAREN,
    T_NIL,
    T_NUMBER,
    T_PIPE,
    T_PUNCT,
    T_RAW,
    T_RIGHT,
    T_RPAREN,
    T_SPACE,
    T_STRING,
    T_TEXT,
    T_VAR,
    lex,
    parse_number,
    unquote,
)
from dockyard.cli.gotemplate.nodes import (
    Action,
    Chain,
    Cmd,
    Const,
    Control,
    Dot,
    Field,
    Ident,
    Jump,
    Nil,
    Node,
    Pipe,
    Text,
    Var,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class Parser:
    def __init__(self, src: str, funcs: Mapping[str, Any]) -> None:
        self.src = src
        self.funcs = funcs
        toks = lex(src)
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
    def parse(self) -> list[Node]:
        nodes: list[Node] = []
        while self.peek()[0] != T_EOF:
            node = self.text_or_action()
            if isinstance(node, Control) and node.kind in ("end", "else"):
                raise self.error(f"unexpected {{{{{node.kind}}}}}", node.pos)
            nodes.append(node)
        return nodes

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok[0] == T_TEXT:
            return Text(tok[2], tok[1])
        if tok[0] == T_LEFT:
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> Node:
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
                return Jump(tok[2], word)
            raise self.error(f"{{{{{word}}}}} is not supported", tok[2])
        self.i -= 1
        pipe = self.pipeline("command", T_RIGHT)
        node = Action(pipe.pos, pipe.text)
        node.pipe = pipe
        return node

    @staticmethod
    def _marker(kind: str, pos: int) -> Control:
        node = Control(pos, kind)
        node.kind = kind
        return node

    def expect_right(self, context: str) -> None:
        tok = self.next_non_space()
        if tok[0] != T_RIGHT:
            raise self.unexpected(tok, context)

    def control(self, kind: str, pos: int) -> Control:
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
        node = Control(pos, kind)
        node.kind = kind
        node.pipe = pipe
        node.body = body
        node.else_body = else_body
        return node

    def item_list(self) -> tuple[list[Node], Control]:
        nodes: list[Node] = []
        while self.peek_non_space()[0] != T_EOF:
            node = self.text_or_action()
            if isinstance(node, Control) and node.kind in ("end", "else"):
                return nodes, node
            nodes.append(node)
        tok = self.peek()
        if tok[0] == T_ERROR:
            raise self.unexpected(tok, "input")
        raise self.error("unexpected EOF", tok[2])

    def pipeline(self, context: str, end: int) -> Pipe:
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
        cmds: list[Cmd] = []
        while True:
            tok = self.next_non_space()
            if tok[0] == end:
                if not cmds:
                    raise self.error(f"missing value for {context}", tok[2])
                for index, cmd in enumerate(cmds[1:]):
                    if isinstance(cmd.args[0], (Const, Dot, Nil)):
                        raise self.error(f"non executable command in pipeline stage {index + 2}")
                text_end = tok[2]
                pipe = Pipe(start_tok[2], self.src[start_tok[2] : text_end].strip())
                pipe.decl = decl
                pipe.is_assign = is_assign
                pipe.cmds = cmds
                return pipe
            if tok[0] in _OPERAND_START:
                self.i -= 1
                cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def command(self) -> Cmd:
        start = self.peek_non_space()[2]
        args: list[Node] = []
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
        cmd = Cmd(start, self.src[start : tok[2]].strip(SPACE))
        cmd.args = args
        return cmd

    def operand(self) -> Node | None:
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
            if isinstance(node, Field):
                field = Field(node.pos, text)
                field.names = node.names + tuple(names)
                return field
            if isinstance(node, Var):
                var = Var(node.pos, text)
                var.name = node.name
                var.names = node.names + tuple(names)
                return var
            if isinstance(node, (Const, Nil, Dot)):
                raise self.error(f"unexpected . after term {go_quote(node.text)}")
            chain = Chain(node.pos, text)
            chain.node = node
            chain.names = tuple(names)
            return chain
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        kind, text, pos = tok
        if kind == T_IDENT:
            if text not in self.funcs:
                raise self.error(f"function {go_quote(text)} not defined", pos)
            return Ident(pos, text)
        if kind == T_DOT:
            return Dot(pos, ".")
        if kind == T_NIL:
            return Nil(pos, "nil")
        if kind == T_VAR:
            self._use_var(text, pos)
            var = Var(pos, text)
            var.name = text
            var.names = ()
            return var
        if kind == T_FIELD:
            field = Field(pos, text)
            field.names = (text[1:],)
            return field
        if kind in (T_BOOL, T_NUMBER, T_CHAR, T_STRING, T_RAW):
            try:
                if kind == T_BOOL:
                    value: Any = text == "true"
                elif kind == T_STRING:
                    value = unquote(text)
                elif kind == T_RAW:
                    value = text[1:-1].replace("\r", "")
                else:
                    value = parse_number(text)
            except ValueError as error:
                raise self.error(str(error), pos) from None
            node = Const(pos, text)
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
            raise self.error(f"undefined variable {go_quote(base)}", pos)


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
        return go_quote(text[:10]) + "..."
    return go_quote(text)
