"""CLI commands about the catalogue itself: ``show``, ``graph``, ``lint``.

(``list`` takes host facts and lives with the move commands.) Each command: options -> one
library call (:mod:`tdxpolicy.sources`, :mod:`tdxpolicy.graph`, :mod:`tdxpolicy.lint`) ->
render -> exit code (docs/cli.md#contract). Only typer and the standard library are imported at
module level.

No ``from __future__ import annotations`` here, on purpose: typer reads each command's
annotations at run time, and string annotations cost an ``eval`` (a compile) each, twice
(``inspect.signature`` and ``typing.get_type_hints``): about 2 ms of a cold ``graph``. Names
imported only for type checking are quoted instead.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, Sequence

import typer

from . import ExitCode, app
from .finding_opts import FailOnLevel, FailOnOpt, LintFormat
from .options import FormatOpt, NoDefaultPolicyOpt, OutputFormat, PolicyOpt, load_policy

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue, Release
    from ..graph import Edge

def _emit_json(obj: Any) -> None:
    from . import emit_json

    emit_json(obj)


# --- show ----------------------------------------------------------------------------------------

_SHOWN_UNKNOWN = ("published", "mrseam", "seamhash", "svn", "platforms", "seamldr", "features0",
                  "handoff")


def _fact_text(name: str, value: Any) -> str:
    from ..serialize import fact_value_to_json

    j = fact_value_to_json(name, value)
    if isinstance(j, list):
        return " ".join(j)
    if name == "handoff":
        return str(value)
    if name == "status":
        return f'{value.kind.value} "{value.reason}"'
    if name == "debug":
        return "yes (debug-signed)"
    return str(j)


def _show_text(release: "Release", deny_to: Sequence[Any]) -> str:
    lines = [f"release {release.version} (series {release.version.series_text})"]
    lines.append("  declared at: " + ", ".join(str(loc) for loc in release.declared_at))
    lines.append("facts:")
    items = release.facts.items()
    width = max((len(n) for n, _ in items), default=0)
    for name, s in items:
        lines.append(f"  {name:<{width}}  {_fact_text(name, s.value)}")
        lines.append(f"  {'':<{width}}    at {s.source}")
    unknown = [n for n in _SHOWN_UNKNOWN if getattr(release.facts, n) is None]
    if unknown:
        lines.append("  unknown (no source gives them): " + ", ".join(unknown))
    lines.append("rules:")
    rules: list[tuple[str, Any]] = []
    rules += [(f"update from {r.versions}", r.source) for r in release.update_from]
    rules += [(f'deny from {r.versions} "{r.reason}"', r.source) for r in release.deny_from]
    rules += [(f"rollback to {r.versions}", r.source) for r in release.rollback_to]
    rules += [(f'advisory {r.word} "{r.text}"', r.source) for r in release.advisories]
    rules += [(f'deny to {r.versions} "{r.reason}" (document rule)', r.source) for r in deny_to]
    for text, src in rules:
        lines.append(f"  {text}")
        lines.append(f"    at {src}")
    if not release.update_from:
        lines.append("  (no 'update from' rule: this release cannot be updated into at runtime)")
    return "\n".join(lines) + "\n"


@app.command("show")
def show(
    version: Annotated[str, typer.Argument(metavar="VERSION", help="Release to show, e.g. 1.5.16.")],
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """All facts and rules of a release, each with the file:line:column that declared it."""
    from ..errors import InputError
    from ..version import VersionError, parse_version

    try:
        v = parse_version(version)
    except VersionError as e:
        raise InputError.at(f"VERSION: {e}", code="invalid-version") from None
    catalogue = load_policy(policy, no_default_policy)
    release = catalogue.get(v)
    if release is None:
        known = ", ".join(r.version.text for r in catalogue.releases) or "none"
        raise InputError.at(
            f"no policy source knows release {version} (known: {known})",
            code="unknown-version",
        )
    deny_to = [d for d in catalogue.deny_to if d.versions.matches(v)]
    if format is OutputFormat.json:
        from ..serialize import release_to_json

        rel = release_to_json(release)
        rel["deny_to"] = [
            {"versions": str(d.versions), "reason": d.reason, "source": d.source.to_json()}
            for d in deny_to
        ]
        rel["unknown_facts"] = [n for n in _SHOWN_UNKNOWN if getattr(release.facts, n) is None]
        _emit_json({"tdxpolicy": "show/1", "release": rel})
    else:
        sys.stdout.write(_show_text(release, deny_to))
    return ExitCode.OK


# --- graph ---------------------------------------------------------------------------------------


class GraphFormat(str, Enum):
    text = "text"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


def _facts_filter(catalogue: "Catalogue", opts: dict[str, Any]) -> Any:
    """An edge filter from host facts via the engine (each edge judged with its source as the
    running version), or ``None`` when no host fact was given."""
    given = any(opts[k] for k in ("seamldr", "cpuid", "remaining", "facts"))
    if not given:
        return None
    from dataclasses import replace

    from ..engine import decide
    from .facts_opts import host_facts_from_options, move_options_from

    host = host_facts_from_options(None, opts["seamldr"], opts["cpuid"], opts["remaining"],
                                   opts["facts"])
    options = move_options_from(  # today: the real date (move_options_from's default)
        allow_debug=opts["allow_debug"], strict=opts["strict"], acknowledge=opts["acknowledge"],
        assume_unknown_ok=opts["assume_unknown_ok"],
    )

    def keep(e: "Edge") -> bool:
        return decide(catalogue, replace(host, module_version=e.source), e.target, options).allowed

    return keep


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
) -> int:
    """The version graph: nodes = releases, edges = moves the policy permits.

    With host facts (--seamldr, --cpuid, --remaining, --facts) only the moves that the engine
    allows for such a host are kept (each edge judged with its source as the running version).
    """
    from ..graph import VersionGraph
    from ..render import graph as rg

    catalogue = load_policy(policy, no_default_policy)
    g = VersionGraph(catalogue)
    keep = _facts_filter(catalogue, {
        "seamldr": seamldr, "cpuid": cpuid, "remaining": remaining, "facts": facts,
        "assume_unknown_ok": assume_unknown_ok, "allow_debug": allow_debug, "strict": strict,
        "acknowledge": acknowledge,
    })
    if keep is not None:
        g = g.filtered(keep)
    if format is GraphFormat.json:
        _emit_json(rg.graph_json(g))
    elif format is GraphFormat.dot:
        sys.stdout.write(rg.graph_dot(g))
    elif format is GraphFormat.mermaid:
        sys.stdout.write(rg.graph_mermaid(g))
    else:
        sys.stdout.write(rg.graph_text(g))
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
) -> int:
    """Parse and check documents: exit 1 when a finding is at least as severe as --fail-on
    (default: warning, so every finding), else 0; 2 when unreadable or invalid.

    Each path is checked on its own (every broken file is reported); then the audit's document
    rules run over them, compared with each other and the embedded catalogue (unless
    --no-default-policy), and the findings about the linted documents are reported.
    """
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
