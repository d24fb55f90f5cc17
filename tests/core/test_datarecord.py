"""dockyard.datarecord behaves like the standard dataclasses for what it supports."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from types import ModuleType

import pytest

from dockyard import datarecord


def _classes(mod: ModuleType) -> dict[str, type]:
    @mod.dataclass(frozen=True, order=True)
    class Value:
        algorithm: str
        hex: str

        def __str__(self) -> str:
            return f"{self.algorithm}:{self.hex}"

    @mod.dataclass
    class Mutable:
        a: int
        data: dict = mod.field(repr=False)
        items: list = mod.field(default_factory=list)
        name: str = "x"
        count: int = mod.field(default=3)

    @mod.dataclass(frozen=True)
    class One:
        x: int = 0

    @mod.dataclass
    class Child(Mutable):
        extra: bool = False

    @mod.dataclass(frozen=True)
    class OwnHash:
        x: int

        def __hash__(self) -> int:
            return 7

    return {c.__name__: c for c in (Value, Mutable, One, Child, OwnHash)}


def _outcome(call):  # type: ignore[no-untyped-def]
    try:
        return ("ok", call())
    except Exception as error:  # noqa: BLE001 - the outcome is compared
        return (
            type(error).__mro__[1 if type(error).__name__ == "FrozenInstanceError" else 0].__name__,
            str(error),
        )


def _behaviour(mod: ModuleType) -> list:
    c = _classes(mod)
    Value, Mutable, One, Child, OwnHash = (
        c[n] for n in ("Value", "Mutable", "One", "Child", "OwnHash")
    )
    a, b = Value("sha256", "ab"), Value("sha256", "ac")
    m = Mutable(1, {"k": 1})
    seen = [
        repr(a), str(a), a < b, a <= b, a > b, a >= b, a == Value("sha256", "ab"), a != b, a == "x",
        hash(a) == hash(Value("sha256", "ab")), sorted([b, a]) == [a, b], {a, Value("sha256", "ab")} == {a},
        _outcome(lambda: setattr(a, "hex", "x")), _outcome(lambda: delattr(a, "hex")),
        _outcome(lambda: a < 1), repr(m), m.items, m.name, m.count, Mutable(1, {}) == Mutable(1, {}),
        Mutable.__hash__, Mutable.name, hasattr(Mutable, "data"), hasattr(Mutable, "items"),
        _outcome(lambda: Mutable()), _outcome(lambda: Mutable(1, {}, [], "n", 1, 2)),
        _outcome(lambda: Mutable(1, {}, a=2)), _outcome(lambda: Mutable(1, {}, bogus=2)),
        Mutable(1, {}).items is not Mutable(1, {}).items, Mutable(a=1, data={}, name="y").name,
        repr(One()), hash(One(1)) == hash(One(1)), One(1) == One(1), _outcome(lambda: One(1) < One(2)),
        Value.__match_args__, Mutable.__match_args__, Child.__match_args__, repr(Child(1, {}, extra=True)),
        Child(1, {}) == Mutable(1, {}), hash(OwnHash(1)), list(vars(m)), copy.deepcopy(m) == m,
        mod.asdict(m), [f.name for f in mod.fields(Mutable)], [f.name for f in mod.fields(m)],
        _outcome(lambda: mod.asdict(1)), _outcome(lambda: mod.fields(1)),
    ]  # fmt: skip
    m.a = 5
    seen.append(m.a)
    return seen


def test_behaves_like_dataclasses() -> None:
    assert _behaviour(datarecord) == _behaviour(dataclasses)


@datarecord.dataclass(frozen=True)
class Pickled:
    x: int
    y: list = datarecord.field(default_factory=list)


def test_pickle_and_copy() -> None:
    value = Pickled(1, [2])
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.copy(value) == value
    with pytest.raises(AttributeError):
        value.x = 2  # type: ignore[misc]


def test_field_rejects_both_defaults() -> None:
    with pytest.raises(ValueError):
        datarecord.field(default=1, default_factory=list)
