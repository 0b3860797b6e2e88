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

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Sequence

from ._value import value

if TYPE_CHECKING:  # at run time only the annotation names it; version.py imports this module
    from .model import Location

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


class ErrorCode(StrEnum):
    """Every ``error.code`` a JSON error document can carry (docs/cli.md#error-codes).

    Scripts branch on these words, so they are a contract: add, never rename. The same set is
    the ``enum`` of ``error.code`` in schemas/error.schema.json; tests/test_core_errors.py keeps
    the two equal and checks that every code the package raises is a member."""

    # usage and files
    USAGE = "usage"  # command line the parser refuses (unknown option, missing argument, ...)
    INVALID_FLAG = "invalid-flag"  # a flag's value (--cpuid, --remaining, --max-hops, ...)
    UNREADABLE = "unreadable"  # a named file or directory the OS will not give us
    UNWRITABLE = "unwritable"  # an output file that cannot be written
    OUTPUT_EXISTS = "output-exists"  # an output file that exists (no --force)
    OUTPUT_IS_DIRECTORY = "output-is-directory"  # -o names a directory (nothing is written)
    UNWRITABLE_RECORD = "unwritable-record"  # update's JSON Lines record cannot be appended
    # versions and policy sources
    INVALID_INPUT = "invalid-input"  # malformed input with no more specific code
    INPUT_TOO_LARGE = "input-too-large"  # standard input over the size limit of what it holds
    INVALID_VERSION = "invalid-version"
    INVALID_ARGUMENT = "invalid-argument"  # a Python value of the wrong type or range (API)
    UNKNOWN_VERSION = "unknown-version"  # `show` of a version no source declares
    SYNTAX_ERROR = "syntax-error"  # a policy document the grammar refuses
    INVALID_DOCUMENT = "invalid-document"  # parses, but a value is out of range or contradictory
    UNSUPPORTED_SOURCE = "unsupported-source"  # a --policy file of no known kind
    CONFLICTING_FACTS = "conflicting-facts"  # one fact, different values in different sources
    # host facts
    INVALID_HOST_FACTS = "invalid-host-facts"  # --facts / fleet input that is not host facts
    HOST_UNAVAILABLE = "host-unavailable"  # the probe could not read the host (exit 3)
    NOT_TDX_HOST = "not-tdx-host"  # no tdx_host device at all (exit 3)
    BAD_HOST_DATA = "bad-host-data"  # a sysfs/procfs file with content we cannot use (exit 3)
    PERMISSION = "permission"  # a root-only host file read without root (exit 3)
    MODULE_LOST = "module-lost"  # the module does not answer (reboot required; exit 3)
    SEAMRET_INVD_VMCS = "seamret-invd-vmcs"  # CPU erratum: runtime updates disabled (exit 3)
    NO_UPDATE_INTERFACE = "no-update-interface"  # no usable upload directory (exit 3)
    # images
    NOT_AN_IMAGE = "not-an-image"
    TRUNCATED_IMAGE = "truncated-image"
    IMAGE_TOO_LARGE = "image-too-large"
    IMAGE_INVALID = "image-invalid"  # convert/join refuse an image that fails verification
    UNIDENTIFIED_IMAGE = "unidentified-image"  # an --image no catalogue release matches
    IMAGE_NAME_MISMATCH = "image-name-mismatch"  # a --policy image whose file name claims another release
    # the operator stopped the command (Ctrl-C, exit 130)
    INTERRUPTED = "interrupted"
    # the base class's own code: an error raised without a more specific one
    ERROR = "error"


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

    code: ErrorCode = ErrorCode.ERROR
    exit_code = 2

    def __init__(
        self, problems: Sequence[Problem] | str, *, code: ErrorCode | str | None = None
    ) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        if code is not None:
            self.code = ErrorCode(code)
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

    code = ErrorCode.INVALID_INPUT

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

    code = ErrorCode.INVALID_ARGUMENT

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

    code = ErrorCode.CONFLICTING_FACTS


class HostError(TdxPolicyError):
    """Host facts could not be read (probe failed); exit code 3 per the CLI contract."""

    code = ErrorCode.HOST_UNAVAILABLE
    exit_code = 3
