"""``@value``: a frozen dataclass whose methods are not compiled at import time.

Why this exists: on Python 3.11 ``@dataclass(frozen=True)`` compiles six to ten methods per
class with ``exec``; the value types the CLI needs at start-up (versions, model, verdicts) made
about 200 such calls, 14 ms of every cold run, and cold ``list``/``can-upgrade`` must stay
within 1.3x of ``import typer`` (issues #2 and #3). ``@value`` lets :mod:`dataclasses` process
the fields (so ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` keep
working) but generates no code: ``__init__``, ``__eq__``, ``__hash__``, ``__repr__``, the order
methods and the frozen ``__setattr__``/``__delattr__`` are closures over the field list.

Semantics are those of ``@dataclass(frozen=True[, order=True])`` for what this package uses:
positional or keyword arguments, defaults and ``default_factory``, ``compare=False`` /
``hash=False`` / ``repr=False`` fields, ``__post_init__``, methods defined in the class body
win. ``tests/test_core_value.py`` checks it against real dataclasses. Instances cost a little
more to build (about 1 microsecond per field); nothing here builds them in a hot loop that
the memoizing callers (fleet, path search) do not already avoid.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar, dataclass_transform, overload

__all__ = ["value"]

C = TypeVar("C", bound=type)

_MISSING = dataclasses.MISSING
_set = object.__setattr__


def _make_init(cls: type, fields: list[dataclasses.Field[Any]]) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    n = len(names)
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for f in fields:
        if f.default is not _MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not _MISSING:
            factories[f.name] = f.default_factory
    post_init = getattr(cls, "__post_init__", None) is not None
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nargs = len(args)
        if nargs > n:
            raise TypeError(
                f"{qualname}.__init__() takes {n + 1} positional arguments but {nargs + 1} were given"
            )
        for i in range(nargs):
            _set(self, names[i], args[i])
        used = 0
        for name in names[nargs:]:
            if name in kwargs:
                _set(self, name, kwargs[name])
                used += 1
            elif name in defaults:
                _set(self, name, defaults[name])
            elif name in factories:
                _set(self, name, factories[name]())
            else:
                raise TypeError(f"{qualname}.__init__() missing required argument: '{name}'")
        if used != len(kwargs):
            for k in kwargs:
                if k not in names:
                    raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument '{k}'")
                if names.index(k) < nargs:
                    raise TypeError(f"{qualname}.__init__() got multiple values for argument '{k}'")
        if post_init:
            self.__post_init__()

    return __init__


@overload
def value(cls: C, /) -> C: ...
@overload
def value(*, order: bool = False) -> Callable[[C], C]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def value(cls: Any = None, /, *, order: bool = False) -> Any:
    """Class decorator: a frozen dataclass (see the module docstring)."""

    def wrap(cls: C) -> C:
        if cls.__doc__ is None:
            # dataclasses would compute a signature for the docstring (inspect is slow).
            cls.__doc__ = cls.__name__
        dataclasses.dataclass(cls, init=False, repr=False, eq=False)  # fields only, in place
        fields = list(dataclasses.fields(cls))
        cmp_names = tuple(f.name for f in fields if f.compare)
        hash_names = tuple(
            f.name for f in fields if (f.hash if f.hash is not None else f.compare)
        )
        repr_names = tuple(f.name for f in fields if f.repr)
        own = cls.__dict__
        qualname = cls.__qualname__

        def key(self: Any) -> tuple[Any, ...]:
            return tuple([getattr(self, a) for a in cmp_names])

        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return key(self) == key(other)
            return NotImplemented

        def __hash__(self: Any) -> int:
            return hash(tuple([getattr(self, a) for a in hash_names]))

        def __repr__(self: Any) -> str:
            inner = ", ".join(f"{a}={getattr(self, a)!r}" for a in repr_names)
            return f"{qualname}({inner})"

        def __setattr__(self: Any, name: str, val: Any) -> None:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self: Any, name: str) -> None:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

        methods: dict[str, Any] = {
            "__init__": _make_init(cls, fields),
            "__eq__": __eq__,
            "__hash__": __hash__,
            "__repr__": __repr__,
            "__setattr__": __setattr__,
            "__delattr__": __delattr__,
        }
        if order:

            def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
                def method(self: Any, other: Any) -> Any:
                    if other.__class__ is self.__class__:
                        return op(key(self), key(other))
                    return NotImplemented

                return method

            methods["__lt__"] = _cmp(lambda a, b: a < b)
            methods["__le__"] = _cmp(lambda a, b: a <= b)
            methods["__gt__"] = _cmp(lambda a, b: a > b)
            methods["__ge__"] = _cmp(lambda a, b: a >= b)
        for name, fn in methods.items():
            # Like dataclasses: a method written in the class body wins. (__hash__ is special:
            # a class body that defines __eq__ gets __hash__ = None implicitly; ours replaces it.)
            if name in own and not (name == "__hash__" and own[name] is None):
                continue
            fn.__qualname__ = f"{qualname}.{name}"
            setattr(cls, name, fn)
        # Mark frozen for dataclasses.replace() and introspection.
        cls.__dataclass_params__.frozen = True  # type: ignore[attr-defined]
        return cls

    if cls is None:
        return wrap
    return wrap(cls)
