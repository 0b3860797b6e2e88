"""Errors for malformed input. Denials are data (``Verdict``), never exceptions.

Every error carries *where* (a :class:`~tdxpolicy.model.Location`: file, line, column, JSON
path or byte offset) and *what was expected*, and renders itself the way compilers do::

    site.tdxpolicy:4:13: expected a version like 1.5.06
        update from >= 1.5
                    ^

The CLI maps every :class:`TdxPolicyError` subclass to exit code 2 (3 for host facts) and
never lets a traceback reach the user.
"""

from __future__ import annotations

from typing import Any, Sequence

from ._value import value
from .model import Location

__all__ = [
    "TdxPolicyError",
    "InputError",
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


class ConflictError(InputError):
    """The same fact declared with different values in several places (policy-format.md,
    "Merging"); the problems name every location."""

    code = "conflicting-facts"


class HostError(TdxPolicyError):
    """Host facts could not be read (probe failed); exit code 3 per the CLI contract."""

    code = "host-unavailable"
    exit_code = 3
