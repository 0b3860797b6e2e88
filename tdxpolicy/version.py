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

from bisect import bisect_left, bisect_right
from enum import Enum
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, cast

from ._value import field, value
from .errors import InvalidArgument

if TYPE_CHECKING:  # pragma: no cover
    from .error_codes import ErrorCode

__all__ = [
    "Version",
    "VersionError",
    "Op",
    "Clause",
    "VersionSet",
    "Span",
    "Form",
    "ENCODED_MAX",
    "encode",
    "encode_all",
    "decode",
    "series_bounds",
    "parse_version",
    "parse_version_set",
]

# Fields are bounded so that a hostile "1.5.99999999999999999999" is an error, not a bignum
# that later renders as garbage; the kernel's fields are u32-sized at most.
_MAX_FIELD = 0xFFFF_FFFF
#: The spelling parse_version accepts, as a regex (the docs' and tests' oracle; _version_fields
#: implements it without compiling a regex at import: docs/performance.md#no-json-on-the-text-path).
VERSION_SYNTAX = r"\A([0-9]{1,10})\.([0-9]{1,10})\.([0-9]{1,10})\Z"


def _is_field(part: str) -> bool:
    """One to ten ASCII digits (``[0-9]{1,10}``)."""
    return 0 < len(part) <= 10 and part.isascii() and part.isdigit()


def _version_fields(text: str, last_may_be_star: bool = False) -> tuple[int, int, int] | None:
    """The three fields of ``N.N.N`` (:data:`VERSION_SYNTAX`), or ``None`` for any other text.
    With ``last_may_be_star``, ``N.N.*`` also reads, with ``-1`` for the star."""
    parts = text.split(".")
    if len(parts) != 3 or not (_is_field(parts[0]) and _is_field(parts[1])):
        return None
    if _is_field(parts[2]):
        return int(parts[0]), int(parts[1]), int(parts[2])
    if last_may_be_star and parts[2] == "*":
        return int(parts[0]), int(parts[1]), -1
    return None


class VersionError(InvalidArgument):
    """A text that is not a version (or version set); the message says what was expected.

    An :class:`~tdxpolicy.errors.InvalidArgument` (so also a ``ValueError``): the API's one
    error type for bad values. Sources that read documents catch it and re-raise it located.
    """

    code = cast("ErrorCode", "invalid-version")


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
    fields = _version_fields(text)
    if fields is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise VersionError(f"expected a version like 1.5.06, got {shown!r}")
    major, minor, update = fields
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


# --- the interval form ------------------------------------------------------------------------
#
# A version is encoded as the integer ``major << 64 | minor << 32 | update`` (fields are at most
# 2**32 - 1, see _MAX_FIELD), so the order of the integers is the order of versions. Every
# clause is then an interval of integers, ``!=`` an interval with one hole, and a version set
# (clauses that must all hold) the intersection: one interval ``[lo, hi]`` minus the holes of
# its ``!=`` clauses. This is the only place that says which versions a set admits: matching,
# emptiness, Span (the audit's unions and differences) and index ranges over a sorted release
# list (the graph and the path search) are all read off this form.

_F = 32
_FIELD_MASK = (1 << _F) - 1
ENCODED_MAX = (1 << (3 * _F)) - 1  # the encoding of the largest possible version


def encode(v: Version) -> int:
    """The integer of ``v`` in the interval form (same order as versions)."""
    return (v.major << (2 * _F)) | (v.minor << _F) | v.update


def encode_all(versions: Iterable[Version]) -> list[int]:
    """:func:`encode` of each version, in order (one pass, no call per version: the path
    search encodes a whole series on its first query)."""
    f, f2 = _F, 2 * _F
    return [(v.major << f2) | (v.minor << f) | v.update for v in versions]


def decode(n: int) -> Version:
    return Version(n >> (2 * _F), (n >> _F) & _FIELD_MASK, n & _FIELD_MASK)


def series_bounds(major: int, minor: int) -> tuple[int, int]:
    """The encodings of ``major.minor.0`` and of that series' last possible version."""
    base = (major << (2 * _F)) | (minor << _F)
    return base, base | _FIELD_MASK


