"""Answers as data: checks, verdicts, paths and selections.

"Denied" is a normal :class:`Verdict` with every check listed, not an exception (house-style
"Answers are data"). Renderers (:mod:`tdxpolicy.render`) turn these into text and JSON
(``schemas/verdict.schema.json``); the engine (:mod:`tdxpolicy.engine`) produces them.
"""

from __future__ import annotations

import datetime as _dt
from enum import Enum
from typing import Any, Mapping

from ._value import field, replace, value
from .errors import InvalidArgument
from .model import Location
from .version import Version

__all__ = [
    "Result",
    "MoveKind",
    "CheckCode",
    "Check",
    "Reversibility",
    "Verdict",
    "PathResult",
    "Candidate",
    "SelectResult",
    "MoveOptions",
    "FEATURES_LOST_WORD",
    "denies",
]

#: The ``--acknowledge`` word of the ``features`` check. Not an advisory word of any release:
#: the check is computed from the two releases' TDX_FEATURES0, not declared by a document.
FEATURES_LOST_WORD = "features-lost"


class Result(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"


class MoveKind(str, Enum):
    UPGRADE = "upgrade"
    REINSTALL = "reinstall"
    ROLLBACK = "rollback"
    CROSS_SERIES = "cross-series"


class CheckCode(str, Enum):
    """Check codes of the CLI contract. Stable: add, never rename."""

    TARGET_KNOWN = "target-known"
    RUNNING_KNOWN = "running-known"
    SAME_SERIES = "same-series"
    UPDATE_RULE = "update-rule"
    POLICY_DENY = "policy-deny"
    ROLLBACK_RULE = "rollback-rule"
    SEAMLDR = "seamldr"
    CPU = "cpu"
    DEBUG = "debug"
    SVN = "svn"
    HANDOFF = "handoff"
    REMAINING_UPDATES = "remaining-updates"
    SUPPORT_STATUS = "support-status"
    ADVISORY = "advisory"
    POLICY_FRESH = "policy-fresh"
    FEATURES = "features"  # added in 0.2: TDX_FEATURES0 bits the running module has, T lacks


def denies(result: Result, strict: bool) -> bool:
    """Whether a check's result denies the move (docs/cli.md#verdict-json: fail and unknown deny;
    warn
    too under --strict)."""
    return result is Result.FAIL or result is Result.UNKNOWN or (strict and result is Result.WARN)


@value
class Check:
    """One check of one move. ``code`` is a :class:`CheckCode` value or an image/host/audit
    code in the same style. ``facts`` holds the JSON-able facts the check used."""

    code: str
    result: Result
    message: str
    source: Location | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@value
class Reversibility:
    """Whether a runtime move back to the version running before will be possible after it."""

    possible: bool
    reason: str


@value
class Verdict:
    from_version: Version | None
    to_version: Version
    kind: MoveKind | None  # None when the running version is unknown
    checks: tuple[Check, ...]
    strict: bool = False
    reversibility: Reversibility | None = None  # set on allowed verdicts

    @property
    def allowed(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that deny (fail and unknown; warn too under --strict)."""
        return tuple(c for c in self.checks if denies(c.result, self.strict))

    def with_checks(self, extra: tuple[Check, ...]) -> Verdict:
        """This verdict with more checks (e.g. from an image); the answer is recomputed.
        Reversibility is judged only for allowed moves: it is dropped when ``extra`` denies."""
        out = replace(self, checks=self.checks + extra)
        if out.reversibility is not None and not out.allowed:
            out = replace(out, reversibility=None)
        return out


@value
class PathResult:
    from_version: Version | None
    to_version: Version
    found: bool
    hops: tuple[Verdict, ...]
    reason: str | None = None  # why none was found
    blocking: tuple[Check, ...] = ()  # checks that block the best attempt, when none found


@value
class Candidate:
    version: Version
    allowed: bool
    failed: tuple[str, ...]  # denying check codes (fail and unknown, as list/1's `failed`)
    hops: int | None = None
    # The subset of ``failed`` that is unknown rather than failed (a fact not given or not
    # known), shown apart as `list` does.
    unknown: tuple[str, ...] = ()


@value
class SelectResult:
    selected: Version | None
    path: tuple[Verdict, ...]
    candidates: tuple[Candidate, ...]


@value
class MoveOptions:
    """How strictly a move is judged (docs/cli.md#commands)."""

    allow_debug: bool = False
    allow_rollback: bool = False
    strict: bool = False
    assume_unknown_ok: bool = False  # relaxes only host facts that were not given
    today: _dt.date | None = None  # for `expires`; the CLI passes the real date
    # Words acknowledged by the operator (`--acknowledge WORD`, "all" for every one): an
    # acknowledged advisory passes, an unacknowledged one warns. FEATURES_LOST_WORD
    # acknowledges the `features` check (TDX_FEATURES0 bits lost by the move) the same way.
    acknowledged: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # A public input type: checked when built (InvalidArgument names the field).
        for name in ("allow_debug", "allow_rollback", "strict", "assume_unknown_ok"):
            flag = getattr(self, name)
            if type(flag) is not bool:
                raise InvalidArgument.expected(f"MoveOptions.{name}", "True or False", flag)
        today = self.today
        if today is not None and (type(today) is not _dt.date):
            # a datetime is a date too, but compares unlike one with `expires` dates
            raise InvalidArgument.expected("MoveOptions.today", "None or a datetime.date", today)
        words = self.acknowledged
        if not (isinstance(words, frozenset) and all(type(w) is str for w in words)):
            raise InvalidArgument.expected(
                "MoveOptions.acknowledged",
                "a frozenset of advisory words (frozenset({'td-build'}); 'all' for every one)",
                words)
