"""Errors for malformed input. Denials are data (``Verdict``), never exceptions.

Every error carries *where* (a :class:`~tdxpolicy.model.Location`: file, line, column, JSON
path or byte offset) and *what was expected*, and renders itself the way compilers do::

    site.tdxpolicy:4:13: expected a version like 1.5.06
        update from >= 1.5
                    ^

The CLI maps every :class:`TdxPolicyError` subclass to exit code 2 (3 for host facts) and
never lets a traceback reach the user. Its ``code`` is one of :class:`ErrorCode`, the closed
set that docs/cli.md#error-codes lists and schemas/error.schema.json enumerates.

Python callers get one error type for bad input: :class:`InputError`. Its subclass
:class:`InvalidArgument` is what the API raises for a Python value of the wrong type or out
of range (``HostFacts(module_version="1.5.06")``, ``Version(1, 5, -1)``, ``decide(cat,
host, "1.5.16", opts)``, ``parse_version("1.5")`` through :class:`~tdxpolicy.version.VersionError`);
it is also a :class:`TypeError` and a :class:`ValueError`, and its message starts with the
field or argument it is about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence, cast

from ._value import value
from .location import Location

if TYPE_CHECKING:  # pragma: no cover
    from .error_codes import ErrorCode


def __getattr__(name: str) -> Any:
    # ErrorCode lives in error_codes.py and is created when an error is (its 32 members cost
    # about 0.35 ms of every cold start: docs/performance.md#value-classes); it is still
    # importable from here, where it has always been.
    if name == "ErrorCode":
        from .error_codes import ErrorCode

        return ErrorCode
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ErrorCode",
    "TdxPolicyError",
    "InputError",
    "InvalidArgument",
    "ConflictError",
    "HostError",
    "Problem",
    "QUOTE_WIDTH",
    "printable",
    "quote_source",
]


#: How many characters of the offending line are quoted under an error: a window around the
#: column, so that a problem in a one-line JSON file of megabytes costs the same to render as
#: one in a short line (and thousands of problems do not copy the line thousands of times).
QUOTE_WIDTH = 200
# Context kept left of the column when the window has to scroll.
_QUOTE_LEAD = 60


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: every control character (C0, DEL, C1), format
    character (bidirectional overrides, zero-width marks), separator other than the space and
    lone surrogate is shown as a Python-style escape (``\\x1b``, ``\\u202e``); a tab becomes one
    space, as the column of a tab is counted as one character. A document holding
    ``ESC ] 0 ; title BEL`` must not retitle or clear the operator's terminal."""
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def quote_source(line: str, column: int) -> tuple[str, str]:
    """The quoted line (escaped by :func:`printable`, at most about :data:`QUOTE_WIDTH`
    characters around ``column``, elided with ``...``) and the caret line under it; the caret
    stays under the character at ``column`` (1-based) however many characters before it were
    escaped or elided. A column past the end points just after the last character."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    n = len(line)
    at = min(max(1, column), n + 1) - 1  # 0-based index of the caret
    start = 0
    if n > QUOTE_WIDTH and at > QUOTE_WIDTH - _QUOTE_LEAD:
        start = min(at - _QUOTE_LEAD, max(0, n - QUOTE_WIDTH))
    end = min(n, start + QUOTE_WIDTH)
    lead = "..." if start > 0 else ""
    before = lead + printable(line[start:at])
    shown = before + printable(line[at:end]) + ("..." if end < n else "")
    return shown, " " * len(before) + "^"


@value
class Problem:
    """One located problem: message plus where. An error may carry several (all JSON-schema
    violations, every location of a conflicting fact)."""

    message: str
    location: Location | None = None
    source_line: str | None = None  # the offending line's text, for the caret

    def render(self) -> str:
        head = f"{self.location}: {self.message}" if self.location else self.message
        if self.source_line is None or self.location is None or self.location.line is None:
            return head
        shown, caret = quote_source(self.source_line, self.location.column or 1)
        return f"{head}\n    {shown}\n    {caret}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.location is not None:
            out["location"] = self.location.to_json()
        return out


class TdxPolicyError(Exception):
    """Base of all expected errors. ``code`` is a stable machine-readable word, a member of
    :class:`ErrorCode` (a word outside it is a programming error and raises ``ValueError``
    here, where a test sees it, rather than reaching a user's script)."""

    # The class's code is its word (what a subclass sets, compared equal to the member); an
    # instance carries the ErrorCode member itself, made when the error is.
    code: ErrorCode = cast("ErrorCode", "error")
    exit_code = 2

    def __init__(
        self, problems: Sequence[Problem] | str, *, code: ErrorCode | str | None = None
    ) -> None:
        from .error_codes import ErrorCode

        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.code = ErrorCode(type(self).code if code is None else code)
        super().__init__(self.render())

    @property
    def message(self) -> str:
        return "; ".join(
            f"{p.location}: {p.message}" if p.location else p.message for p in self.problems
        )

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "problems": [p.to_json() for p in self.problems],
            }
        }


class InputError(TdxPolicyError):
    """A document, JSON file, image or flag that cannot be used as given."""

    code = cast("ErrorCode", "invalid-input")

    @classmethod
    def at(
        cls,
        message: str,
        location: Location | None = None,
        source_line: str | None = None,
        *,
        code: ErrorCode | str | None = None,
    ) -> InputError:
        return cls([Problem(message, location, source_line)], code=code)


class InvalidArgument(InputError, TypeError, ValueError):
    """A Python value handed to the API that has the wrong type or is out of range.

    Raised by the public input types (:class:`~tdxpolicy.hostfacts.HostFacts`,
    :class:`~tdxpolicy.version.Version`, :class:`~tdxpolicy.verdict.MoveOptions`,
    :class:`~tdxpolicy.catalogue.Catalogue`) when they are built and by the entry points of :mod:`tdxpolicy.api` for their arguments, so that a bad
    value fails where it is given instead of deep inside the engine. The message names the
    field or argument: ``HostFacts.module_version: expected a Version or None (...), got str
    '1.5.06'``. A :class:`TypeError` and a :class:`ValueError` too, for callers that catch those.
    """

    code = cast("ErrorCode", "invalid-argument")

    @classmethod
    def expected(cls, where: str, expected: str, got: object) -> InvalidArgument:
        """``WHERE: expected EXPECTED, got TYPE VALUE`` (the value's repr shortened)."""
        shown = repr(got)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        kind = "None" if got is None else f"{type(got).__name__} {shown}"
        return cls(f"{where}: expected {expected}, got {kind}")


class ConflictError(InputError):
    """The same fact declared with different values in several places
    (docs/policy-format.md, "Merging"); the problems name every location."""

    code = cast("ErrorCode", "conflicting-facts")


class HostError(TdxPolicyError):
    """Host facts could not be read (probe failed); exit code 3 per the CLI contract."""

    code = cast("ErrorCode", "host-unavailable")
    exit_code = 3
