"""A lean stand-in for the standard library's ``dataclasses`` (start-up time).

Every ``dockyard`` command is a fresh process, and importing ``dataclasses``
costs about 17 ms (it imports ``inspect``, which pulls in ast, dis and
tokenize) plus a little per decorated class. The modules that the everyday
commands load (run, ps, history, rmi, inspect, ...) use this decorator
instead. It does what those modules use and nothing more:

* ``@dataclass``, ``@dataclass(frozen=True)``, ``@dataclass(order=True)``:
  ``__init__`` (fields in declaration order, base-class fields first),
  ``__repr__``, ``__eq__`` (same class only), ``__hash__`` by the standard
  rules (hashed fields when frozen, unhashable when mutable), the ordering
  methods, ``__match_args__``, and for frozen classes a ``__setattr__`` and
  ``__delattr__`` that raise ``FrozenInstanceError`` (an AttributeError);
* ``field(default=..., default_factory=..., repr=False)``;
* ``fields(class_or_instance)`` and ``asdict(instance)``.

Not supported (use the standard module where needed): ``__post_init__``,
``InitVar``, ``KW_ONLY``/``kw_only``, ``slots``, ``replace`` and
``unsafe_hash``. Methods a class defines itself are kept, as dataclasses does.
``typing.dataclass_transform`` tells type checkers what the decorator does.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:

    def dataclass_transform(**_kwargs):  # a no-op at run time
        return lambda decorated: decorated


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_FIELDS = "__datarecord_fields__"


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class Field:
    __slots__ = ("name", "default", "default_factory", "repr")

    def __init__(self, default: Any, default_factory: Any, repr: bool) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr

    def __repr__(self) -> str:
        return (
            f"Field(name={self.name!r}, default={self.default!r}, "
            f"default_factory={self.default_factory!r}, repr={self.repr!r})"
        )


def field(
    *, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING, repr: bool = True
) -> Any:
    """A field with a default, a default factory, or left out of the repr."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, repr)


@dataclass_transform(field_specifiers=(field, Field))
def dataclass(
    cls: Any = None,
    /,
    *,
    frozen: bool = False,
    order: bool = False,
    eq: bool = True,
    repr: bool = True,
) -> Any:
    """Add the generated methods to ``cls`` (see the module docstring)."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _process(cls, frozen=frozen, order=order, eq=eq, repr=repr)

    return wrap if cls is None else wrap(cls)


def fields(class_or_instance: Any) -> tuple[Field, ...]:
    try:
        return getattr(class_or_instance, _FIELDS)
    except AttributeError:
        raise TypeError("must be called with a dataclass type or instance") from None


def asdict(obj: Any) -> dict[str, Any]:
    """The fields as a dict, recursing into records, lists, tuples and dicts
    (other values are shared, not deep-copied as dataclasses.asdict does)."""
    if not hasattr(type(obj), _FIELDS):
        raise TypeError("asdict() should be called on dataclass instances")
    return _asdict(obj)


def _asdict(value: Any) -> Any:
    record_fields = getattr(type(value), _FIELDS, None)
    if record_fields is not None:
        return {f.name: _asdict(getattr(value, f.name)) for f in record_fields}
    if isinstance(value, list | tuple):
        return type(value)(_asdict(item) for item in value)
    if isinstance(value, dict):
        return type(value)((_asdict(k), _asdict(v)) for k, v in value.items())
    return value


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _process(cls: Any, *, frozen: bool, order: bool, eq: bool, repr: bool) -> Any:
    collected: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for inherited in base.__dict__.get(_FIELDS, ()):
            collected[inherited.name] = inherited
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, Field):
            spec = value
            if spec.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
        else:
            spec = Field(value, MISSING, True)
        spec.name = name
        collected[name] = spec
    record_fields = tuple(collected.values())
    setattr(cls, _FIELDS, record_fields)

    names = tuple(f.name for f in record_fields)
    own = cls.__dict__
    qualname = cls.__qualname__

    def method(name: str, function: Any) -> None:
        if name not in own:
            function.__qualname__ = f"{qualname}.{name}"
            setattr(cls, name, function)

    # __init__ is compiled on the first instantiation: compiling costs about
    # 0.1 ms a class, and most classes a command loads are never instantiated.
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = _compile_init(record_fields, frozen)
        init.__qualname__ = f"{qualname}.__init__"
        cls.__init__ = init
        init(self, *args, **kwargs)

    method("__init__", __init__)

    if len(names) == 1:
        only = names[0]

        def key(obj: Any) -> tuple[Any, ...]:
            return (getattr(obj, only),)
    else:
        from operator import attrgetter

        key = attrgetter(*names) if names else lambda obj: ()

    if repr:
        shown = tuple(f.name for f in record_fields if f.repr)

        def __repr__(self: Any) -> str:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
            return f"{self.__class__.__qualname__}({inner})"

        method("__repr__", __repr__)

    if eq:

        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return key(self) == key(other)
            return NotImplemented

        method("__eq__", __eq__)

    if order:

        def __lt__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return key(self) < key(other)
            return NotImplemented

        def __le__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return key(self) <= key(other)
            return NotImplemented

        def __gt__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return key(self) > key(other)
            return NotImplemented

        def __ge__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return key(self) >= key(other)
            return NotImplemented

        method("__lt__", __lt__)
        method("__le__", __le__)
        method("__gt__", __gt__)
        method("__ge__", __ge__)

    class_hash = own.get("__hash__", MISSING)
    explicit_hash = not (class_hash is MISSING or (class_hash is None and "__eq__" in own))
    if eq and not explicit_hash:
        if frozen:

            def __hash__(self: Any) -> int:
                return hash(key(self))

            __hash__.__qualname__ = f"{qualname}.__hash__"
            cls.__hash__ = __hash__
        else:
            cls.__hash__ = None

    if "__match_args__" not in own:
        cls.__match_args__ = names

    if frozen:
        frozen_names = frozenset(names)

        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is cls or name in frozen_names:
                raise FrozenInstanceError(f"cannot assign to field {name!r}")
            super(cls, self).__setattr__(name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is cls or name in frozen_names:
                raise FrozenInstanceError(f"cannot delete field {name!r}")
            super(cls, self).__delattr__(name)

        method("__setattr__", __setattr__)
        method("__delattr__", __delattr__)
    return cls


def _compile_init(record_fields: tuple[Field, ...], frozen: bool) -> Any:
    """The __init__ dataclasses would write: the same signature and errors."""
    namespace: dict[str, Any] = {"MISSING": MISSING, "__object_setattr": object.__setattr__}
    params: list[str] = []
    body: list[str] = []
    for f in record_fields:
        if f.default_factory is not MISSING:
            namespace[f"__factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=MISSING")
            value = f"__factory_{f.name}() if {f.name} is MISSING else {f.name}"
        elif f.default is not MISSING:
            namespace[f"__default_{f.name}"] = f.default
            params.append(f"{f.name}=__default_{f.name}")
            value = f.name
        else:
            params.append(f.name)
            value = f.name
        if frozen:
            body.append(f"    __object_setattr(__self, {f.name!r}, {value})")
        else:
            body.append(f"    __self.{f.name} = {value}")
    source = f"def __init__(__self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # generated from the field names only
    return namespace["__init__"]
