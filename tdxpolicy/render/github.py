"""Findings as GitHub Actions workflow commands: one annotation line per finding.

``::error file=F,line=L,col=C,title=RULE::message`` (``warning`` for warnings, ``notice`` for
notes). The runner reads these lines from a step's output and shows each as an annotation on
the file and line, in the run summary and on a pull request's diff.

Escaping follows the runner's parser (GitHub Actions documentation, "Workflow commands for
GitHub Actions"; the same as ``@actions/core``): in the message, ``%``, CR and LF become
``%25``, ``%0D`` and ``%0A``; property values additionally escape ``:`` and ``,`` (``%3A``,
``%2C``), which delimit the command. Without it a path or message holding a newline would end
the command early and let the rest be read as another command.

Places GitHub cannot show inline (files of the embedded catalogue, which are not in the
repository; byte offsets in images; JSON paths without a line) are written at the start of the
message instead. Pure: findings in, text out.
"""

from __future__ import annotations

from typing import Iterable

from ..audit.findings import Finding, Severity
from ..audit.report import where
from ..model import Location

__all__ = ["github_annotations", "escape_data", "escape_property"]

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def escape_data(text: str) -> str:
    """A workflow command's message (``%`` first, so the escapes are not escaped again)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _where(loc: Location) -> str:
    """The audit's ``file:line:col`` (audit.report.where), with the JSON path also when a
    line or offset is known: an annotation's message is all a reader of the log gets."""
    s = where(loc)
    if loc.path is not None and (loc.line is not None or loc.offset is not None):
        s += f" ({loc.path})"
    return s


def _annotation(f: Finding, embedded: frozenset[str]) -> str:
    props: list[tuple[str, str]] = []
    message = f.message
    loc = f.primary
    if loc is not None:
        if loc.file in embedded:
            message = f"{_where(loc)} (embedded catalogue): {message}"
        else:
            props.append(("file", loc.file.replace("\\", "/")))
            if loc.line is not None:
                props.append(("line", str(loc.line)))
                if loc.column is not None:
                    props.append(("col", str(loc.column)))
            elif loc.offset is not None or loc.path is not None:
                message = f"{_where(loc)}: {message}"
    props.append(("title", f.rule))
    shown = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{_COMMAND[f.severity]} {shown}::{escape_data(message)}"


def github_annotations(findings: Iterable[Finding], *,
                       embedded: frozenset[str] = frozenset()) -> str:
    """One workflow command per finding, each on its own line ("" when there are none).
    ``embedded``: file names of the embedded catalogue (not in the user's repository)."""
    return "".join(_annotation(f, embedded) + "\n" for f in findings)