#: (lo, hi, holes): the encoded versions ``lo <= n <= hi`` except the sorted, distinct
#: ``holes`` (each inside [lo, hi]). Empty when lo > hi (then holes is empty).
Form = tuple[int, int, tuple[int, ...]]
_EMPTY_FORM: Form = (1, 0, ())


@value
class Clause:
    """One clause of a version set. For ``SERIES`` only ``version.series`` matters."""

    op: Op
    version: Version | None = None

    def matches(self, v: Version) -> bool:
        return VersionSet((self,)).matches(v)

    def __str__(self) -> str:
        if self.op is Op.ANY:
            return "any"
        assert self.version is not None
        if self.op is Op.SERIES:
            return f"{self.version.major}.{self.version.minor}.*"
        return f"{self.op.value} {self.version.text}"


def _form_of(clauses: Iterable[Clause]) -> Form:
    """Intersect the clauses' intervals: O(n log n) in the number of clauses (the sort of the
    holes), never a pairwise comparison. The meaning of every operator is written here once.
    (Operators are compared with module constants: this runs once per rule on the cold path
    of ``path``.)"""
    lo, hi = 0, ENCODED_MAX
    holes: list[int] | None = None
    f, f2 = _F, 2 * _F
    for c in clauses:
        op, w = c.op, c.version
        if op is _ANY or w is None:
            continue
        if op is _SERIES:  # M.m.0 ..= M.m.(2**32 - 1)
            n = (w.major << f2) | (w.minor << f)
            if n > lo:
                lo = n
            n |= _FIELD_MASK
            if n < hi:
                hi = n
            continue
        n = (w.major << f2) | (w.minor << f) | w.update
        if op is _GE:
            if n > lo:
                lo = n
        elif op is _GT:
            if n + 1 > lo:
                lo = n + 1
        elif op is _LE:
            if n < hi:
                hi = n
        elif op is _LT:
            if n - 1 < hi:
                hi = n - 1
        elif op is _EQ:
            if n > lo:
                lo = n
            if n < hi:
                hi = n
        elif holes is None:  # NE: a hole
            holes = [n]
        else:
            holes.append(n)
    if lo > hi:
        return _EMPTY_FORM
    if holes:
        kept = sorted({h for h in holes if lo <= h <= hi})
        if len(kept) == hi - lo + 1:  # every admitted version is a hole
            return _EMPTY_FORM
        return lo, hi, tuple(kept)
    return lo, hi, ()


_ANY, _SERIES, _GE, _GT, _LE, _LT, _EQ = Op.ANY, Op.SERIES, Op.GE, Op.GT, Op.LE, Op.LT, Op.EQ


