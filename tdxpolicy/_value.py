"""``@value``: the package's one convention for value types (frozen dataclasses whose methods
are not compiled at import time).

Every immutable record in :mod:`tdxpolicy` is declared with ``@value`` (``@value(order=True)``
when it sorts); ``tests/test_core_value.py`` keeps it that way. Mutable working state (an
accumulator filled while a command runs) is a plain ``@dataclass`` and is not a value.

Why not ``@dataclass(frozen=True[, slots=True])``: on Python 3.11 it compiles six to ten
methods per class with ``exec``; the value types the CLI needs at start-up (versions, model,
verdicts) made about 200 such calls, 14 ms of every cold run, and cold ``list``/``can-upgrade``
must stay within 1.3x of ``import typer`` (issues #2 and #3). ``@value`` generates no code:
it reads the fields from the class body itself (annotations in order, defaults, :func:`field`
options); ``__init__`` is a closure over that field list, and ``__eq__``, ``__hash__``,
``__repr__``, the order methods and the frozen ``__setattr__``/``__delattr__`` are functions of
this module that every value class shares, reading the field names the class records.

:mod:`dataclasses` still describes every value class (``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass`` work), but only when asked: ``__dataclass_fields__`` is a
descriptor that has :mod:`dataclasses` process the class on first access, and checks that it
finds exactly the fields ``@value`` read. A cold command never asks, so it neither imports
:mod:`dataclasses` nor pays its per-class processing (about 1.5 ms of every cold run:
docs/performance.md#value-classes). Value modules take :func:`field` and :func:`replace` from
here for the same reason; ``dataclasses.field`` in a class body is understood too.

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

import inspect
import sys
from typing import Any, Callable, TypeVar, dataclass_transform, overload

__all__ = ["value", "field", "replace", "MISSING"]

C = TypeVar("C", bound=type)
T = TypeVar("T")

_set = object.__setattr__
_Parameter = inspect.Parameter


class _Missing:
    """No default (``dataclasses.MISSING`` plays this part for ``dataclasses.field``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Factory:
    """The default shown in a signature for a ``default_factory`` field (as dataclasses do)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


class _FieldSpec:
    """What :func:`field` records in a class body; ``@value`` replaces it with the default."""

    __slots__ = ("default", "default_factory", "repr", "hash", "compare")

    def __init__(self, default: Any, default_factory: Any, repr: bool, hash: bool | None,
                 compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.hash = hash
        self.compare = compare


@overload
def field(*, default: T, repr: bool = True, hash: bool | None = None,
          compare: bool = True) -> T: ...
@overload
def field(*, default_factory: Callable[[], T], repr: bool = True, hash: bool | None = None,
          compare: bool = True) -> T: ...
@overload
def field(*, repr: bool = True, hash: bool | None = None, compare: bool = True) -> Any: ...


def field(*, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True,
          hash: bool | None = None, compare: bool = True) -> Any:
    """``dataclasses.field`` for ``@value`` classes, with the options ``@value`` implements."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return _FieldSpec(default, default_factory, repr, hash, compare)


class _ValueField:
    """One field as ``@value`` read it from the class body."""

    __slots__ = ("name", "type", "default", "default_factory", "repr", "hash", "compare")

    def __init__(self, name: str, type: Any, spec: _FieldSpec) -> None:
        self.name = name
        self.type = type
        self.default = spec.default
        self.default_factory = spec.default_factory
        self.repr = spec.repr
        self.hash = spec.hash
        self.compare = spec.compare


def _annotation_word(annotation: Any) -> str:
    """``ClassVar`` for ``ClassVar[int]``/``typing.ClassVar``, ``InitVar`` for
    ``dataclasses.InitVar[int]``, ``KW_ONLY`` for ``dataclasses.KW_ONLY``; other text otherwise.
    Annotations are source text here (the package uses ``from __future__ import
    annotations``); an evaluated annotation is read through its repr."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    head = text.strip().split("[", 1)[0].strip()
    return head.rsplit(".", 1)[-1]


def _spec_of(cls: type, name: str, default: Any) -> _FieldSpec:
    where = f"@value class {cls.__qualname__}"
    if isinstance(default, _FieldSpec):
        return default
    dc = sys.modules.get("dataclasses")
    if dc is not None and isinstance(default, dc.Field):
        # dataclasses.field(...) in the class body: the same options, refused where @value
        # does not implement them.
        if not default.init:
            raise TypeError(f"{where}: field(init=False) on {name!r} is not supported")
        if default.kw_only is True:
            raise TypeError(f"{where}: keyword-only field {name!r} is not supported")
        if default.metadata:
            raise TypeError(f"{where}: field metadata on {name!r} is not supported")
        return _FieldSpec(
            MISSING if default.default is dc.MISSING else default.default,
            MISSING if default.default_factory is dc.MISSING else default.default_factory,
            default.repr, default.hash, default.compare)
    return _FieldSpec(default, MISSING, True, None, True)


def _read_fields(cls: type) -> list[_ValueField]:
    """The fields of ``cls``'s body, in order, with their class attributes set as dataclasses
    leaves them (the default, or nothing for a factory)."""
    where = f"@value class {cls.__qualname__}"
    for base in cls.__mro__[1:]:
        if hasattr(base, "__dataclass_fields__"):
            # Checked before anything else, as dataclasses' own error here is about frozen-ness.
            raise TypeError(f"{where}: inheriting from the dataclass {base.__qualname__} is not "
                            "supported (declare the fields in one class)")
    own = cls.__dict__
    out: list[_ValueField] = []
    kw_only_marker = False
    for name, annotation in own.get("__annotations__", {}).items():
        word = _annotation_word(annotation)
        if word == "ClassVar":
            continue
        if word == "KW_ONLY":
            kw_only_marker = True
            continue
        if kw_only_marker:
            raise TypeError(f"{where}: keyword-only field {name!r} is not supported")
        if word == "InitVar":
            raise TypeError(f"{where}: InitVar field {name!r} is not supported")
        spec = _spec_of(cls, name, own.get(name, MISSING))
        if spec.default is MISSING:
            if name in own:
                delattr(cls, name)
        else:
            setattr(cls, name, spec.default)
        if out and spec.default is MISSING and spec.default_factory is MISSING and (
                out[-1].default is not MISSING or out[-1].default_factory is not MISSING):
            raise TypeError(f"non-default argument {name!r} follows default argument")
        out.append(_ValueField(name, annotation, spec))
    return out


def _signature(fields: list[_ValueField]) -> inspect.Signature:
    """``(self, field, ...)`` for ``__init__``: what ``help()``, ``inspect.signature`` and
    IDEs that introspect at run time show. Annotations stay the source text (the modules use
    ``from __future__ import annotations``), as in a dataclass's own signature."""
    kind = _Parameter.POSITIONAL_OR_KEYWORD
    params = [_Parameter("self", kind)]
    for f in fields:
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = _FACTORY
        else:
            default = _Parameter.empty
        params.append(_Parameter(f.name, kind, default=default, annotation=f.type))
    return inspect.Signature(params, return_annotation=None)


class _DataclassFields:
    """``cls.__dataclass_fields__`` until something asks for it: then :mod:`dataclasses`
    processes the class (fields only: ``@value``'s methods stay) and the real dictionary
    replaces this descriptor."""

    def __init__(self, cls: type, fields: list[_ValueField]) -> None:
        self.cls = cls
        self.fields = fields

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        cls = self.cls
        if cls.__dict__.get("__dataclass_fields__") is self:
            _describe(cls, self.fields)
        return cls.__dict__["__dataclass_fields__"]


def _describe(cls: type, fields: list[_ValueField]) -> None:
    import dataclasses

    del cls.__dataclass_fields__  # type: ignore[attr-defined]
    saved = {}
    for f in fields:
        # dataclasses reads options from Field objects in the class body, as written.
        if f.default_factory is not MISSING or not (f.repr and f.compare and f.hash is None):
            saved[f.name] = cls.__dict__.get(f.name, MISSING)
            setattr(cls, f.name, dataclasses.field(
                default=dataclasses.MISSING if f.default is MISSING else f.default,
                default_factory=(dataclasses.MISSING if f.default_factory is MISSING
                                 else f.default_factory),
                repr=f.repr, hash=f.hash, compare=f.compare))
    undocumented = cls.__doc__ is None
    if undocumented:
        # dataclasses would format a signature into the docstring.
        cls.__doc__ = cls.__name__
    methods = {name: cls.__dict__[name] for name in _METHODS if name in cls.__dict__}
    try:
        dataclasses.dataclass(cls, init=False, repr=False, eq=False)
    finally:
        if undocumented:
            cls.__doc__ = None
        for name, fn in methods.items():
            setattr(cls, name, fn)
        for name, old in saved.items():
            if old is MISSING:
                if name in cls.__dict__:
                    delattr(cls, name)
            else:
                setattr(cls, name, old)
    cls.__dataclass_params__.frozen = True  # type: ignore[attr-defined]
    found = [f.name for f in dataclasses.fields(cls)]
    if found != [f.name for f in fields]:
        raise TypeError(f"@value class {cls.__qualname__}: dataclasses reads the fields "
                        f"{found}, @value read {[f.name for f in fields]}")


_METHODS = ("__init__", "__eq__", "__hash__", "__repr__", "__setattr__", "__delattr__",
            "__lt__", "__le__", "__gt__", "__ge__")


def _frozen_error(message: str) -> Exception:
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


def _make_init(cls: type, fields: list[_ValueField]) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    n = len(names)
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for f in fields:
        if f.default is not MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not MISSING:
            factories[f.name] = f.default_factory
    post_init = getattr(cls, "__post_init__", None) is not None
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nargs = len(args)
        if nargs == n and not kwargs:
            # Every field given by position (the decoders' and the engine's usual call).
            for i in range(n):
                _set(self, names[i], args[i])
            if post_init:
                self.__post_init__()
            return
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


def _key(self: Any) -> tuple[Any, ...]:
    return tuple([getattr(self, a) for a in self.__class__.__value_cmp__])


def __eq__(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return _key(self) == _key(other)
    return NotImplemented


def __hash__(self: Any) -> int:
    return hash(tuple([getattr(self, a) for a in self.__class__.__value_hash__]))


def __repr__(self: Any) -> str:
    inner = ", ".join(f"{a}={getattr(self, a)!r}" for a in self.__class__.__value_repr__)
    return f"{self.__class__.__qualname__}({inner})"


def __setattr__(self: Any, name: str, val: Any) -> None:
    raise _frozen_error(f"cannot assign to field {name!r}")


def __delattr__(self: Any, name: str) -> None:
    raise _frozen_error(f"cannot delete field {name!r}")


def __lt__(self: Any, other: Any) -> Any:
    return _key(self) < _key(other) if other.__class__ is self.__class__ else NotImplemented


def __le__(self: Any, other: Any) -> Any:
    return _key(self) <= _key(other) if other.__class__ is self.__class__ else NotImplemented


def __gt__(self: Any, other: Any) -> Any:
    return _key(self) > _key(other) if other.__class__ is self.__class__ else NotImplemented


def __ge__(self: Any, other: Any) -> Any:
    return _key(self) >= _key(other) if other.__class__ is self.__class__ else NotImplemented


# The methods every value class shares (``value`` sets them unless the class body has its own).
_SHARED: dict[str, Callable[..., Any]] = {
    "__eq__": __eq__, "__hash__": __hash__, "__repr__": __repr__,
    "__setattr__": __setattr__, "__delattr__": __delattr__,
}
_ORDER: dict[str, Callable[..., Any]] = {
    "__lt__": __lt__, "__le__": __le__, "__gt__": __gt__, "__ge__": __ge__,
}


def replace(obj: T, /, **changes: Any) -> T:
    """``dataclasses.replace`` for a value (any other dataclass instance is handed to it): a
    copy of ``obj`` with ``changes``, built through ``__init__`` (so ``__post_init__`` runs)."""
    names = type(obj).__dict__.get("__value_fields__")
    if names is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    for k in changes:
        if k not in names:
            raise TypeError(f"{type(obj).__qualname__}.__init__() got an unexpected keyword "
                            f"argument '{k}'")
    return type(obj)(*[changes[a] if a in changes else getattr(obj, a) for a in names])


@overload
def value(cls: C, /) -> C: ...
@overload
def value(*, order: bool = False) -> Callable[[C], C]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value(cls: Any = None, /, *, order: bool = False) -> Any:
    """Class decorator: a frozen dataclass (see the module docstring)."""

    def wrap(cls: C) -> C:
        fields = _read_fields(cls)
        cls.__value_cmp__ = tuple(f.name for f in fields if f.compare)  # type: ignore[attr-defined]
        cls.__value_hash__ = tuple(  # type: ignore[attr-defined]
            f.name for f in fields if (f.hash if f.hash is not None else f.compare))
        cls.__value_repr__ = tuple(f.name for f in fields if f.repr)  # type: ignore[attr-defined]
        own = cls.__dict__
        qualname = cls.__qualname__
        # Only __init__ is made per class (a closure over the field list, for speed); the
        # other methods are this module's shared functions, which read the field names from
        # the class: fewer objects to create at import and to free at exit.
        methods: dict[str, Any] = {"__init__": _make_init(cls, fields), **_SHARED}
        if order:
            methods.update(_ORDER)
        for name, fn in methods.items():
            # Like dataclasses: a method written in the class body wins. (__hash__ is special:
            # a class body that defines __eq__ gets __hash__ = None implicitly; ours replaces it.)
            if name in own and not (name == "__hash__" and own[name] is None):
                continue
            if name == "__init__":
                fn.__qualname__ = f"{qualname}.__init__"
                fn.__signature__ = _signature(fields)
            setattr(cls, name, fn)
        names = tuple(f.name for f in fields)
        cls.__value_fields__ = names  # type: ignore[attr-defined]
        if "__match_args__" not in own:
            cls.__match_args__ = names  # type: ignore[attr-defined,misc]
        cls.__dataclass_fields__ = _DataclassFields(cls, fields)  # type: ignore[attr-defined]
        return cls

    if cls is None:
        return wrap
    return wrap(cls)
