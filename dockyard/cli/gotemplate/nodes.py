"""The parse tree of a template."""

from __future__ import annotations


class Node:
    __slots__ = ("pos", "text")

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text


class Text(Node):
    __slots__ = ()


class Action(Node):
    __slots__ = ("pipe",)


class Control(Node):
    __slots__ = ("kind", "pipe", "body", "else_body")


class Jump(Node):
    __slots__ = ()  # text is "break" or "continue"


class Pipe(Node):
    __slots__ = ("decl", "is_assign", "cmds")


class Cmd(Node):
    __slots__ = ("args",)


class Field(Node):
    __slots__ = ("names",)


class Var(Node):
    __slots__ = ("name", "names")


class Chain(Node):
    __slots__ = ("node", "names")


class Ident(Node):
    __slots__ = ()  # text is the function name


class Dot(Node):
    __slots__ = ()


class Nil(Node):
    __slots__ = ()


class Const(Node):
    __slots__ = ("value",)