@value
class VersionSet:
    """Clauses that must all hold (the ``,`` of the format).

    The interval form and the text are computed once per set (cached on the instance; they are
    not fields, so equality, hashing and ``repr`` are those of the clauses)."""

    clauses: tuple[Clause, ...]

    @property
    def form(self) -> Form:
        """The admitted versions as ``(lo, hi, holes)`` of encoded versions (see ``Form``)."""
        d = self.__dict__
        cached: Form | None = d.get("_form")
        if cached is None:
            # Written into the instance dict directly: the frozen __setattr__ refuses fields,
            # and this is a cache, not a field.
            cached = d["_form"] = _form_of(self.clauses)
        return cached

    def __contains__(self, v: object) -> bool:
        return isinstance(v, Version) and self.matches(v)

    def matches(self, v: Version) -> bool:
        lo, hi, holes = self.__dict__.get("_form") or self.form
        n = (v.major << (2 * _F)) | (v.minor << _F) | v.update
        if n < lo or n > hi:
            return False
        if holes:
            i = bisect_left(holes, n)
            return i == len(holes) or holes[i] != n
        return True

    @property
    def is_empty(self) -> bool:
        """True when no version at all satisfies every clause."""
        lo, hi, _ = self.form
        return lo > hi

    def span(self) -> Span:
        """Every version the set admits, as a :class:`Span` (O(clauses))."""
        lo, hi, holes = self.form
        if lo > hi:
            return Span()
        parts: list[tuple[int, int]] = []
        a = lo
        for h in holes:
            if a < h:
                parts.append((a, h - 1))
            a = h + 1
        if a <= hi:
            parts.append((a, hi))
        return Span(tuple(parts))

    def index_range(self, keys: Sequence[int]) -> tuple[int, int, tuple[int, ...]]:
        """The positions in ``keys`` (encoded versions, sorted ascending) that the set admits:
        ``(lo, hi, excluded)``, the indices ``lo <= i < hi`` except the sorted ``excluded``.
        ``(0, 0, ())`` when none. Bisection: O(log len(keys)) per clause bound and hole."""
        a, b, holes = self.__dict__.get("_form") or self.form
        if a > b:
            return 0, 0, ()
        lo, hi = bisect_left(keys, a), bisect_right(keys, b)
        if lo >= hi:
            return 0, 0, ()
        if not holes:
            return lo, hi, ()
        excluded: list[int] = []
        for h in holes:
            i = bisect_left(keys, h, lo, hi)
            if i < hi and keys[i] == h:
                excluded.append(i)
        if len(excluded) == hi - lo:
            return 0, 0, ()
        return lo, hi, tuple(excluded)

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
        # Cached like the form: findings and messages quote a rule's set once per clause or
        # release, and rebuilding the text each time made that quadratic in the clauses.
        d = self.__dict__
        text: str | None = d.get("_text")
        if text is None:
            text = d["_text"] = ", ".join([str(c) for c in self.clauses])
        return text


@value
class Span:
    """A set of versions: sorted, disjoint, non-adjacent closed intervals of encoded versions,
    with union, intersection and difference (linear in the number of intervals) and
    membership by bisection. Exact for every version, not only the versions a source knows."""

    parts: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, lo: int, hi: int) -> Span:
        return cls(((lo, hi),)) if lo <= hi else cls()

    @classmethod
    def everything(cls) -> Span:
        return cls(((0, ENCODED_MAX),))

    @classmethod
    def point(cls, v: Version) -> Span:
        n = encode(v)
        return cls(((n, n),))

    @staticmethod
    def _norm(parts: Iterable[tuple[int, int]]) -> Span:
        out: list[tuple[int, int]] = []
        for lo, hi in sorted(p for p in parts if p[0] <= p[1]):
            if out and lo <= out[-1][1] + 1:
                if hi > out[-1][1]:
                    out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return Span(tuple(out))

    def __bool__(self) -> bool:
        return bool(self.parts)

    def __or__(self, other: Span) -> Span:
        if not other.parts:
            return self
        if not self.parts:
            return other
        return Span._norm(self.parts + other.parts)

    def __and__(self, other: Span) -> Span:
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.parts, other.parts
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return Span(tuple(out))

    def complement(self) -> Span:
        out: list[tuple[int, int]] = []
        prev = 0
        for lo, hi in self.parts:
            if lo > prev:
                out.append((prev, lo - 1))
            prev = hi + 1
        if prev <= ENCODED_MAX:
            out.append((prev, ENCODED_MAX))
        return Span(tuple(out))

    def __sub__(self, other: Span) -> Span:
        return self & other.complement()

    def __contains__(self, v: object) -> bool:
        if not isinstance(v, Version):
            return False
        n = encode(v)
        parts = self.parts
        i = bisect_right(parts, (n, ENCODED_MAX + 1)) - 1  # the last part starting at or below n
        return i >= 0 and parts[i][1] >= n

    def issubset(self, other: Span) -> bool:
        return not (self - other)

    def first(self) -> Version | None:
        return decode(self.parts[0][0]) if self.parts else None

    def intervals(self) -> Iterator[tuple[Version, Version]]:
        for lo, hi in self.parts:
            yield decode(lo), decode(hi)


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
        series = _version_fields(part, last_may_be_star=True)
        if series is not None and series[2] == -1:
            clauses.append(Clause(Op.SERIES, Version(series[0], series[1], 0)))
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
