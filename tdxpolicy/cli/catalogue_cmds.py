"""CLI commands about the catalogue itself: ``show``, ``graph``, ``lint``.

(``list`` takes host facts and lives with the move commands.) Each command: options -> one
library call (:mod:`tdxpolicy.commands.catalogue`, :mod:`tdxpolicy.lint`) -> one way out
(:func:`tdxpolicy.cli.options.emit_result`) -> exit code (docs/cli.md#contract). Only typer,
the standard library and light modules are imported at module level.

No ``from __future__ import annotations`` here, on purpose: typer reads each command's
annotations at run time, and string annotations cost an ``eval`` (a compile) each, twice
(``inspect.signature`` and ``typing.get_type_hints``): about 2 ms of a cold ``graph``. Names
imported only for type checking are quoted instead.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from . import ExitCode, LazyModule, app
from ..commands import PolicySpec
from .facts_opts import host_facts_from_options, move_options_from
from .finding_opts import FailOnLevel, FailOnOpt, LintFormat
from ..output import check_output, dumps
from .options import (
    to_output,
    FormatOpt,
    NoDefaultPolicyOpt,
    OutputFormat,
    OutputOpt,
    PolicyOpt,
    emit_result,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import catalogue as lib
else:  # the library, imported when a command first uses it (start-up budget)
    lib = LazyModule("tdxpolicy.commands.catalogue")



def _emit_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")


# --- show ----------------------------------------------------------------------------------------


@app.command("show")
def show(
    version: Annotated[str, typer.Argument(metavar="VERSION", help="Release to show, e.g. 1.5.16.")],
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
    output: OutputOpt = None,
) -> int:
    """All facts and rules of a release, each with the file:line:column that declared it."""
    check_output(output)
    shown = lib.show_release(PolicySpec.of(policy, no_default_policy), version)
    emit_result(shown, format, output)
    return ExitCode.OK


# --- graph ---------------------------------------------------------------------------------------


class GraphFormat(str, Enum):
    """graph's formats (tdxpolicy.output.RENDERERS["tdxpolicy.graph.VersionGraph"])."""

    text = "text"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


@app.command("graph")
def graph(
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: Annotated[
        GraphFormat, typer.Option("--format", case_sensitive=False, help="Output format.")
    ] = GraphFormat.text,
    seamldr: Annotated[Optional[str], typer.Option("--seamldr", metavar="VERSION",
                       help="Running P-SEAMLDR version: keep only moves the engine allows.")] = None,
    cpuid: Annotated[Optional[list[str]], typer.Option("--cpuid", metavar="HEX",
                     help="CPUID.1.EAX of a CPU package (repeatable).")] = None,
    remaining: Annotated[Optional[str], typer.Option("--remaining", metavar="N",
                         help="P-SEAMLDR num_remaining_updates.")] = None,
    facts: Annotated[Optional[Path], typer.Option("--facts", metavar="FILE",
                     help="Host facts JSON (its module_version is ignored here).")] = None,
    assume_unknown_ok: Annotated[bool, typer.Option("--assume-unknown-ok",
                                 help="Host facts not given do not deny.")] = False,
    allow_debug: Annotated[bool, typer.Option("--allow-debug",
                           help="Permit debug-signed targets.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings deny.")] = False,
    acknowledge: Annotated[Optional[list[str]], typer.Option("--acknowledge", metavar="WORD",
                           help="Acknowledge an advisory (repeatable; 'all').")] = None,
    output: OutputOpt = None,
) -> int:
    """The version graph: nodes = releases, edges = moves the policy permits.

    With host facts (--seamldr, --cpuid, --remaining, --facts) only the moves that the engine
    allows for such a host are kept (each edge judged with its source as the running version).
    """
    check_output(output)
    host = options = None
    if any((seamldr, cpuid, remaining, facts)):
        host = host_facts_from_options(None, seamldr, cpuid, remaining, facts)
        options = move_options_from(  # today: the real date (move_options_from's default)
            allow_debug=allow_debug, strict=strict, acknowledge=acknowledge,
            assume_unknown_ok=assume_unknown_ok)
    g = lib.version_graph(PolicySpec.of(policy, no_default_policy), host, options)
    emit_result(g, format, output)
    return ExitCode.OK


# --- lint ----------------------------------------------------------------------------------------


@app.command("lint")
def lint(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...",
                     help="Policy documents, Intel sources or directories to check.")],
    no_default_policy: NoDefaultPolicyOpt = False,
    format: Annotated[LintFormat, typer.Option(
        "--format", help="Output format: text, json (lint/1) or github (workflow-command "
        "annotations).", case_sensitive=False)] = LintFormat.text,
    fail_on: FailOnOpt = FailOnLevel.warning,
    output: OutputOpt = None,
) -> int:
    """Parse and check documents: exit 1 when a finding is at least as severe as --fail-on
    (default: warning, so every finding), else 0; 2 when unreadable or invalid.

    Each path is checked on its own (every broken file is reported); then the audit's document
    rules run over them, compared with each other and the embedded catalogue (unless
    --no-default-policy), and the findings about the linted documents are reported.
    """
    check_output(output)
    with to_output(output):
        return _lint(paths, no_default_policy, format, fail_on)


def _lint(paths: list[Path], no_default_policy: bool, format: "LintFormat",
          fail_on: "FailOnLevel") -> int:
    import datetime as _dt

    from ..audit import FailOn, fails
    from ..errors import InputError
    from ..lint import lint_documents, lint_finding_json, lint_line
    from ..model import PolicyDocument
    from ..sources import embedded_documents, load_documents

    docs: list[PolicyDocument] = []
    errors: list[InputError] = []
    for p in paths:
        try:
            docs.extend(load_documents([p]))
        except InputError as e:
            errors.append(e)
    if errors:
        if format is LintFormat.json:
            problems = [pr.to_json() for err in errors for pr in err.problems]
            _emit_json({"error": {"code": errors[0].code,
                                  "message": "; ".join(err.message for err in errors),
                                  "problems": problems}})
        else:
            for err in errors:
                sys.stderr.write(f"tdxpolicy: {err.render()}\n")
        return ExitCode.INVALID
    base = [] if no_default_policy else embedded_documents()
    findings = lint_documents(docs, _dt.date.today(), base)
    n_rel = sum(len(d.releases) for d in docs)
    if format is LintFormat.json:
        _emit_json({
            "tdxpolicy": "lint/1",
            "documents": [d.file for d in docs],
            "clean": not findings,
            "findings": [lint_finding_json(f) for f in findings],
        })
    else:
        if format is LintFormat.github:
            from ..render.github import github_annotations

            sys.stdout.write(github_annotations(findings))
        else:
            for finding in findings:
                sys.stdout.write(lint_line(finding) + "\n")
        summary = (f"{len(docs)} document(s), {n_rel} release block(s): "
                   + (f"{len(findings)} finding(s)" if findings else "clean"))
        sys.stderr.write(summary + "\n")
    return ExitCode.DENIED if fails(findings, FailOn(fail_on.value)) else ExitCode.OK
