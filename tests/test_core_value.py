"""``@value`` behaves like ``@dataclass(frozen=True[, order=True])`` (tdxpolicy/_value.py)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import pydoc
from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tdxpolicy
from tdxpolicy._value import value

PKG = Path(tdxpolicy.__file__).resolve().parent


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


# --- a complete decorator: signatures, refused options, one convention -------------------------


def test_signature_is_the_dataclass_signature() -> None:
    # help(), inspect.signature and IDEs that introspect at run time see the fields, exactly as
    # for a dataclass (defaults, '<factory>', annotations as written).
    assert str(inspect.signature(V)) == str(inspect.signature(D))
    assert str(inspect.signature(V.__init__)) == str(inspect.signature(D.__init__))
    assert list(inspect.signature(WithPost).parameters) == ["x", "y"]
    page = pydoc.render_doc(V, renderer=pydoc.plaintext)
    assert "V(a: 'int', b: 'str' = 'x', c: 'tuple[int, ...]' = <factory>" in page
    assert "*args" not in page
    assert V.__doc__ is None  # no docstring invented (dataclasses would format one)


def _public_value_types() -> list[type]:
    out: list[type] = []
    for info in pkgutil.walk_packages(tdxpolicy.__path__, "tdxpolicy."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == info.name and dataclasses.is_dataclass(obj):
                out.append(obj)
    return out


def test_every_value_type_of_the_package_shows_its_fields() -> None:
    types = _public_value_types()
    assert len(types) >= 55  # the package's value types and working records, not a sample
    for cls in types:
        names = [f.name for f in dataclasses.fields(cls)]
        assert list(inspect.signature(cls).parameters) == names, cls
    for name in tdxpolicy.__all__:
        obj = getattr(tdxpolicy, name)
        if dataclasses.is_dataclass(obj):
            params = inspect.signature(obj).parameters
            assert "args" not in params and list(params) == [f.name for f in dataclasses.fields(obj)]


def test_unsupported_dataclass_features_raise() -> None:
    with pytest.raises(TypeError, match=r"field\(init=False\) on 'b'"):
        @value
        class NoInit:
            a: int
            b: int = field(default=0, init=False)

    with pytest.raises(TypeError, match="keyword-only field 'b'"):
        @value
        class KwOnly:
            a: int
            b: int = field(default=0, kw_only=True)

    with pytest.raises(TypeError, match="keyword-only field 'b'"):
        @value
        class KwOnlyMarker:
            a: int
            _: dataclasses.KW_ONLY
            b: int = 0

    with pytest.raises(TypeError, match="InitVar field 'seed'"):
        @value
        class WithInitVar:
            a: int
            seed: dataclasses.InitVar[int] = 0

    with pytest.raises(TypeError, match="inheriting from the dataclass V"):
        @value
        class Sub(V):
            d: int = 0

    # A ClassVar is not a field and is fine.
    @value
    class WithClassVar:
        limit: ClassVar[int] = 3
        a: int = 1

    assert [f.name for f in dataclasses.fields(WithClassVar)] == ["a"] and WithClassVar.limit == 3


# Every immutable record of the package is a @value; @dataclass is left to mutable working
# state (accumulators filled while a command runs). No exception.
_FROZEN_DATACLASS_EXCEPTIONS: set[tuple[str, str]] = set()


def test_one_value_convention_across_the_package() -> None:
    frozen: set[tuple[str, str]] = set()
    values = 0
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for deco in node.decorator_list:
                call = deco if isinstance(deco, ast.Call) else None
                target = call.func if call is not None else deco
                name = ast.unparse(target)
                if name in ("value", "_value.value"):
                    values += 1
                elif name in ("dataclass", "dataclasses.dataclass"):
                    kwargs = {k.arg: ast.unparse(k.value) for k in (call.keywords if call else [])}
                    if kwargs.get("frozen") == "True":
                        frozen.add((path.relative_to(PKG).as_posix(), node.name))
    assert frozen == _FROZEN_DATACLASS_EXCEPTIONS
    assert values >= 50
