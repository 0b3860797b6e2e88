"""TDX module and P-SEAMLDR versions, and sets of them.

A version is ``major.minor.update`` with decimal fields. The kernel prints it as
``%u.%u.%02u`` (docs/domain.md#parts), so ``1.5.06`` and ``1.5.6`` are the same version and an
update of 100 or more prints three digits. Versions order by the integer triple, never by text;
the text as written is kept only for display and citation.

Version sets are the ``VERSET`` of the policy format: clauses joined by ``,`` that must all
hold; a clause is ``OP VERSION``, a bare version (``==``), ``N.N.*`` or ``any``.

``packaging`` is not used to evaluate sets: its PEP 440 ordering agrees with integer triples,
but parsing a ``packaging.Version`` per comparison costs more than the whole decision here, and
the engine evaluates sets on the hot path of ``fleet`` and ``path``. The test-suite uses
``packaging.specifiers.SpecifierSet`` as an independent oracle for these semantics.
"""

from __future__ import annotations

import re
from dataclasses import field
from enum import Enum
from typing import Iterable

from ._value import value
from .errors import ErrorCode, InvalidArgument

__all__ = [
    "Version",
    "VersionError",
    "Op",
    "Clause",
    "VersionSet",
    "parse_version",
    "parse_version_set",
]

# Fields are bounded so that a hostile "1.5.99999999999999999999" is an error, not a bignum
# that later renders as garbage; the kernel's fields are u32-sized at most.
_MAX_FIELD = 0xFFFF_FFFF
_VERSION_RE = re.compile(r"\A([0-9]{1,10})\.([0-9]{1,10})\.([0-9]{1,10})\Z")
_SERIES_WILDCARD_RE = re.compile(r"\A([0-9]{1,10})\.([0-9]{1,10})\.\*\Z")


class VersionError(InvalidArgument):
    """A text that is not a version (or version set); the message says what was expected.

    An :class:`~tdxpolicy.errors.InvalidArgument` (so also a ``ValueError``): the API's one
    error type for bad values. Sources that read documents catch it and re-raise it located.
    """

    code = ErrorCode.INVALID_VERSION


@value(order=True)
class Version:
    """A ``major.minor.update`` version; equality and order use the integers only."""

    major: int
    minor: int
    update: int
    text: str = field(default="", compare=False, hash=False)

    def __post_init__(self) -> None:
        # One cheap test on the path every parsed version takes; the explanation only on error.
        major, minor, update, text = self.major, self.minor, self.update, self.text
        if not (type(major) is int and type(minor) is int and type(update) is int
                and type(text) is str and 0 <= major <= _MAX_FIELD and 0 <= minor <= _MAX_FIELD
                and 0 <= update <= _MAX_FIELD):
            _refuse_version_fields(major, minor, update, text)
        if not text:
            object.__setattr__(self, "text", self.canonical)

    @classmethod
    def parse(cls, text: str) -> Version:
        return parse_version(text)

    @property
    def series(self) -> tuple[int, int]:
        """``(major, minor)``: runtime updates never leave a series (docs/domain.md#parts)."""
        return (self.major, self.minor)

    @property
    def series_text(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.update)

    @property
    def canonical(self) -> str:
        """The kernel's spelling, ``%u.%u.%02u``."""
        return f"{self.major}.{self.minor}.{self.update:02d}"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def _refuse_version_fields(major: object, minor: object, update: object, text: object) -> None:
    for name, v in (("major", major), ("minor", minor), ("update", update)):
        if type(v) is not int or not 0 <= v <= _MAX_FIELD:
            raise InvalidArgument.expected(
                f"Version.{name}", f"an int from 0 to {_MAX_FIELD} (Version.parse('1.5.06') "
                "reads text)", v)
    raise InvalidArgument.expected("Version.text", "a str (the spelling shown; '' for the "
                                   "canonical one)", text)


def parse_version(text: str) -> Version:
    """Parse ``N.N.N``; raise :class:`VersionError` with the expectation in words."""
    if not isinstance(text, str):
        raise VersionError(f"expected a version like 1.5.06, got {type(text).__name__}")
    m = _VERSION_RE.match(text)
    if m is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise VersionError(f"expected a version like 1.5.06, got {shown!r}")
    major, minor, update = (int(g) for g in m.groups())
    if max(major, minor, update) > _MAX_FIELD:
        raise VersionError(f"version field out of range (at most {_MAX_FIELD}) in {text!r}")
    return Version(major, minor, update, text)


class Op(str, Enum):
    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"
    EQ = "=="
    NE = "!="
    SERIES = "series"  # N.N.*: any update of that series
    ANY = "any"


@value
class Clause:
    """One clause of a version set. For ``SERIES`` only ``version.series`` matters."""

    op: Op
    version: Version | None = None

    def matches(self, v: Version) -> bool:
        op = self.op
        if op is Op.ANY:
            return True
        w = self.version
        assert w is not None
        if op is Op.SERIES:
            return v.major == w.major and v.minor == w.minor
        a, b = v.key, w.key
        if op is Op.GE:
            return a >= b
        if op is Op.LE:
            return a <= b
        if op is Op.GT:
            return a > b
        if op is Op.LT:
            return a < b
        if op is Op.EQ:
            return a == b
        return a != b

    def __str__(self) -> str:
        if self.op is Op.ANY:
            return "any"
        assert self.version is not None
        if self.op is Op.SERIES:
            return f"{self.version.major}.{self.version.minor}.*"
        return f"{self.op.value} {self.version.text}"


@value
class VersionSet:
    """Clauses that must all hold (the ``,`` of the format)."""

    clauses: tuple[Clause, ...]

    def __contains__(self, v: object) -> bool:
        return isinstance(v, Version) and self.matches(v)

    def matches(self, v: Version) -> bool:
        return all(c.matches(v) for c in self.clauses)

    @classmethod
    def of(cls, clauses: Iterable[Clause]) -> VersionSet:
        return cls(tuple(clauses))

    @classmethod
    def at_least(cls, v: Version) -> VersionSet:
        return cls((Clause(Op.GE, v),))

    @classmethod
    def anything(cls) -> VersionSet:
        return cls((Clause(Op.ANY),))

    def __str__(self) -> str:
        return ", ".join(str(c) for c in self.clauses)


_OPS = sorted((op for op in Op if op not in (Op.SERIES, Op.ANY)), key=lambda o: -len(o.value))


def parse_version_set(text: str) -> VersionSet:
    """Parse a VERSET written as text (CLI flags, JSON); documents go through the grammar."""
    if not isinstance(text, str) or not text.strip():
        raise VersionError("expected a version set like '>= 1.5.01' or '1.5.*' or 'any'")
    clauses: list[Clause] = []
    for raw in text.split(","):
        part = raw.strip()
        if part == "any":
            clauses.append(Clause(Op.ANY))
            continue
        m = _SERIES_WILDCARD_RE.match(part)
        if m:
            clauses.append(Clause(Op.SERIES, Version(int(m.group(1)), int(m.group(2)), 0)))
            continue
        for op in _OPS:
            if part.startswith(op.value):
                clauses.append(Clause(op, parse_version(part[len(op.value):].strip())))
                break
        else:
            try:
                clauses.append(Clause(Op.EQ, parse_version(part)))
            except VersionError:
                raise VersionError(
                    f"expected a version clause like '>= 1.5.01', '1.5.*' or 'any', got {part!r}"
                ) from None
    return VersionSet(tuple(clauses))
