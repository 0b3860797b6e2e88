"""Errors for malformed input. Denials are data (``Verdict``), never exceptions.

Every error carries *where* (a :class:`~tdxpolicy.model.Location`: file, line, column, JSON
path or byte offset) and *what was expected*, and renders itself the way compilers do::

    site.tdxpolicy:4:13: expected a version like 1.5.06
        update from >= 1.5
                    ^

The CLI maps every :class:`TdxPolicyError` subclass to exit code 2 (3 for host facts) and
never lets a traceback reach the user.

Python callers get one error type for bad input: :class:`InputError`. Its subclass
:class:`InvalidArgument` is what the API raises for a Python value of the wrong type or out
of range (``HostFacts(module_version="1.5.06")``, ``Version(1, 5, -1)``, ``decide(cat,
host, "1.5.16", opts)``, ``parse_version("1.5")`` through :class:`~tdxpolicy.version.VersionError`);
it is also a :class:`TypeError` and a :class:`ValueError`, and its message starts with the
field or argument it is about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ._value import value

if TYPE_CHECKING:  # at run time only the annotation names it; version.py imports this module
    from .model import Location

__all__ = [
    "TdxPolicyError",
    "InputError",
    "InvalidArgument",
    "ConflictError",
    "HostError",
    "Problem",
]


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
        line = self.source_line.rstrip("\r\n").expandtabs(1)
        if len(line) > 200:
            line = line[:200] + "..."
        col = max(1, self.location.column or 1)
        caret = " " * (min(col, len(line) + 1) - 1) + "^"
        return f"{head}\n    {line}\n    {caret}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.location is not None:
            out["location"] = self.location.to_json()
        return out


class TdxPolicyError(Exception):
    """Base of all expected errors. ``code`` is a stable machine-readable word."""

    code = "error"
    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | str, *, code: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        if code is not None:
            self.code = code
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

    code = "invalid-input"

    @classmethod
    def at(
        cls,
        message: str,
        location: Location | None = None,
        source_line: str | None = None,
        *,
        code: str | None = None,
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

    code = "invalid-argument"

    @classmethod
    def expected(cls, where: str, expected: str, got: object) -> InvalidArgument:
        """``WHERE: expected EXPECTED, got TYPE VALUE`` (the value's repr shortened)."""
        shown = repr(got)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        kind = "None" if got is None else f"{type(got).__name__} {shown}"
        return cls(f"{where}: expected {expected}, got {kind}")


class ConflictError(InputError):
    """The same fact declared with different values in several places (policy-format.md,
    "Merging"); the problems name every location."""

    code = "conflicting-facts"


class HostError(TdxPolicyError):
    """Host facts could not be read (probe failed); exit code 3 per the CLI contract."""

    code = "host-unavailable"
    exit_code = 3
