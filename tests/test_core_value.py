"""``@value`` behaves like ``@dataclass(frozen=True[, order=True])`` (tdxpolicy/_value.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdxpolicy._value import value


@value(order=True)
class V:
    a: int
    b: str = "x"
    c: tuple[int, ...] = field(default_factory=tuple)
    note: str = field(default="", compare=False, hash=False, repr=False)


@dataclasses.dataclass(frozen=True, order=True)
class D:
    a: int
    b: str = "x"
    c: tuple[int, ...] = field(default_factory=tuple)
    note: str = field(default="", compare=False, hash=False, repr=False)


@value
class WithPost:
    """Has a docstring."""

    x: int
    y: int = 0

    def __post_init__(self) -> None:
        if not self.y:
            object.__setattr__(self, "y", self.x * 2)

    def __repr__(self) -> str:
        return f"WithPost<{self.x}>"


args = st.tuples(st.integers(-3, 3), st.sampled_from(["x", "y"]), st.tuples(st.integers(0, 2)))


@given(args, args)
def test_same_semantics_as_dataclass(p: Any, q: Any) -> None:
    v1, v2, d1, d2 = V(*p), V(*q), D(*p), D(*q)
    assert (v1 == v2) == (d1 == d2)
    assert (v1 < v2) == (d1 < d2)
    assert (v1 <= v2) == (d1 <= d2)
    assert (v1 > v2) == (d1 > d2)
    assert (v1 >= v2) == (d1 >= d2)
    assert (hash(v1) == hash(V(*p)))
    assert repr(v1).replace("V(", "D(") == repr(d1).split(".")[-1] or repr(v1)[1:] == repr(d1)[1:]


def test_construction_forms() -> None:
    assert V(1) == V(a=1) == V(1, "x", ()) == V(1, c=())
    assert V(1, note="a") == V(1, note="b")  # compare=False
    assert hash(V(1, note="a")) == hash(V(1, note="b"))
    assert repr(V(1, "y", (2,))) == "V(a=1, b='y', c=(2,))"
    with pytest.raises(TypeError, match="missing required argument: 'a'"):
        V()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        V(1, z=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'a'"):
        V(1, a=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional arguments"):
        V(1, "x", (), "n", 5)  # type: ignore[call-arg]


def test_frozen_and_dataclass_api() -> None:
    v = V(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.a = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del v.a  # type: ignore[misc]
    assert dataclasses.is_dataclass(v)
    assert [f.name for f in dataclasses.fields(v)] == ["a", "b", "c", "note"]
    assert dataclasses.replace(v, b="z") == V(1, "z")
    assert dataclasses.asdict(v) == {"a": 1, "b": "x", "c": (), "note": ""}
    assert V(1) != D(1) and V(1).__eq__(D(1)) is NotImplemented
    assert V(1).c is not V(1).c or V(1).c == ()  # a fresh default each time


def test_post_init_and_own_methods_win() -> None:
    w = WithPost(3)
    assert w.y == 6 and repr(w) == "WithPost<3>"
    assert WithPost(3) == WithPost(3, 6) and {WithPost(3): 1}[WithPost(3, 6)] == 1
    assert WithPost.__doc__ == "Has a docstring."
