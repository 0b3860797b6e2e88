"""``@value``: the package's one convention for value types (frozen dataclasses whose methods
are not compiled at import time).

Every immutable record in :mod:`tdxpolicy` is declared with ``@value`` (``@value(order=True)``
when it sorts); ``tests/test_core_value.py`` keeps it that way. Mutable working state (an
accumulator filled while a command runs) is a plain ``@dataclass`` and is not a value.

Why not ``@dataclass(frozen=True[, slots=True])``: on Python 3.11 it compiles six to ten
methods per class with ``exec``; the value types the CLI needs at start-up (versions, model, verdicts) made
about 200 such calls, 14 ms of every cold run, and cold ``list``/``can-upgrade`` must stay
within 1.3x of ``import typer`` (issues #2 and #3). ``@value`` lets :mod:`dataclasses` process
the fields (so ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` keep
working) but generates no code: ``__init__``, ``__eq__``, ``__hash__``, ``__repr__``, the order
methods and the frozen ``__setattr__``/``__delattr__`` are closures over the field list.

Semantics are those of ``@dataclass(frozen=True[, order=True])``: positional or keyword
arguments, defaults and ``default_factory``, ``compare=False`` / ``hash=False`` / ``repr=False``
fields, ``__post_init__``, methods defined in the class body win, and ``inspect.signature`` /
``help()`` show the fields (``__init__`` carries a real :class:`inspect.Signature`, built from
the field list without compiling anything). ``tests/test_core_value.py`` checks it against
real dataclasses.

What dataclasses offers beyond that is refused at class creation with a :class:`TypeError`
rather than silently ignored: ``field(init=False)``, keyword-only fields (``kw_only=True``,
``KW_ONLY``), ``InitVar`` pseudo-fields, and inheriting from another dataclass.

Validation: ``__post_init__`` is the hook. Types of the public API check their fields there and
raise :class:`tdxpolicy.errors.InvalidArgument` naming the field
(``InvalidArgument.expected(...)``); the answer types the engine builds (checks, verdicts,
paths) and the internal records do not pay for it.

Instances cost a little more to build than a dataclass's (about 1 microsecond per field);
nothing here builds them in a hot loop that the memoizing callers (fleet, path search) do not
already avoid.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, TypeVar, dataclass_transform, overload

__all__ = ["value"]

C = TypeVar("C", bound=type)

_MISSING = dataclasses.MISSING
_set = object.__setattr__
_Parameter = inspect.Parameter


class _Factory:
    """The default shown in a signature for a ``default_factory`` field (as dataclasses do)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _signature(fields: list[dataclasses.Field[Any]]) -> inspect.Signature:
    """``(self, field, ...)`` for ``__init__``: what ``help()``, ``inspect.signature`` and
    IDEs that introspect at run time show. Annotations stay the source text (the modules use
    ``from __future__ import annotations``), as in a dataclass's own signature."""
    kind = _Parameter.POSITIONAL_OR_KEYWORD
    params = [_Parameter("self", kind)]
    for f in fields:
        if f.default is not _MISSING:
            default = f.default
        elif f.default_factory is not _MISSING:
            default = _FACTORY
        else:
            default = _Parameter.empty
        params.append(_Parameter(f.name, kind, default=default, annotation=f.type))
    return inspect.Signature(params, return_annotation=None)


def _refuse_dataclass_bases(cls: type) -> None:
    # Checked before dataclasses runs, whose own error for this case is about frozen-ness.
    for base in cls.__mro__[1:]:
        if dataclasses.is_dataclass(base):
            raise TypeError(f"@value class {cls.__qualname__}: inheriting from the dataclass "
                            f"{base.__qualname__} is not supported (declare the fields in one "
                            "class)")


def _refuse_unsupported_fields(cls: type, fields: list[dataclasses.Field[Any]]) -> None:
    """Field options ``@value`` does not implement raise instead of being ignored."""
    where = f"@value class {cls.__qualname__}"
    every = cls.__dataclass_fields__  # type: ignore[attr-defined]
    if len(every) != len(fields):
        # The pseudo-fields dataclasses.fields() leaves out are ClassVars (fine: not fields)
        # and InitVars (init-only arguments, which this __init__ does not pass on).
        real = {f.name for f in fields}
        for f in every.values():
            if f.name not in real and "ClassVar" not in str(f.type):
                raise TypeError(f"{where}: InitVar field {f.name!r} is not supported")
    for f in fields:
        if not f.init:
            raise TypeError(f"{where}: field(init=False) on {f.name!r} is not supported")
        if f.kw_only is True:
            raise TypeError(f"{where}: keyword-only field {f.name!r} is not supported")


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
        undocumented = cls.__doc__ is None
        if undocumented:
            # dataclasses would format a signature into the docstring (slow at import; help()
            # shows the signature anyway).
            cls.__doc__ = cls.__name__
        _refuse_dataclass_bases(cls)
        dataclasses.dataclass(cls, init=False, repr=False, eq=False)  # fields only, in place
        if undocumented:
            cls.__doc__ = None
        fields = list(dataclasses.fields(cls))
        _refuse_unsupported_fields(cls, fields)
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
            if name == "__init__":
                fn.__signature__ = _signature(fields)
            setattr(cls, name, fn)
        # Mark frozen for dataclasses.replace() and introspection.
        cls.__dataclass_params__.frozen = True  # type: ignore[attr-defined]
        return cls

    if cls is None:
        return wrap
    return wrap(cls)
