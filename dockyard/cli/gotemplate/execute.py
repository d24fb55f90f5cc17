"""Executing a parse tree against Python data with Go's semantics."""

from __future__ import annotations

from dockyard.cli.gotemplate.core import MISSING, NOFINAL
from dockyard.cli.gotemplate.funcs import ARITY, go_and, go_or, is_true
from dockyard.cli.gotemplate.gofmt import go_print, sorted_keys, type_name
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
    from collections.abc import Callable, Mapping
    from typing import Any


class BreakLoop(Exception):
    pass


class ContinueLoop(Exception):
    pass


class ExecError(Exception):
    def __init__(self, node: Node | None, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class State:
    __slots__ = ("funcs", "vars", "out", "node")

    def __init__(self, funcs: Mapping[str, Any], data: Any) -> None:
        self.funcs = funcs
        self.vars: list[list[Any]] = [["$", data]]
        self.out: list[str] = []
        self.node: Node | None = None

    def fail(self, message: str) -> ExecError:
        return ExecError(self.node, message)

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
    def walk(self, dot: Any, nodes: list[Node]) -> None:
        out = self.out
        for node in nodes:
            if type(node) is Text:
                out.append(node.text)
            elif type(node) is Action:
                self.node = node
                value = self.eval_pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    out.append(go_print(value))
            elif type(node) is Control:
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    self.walk_if_with(dot, node)
            elif type(node) is Jump:
                raise BreakLoop() if node.text == "break" else ContinueLoop()

    def walk_if_with(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        self.node = node
        value = self.eval_pipeline(dot, node.pipe)
        if is_true(value):
            self.walk(value if node.kind == "with" else dot, node.body)
        elif node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: Control) -> None:
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
                except ContinueLoop:
                    pass
                del self.vars[body_mark:]
        except BreakLoop:
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
            return [(key, value[key]) for key in sorted_keys(value)]
        if isinstance(value, bool) or isinstance(value, (str, float)):
            raise self.fail(f"range can't iterate over {go_print(value)}")
        if isinstance(value, int):
            if nvars > 1:
                raise self.fail(f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        if hasattr(value, "keys") and hasattr(value, "__getitem__"):
            return [(key, value[key]) for key in sorted_keys(value)]
        if hasattr(value, "__iter__"):
            return enumerate(value)
        raise self.fail(f"range can't iterate over {go_print(value)}")

    # evaluation
    def eval_pipeline(self, dot: Any, pipe: Pipe) -> Any:
        value = NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def eval_command(self, dot: Any, cmd: Cmd, final: Any) -> Any:
        first = cmd.args[0]
        kind = type(first)
        self.node = first
        if kind is Field:
            return self.eval_chain(dot, dot, first, first.names, cmd.args, final)
        if kind is Var:
            value = self.lookup(first.name)
            if not first.names:
                self._not_a_function(cmd.args, final)
                return value
            return self.eval_chain(dot, value, first, first.names, cmd.args, final)
        if kind is Chain:
            if type(first.node) is Nil:
                raise self.fail(f"indirection through explicit nil in {first.text}")
            value = self.eval_arg(dot, first.node)
            self.node = first
            return self.eval_chain(dot, value, first, first.names, cmd.args, final)
        if kind is Ident:
            return self.eval_function(dot, first.text, cmd, final)
        self._not_a_function(cmd.args, final)
        if kind is Pipe:
            return self.eval_pipeline(dot, first)
        if kind is Const:
            return first.value
        if kind is Dot:
            return dot
        raise self.fail("nil is not a command")

    def _not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not NOFINAL:
            raise self.fail(f"can't give argument to non-function {args[0].text}")

    def eval_arg(self, dot: Any, node: Node) -> Any:
        self.node = node
        kind = type(node)
        if kind is Dot:
            return dot
        if kind is Const:
            return node.value
        if kind is Nil:
            return None
        if kind is Field:
            return self.eval_chain(dot, dot, node, node.names, [node], NOFINAL)
        if kind is Var:
            value = self.lookup(node.name)
            if node.names:
                return self.eval_chain(dot, value, node, node.names, [node], NOFINAL)
            return value
        if kind is Pipe:
            return self.eval_pipeline(dot, node)
        if kind is Ident:
            return self.eval_function(dot, node.text, None, NOFINAL)
        if kind is Chain:
            value = self.eval_arg(dot, node.node)
            self.node = node
            return self.eval_chain(dot, value, node, node.names, [node], NOFINAL)
        raise self.fail(f"can't handle {node.text} for arg")

    def eval_chain(
        self,
        dot: Any,
        receiver: Any,
        node: Node,
        names: tuple[str, ...],
        args: list[Node],
        final: Any,
    ) -> Any:
        last = len(names) - 1
        for i, name in enumerate(names):
            if i < last:
                receiver = self.eval_field(dot, name, node, None, NOFINAL, receiver)
            else:
                receiver = self.eval_field(dot, name, node, args, final, receiver)
        return receiver

    def eval_field(
        self,
        dot: Any,
        name: str,
        node: Node,
        args: list[Node] | None,
        final: Any,
        receiver: Any,
    ) -> Any:
        self.node = node
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            raise self.fail(f"nil pointer evaluating interface {{}}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not NOFINAL
        if isinstance(receiver, dict):
            if has_args:
                raise self.fail(f"{name} is not a method but has arguments")
            return receiver.get(name, MISSING)
        if isinstance(receiver, (str, int, float, list, tuple)) or name.startswith("_"):
            raise self.fail(f"can't evaluate field {name} in type {type_name(receiver)}")
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
            raise self.fail(f"can't evaluate field {name} in type {type_name(receiver)}") from None
        if callable(value) and not isinstance(value, type):
            return self.call(dot, value, name, args[1:] if args else [], final, node)
        if has_args:
            raise self.fail(f"{name} has arguments but cannot be invoked as function")
        return value

    def eval_function(self, dot: Any, name: str, cmd: Cmd | None, final: Any) -> Any:
        arg_nodes = cmd.args[1:] if cmd is not None else []
        fn = self.funcs.get(name)
        if fn is None:
            raise self.fail(f'"{name}" is not a defined function')
        if fn is go_and or fn is go_or:
            want_true = fn is go_or
            count = len(arg_nodes) + (final is not NOFINAL)
            if count == 0:
                raise self.fail(f"wrong number of args for {name}: want at least 1 got 0")
            value: Any = None
            for arg in arg_nodes:
                value = _arg(self.eval_arg(dot, arg))
                if is_true(value) == want_true:
                    return value
            if final is not NOFINAL:
                value = _arg(final)
            return value
        return self.call(dot, fn, name, arg_nodes, final, cmd)

    def call(
        self,
        dot: Any,
        fn: Callable[..., Any],
        name: str,
        arg_nodes: list[Node],
        final: Any,
        node: Node | None,
    ) -> Any:
        argv = [_arg(self.eval_arg(dot, arg)) for arg in arg_nodes]
        if final is not NOFINAL:
            argv.append(_arg(final))
        if node is not None:
            self.node = node
        arity = ARITY.get(fn)
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
        except (ExecError, BreakLoop, ContinueLoop):
            raise
        except Exception as error:  # a Go function returning an error
            raise self.fail(f"error calling {name}: {error}") from None


def _arg(value: Any) -> Any:
    """An invalid value passed to a function arrives as nil, as in Go."""
    return None if value is MISSING else value
