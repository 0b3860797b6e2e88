"""Options of the commands that report findings, ``audit`` and ``lint`` (docs/audit.md,
docs/policy-format.md#lint): their output formats and ``--fail-on``.

Only the standard library and typer are imported at module level (start-up speed: ``lint``
shares its module with ``show`` and ``graph``); :class:`FailOnLevel` values are the names of
:class:`tdxpolicy.audit.FailOn`.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

__all__ = ["AuditFormat", "LintFormat", "FailOnLevel", "FailOnOpt"]


class AuditFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class FailOnLevel(str, Enum):
    error = "error"
    warning = "warning"
    never = "never"


FailOnOpt = Annotated[
    FailOnLevel,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding is at least this severe: error, warning (errors and "
        "warnings) or never (report only). Notes never fail.",
        case_sensitive=False,
    ),
]
