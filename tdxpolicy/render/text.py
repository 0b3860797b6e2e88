"""Text for people: verdicts, paths, selections and the release list.

Layout: the answer first (``DENIED: 1.5.16 -> 1.5.08 (rollback)``), then a compact table of
checks with failures first (fail, unknown, warn, pass) and the ``file:line`` that decided each,
then what to do next. Colour is plain ANSI escapes and only when the caller says so (the CLI
decides, from whether stdout is a terminal); no terminal library is imported,
so text output costs nothing at start-up. No I/O here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ..catalogue import Catalogue, Release, distinct_versets
from ..model import Location
from ..verdict import Check, PathResult, Result, SelectResult, Verdict
from ..version import Version

if TYPE_CHECKING:  # pragma: no cover
    from ..commands.moves import ReleaseList, Selection
    from ..output import Style

__all__ = [
    "render_verdict",
    "render_path",
    "render_select",
    "render_list",
    "write_list",
    "next_steps",
    "sort_checks",
]

_ORDER = {Result.FAIL: 0, Result.UNKNOWN: 1, Result.WARN: 2, Result.PASS: 3}
_COLOURS = {
    Result.FAIL: "\x1b[31;1m",
    Result.UNKNOWN: "\x1b[35;1m",
    Result.WARN: "\x1b[33m",
    Result.PASS: "\x1b[32m",
}
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"


def _c(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def sort_checks(checks: Sequence[Check]) -> list[Check]:
    """Failures first (fail, unknown, warn, pass); the engine's order within each group."""
    return sorted(checks, key=lambda c: _ORDER.get(c.result, 4))


def _cite(loc: Location | None) -> str:
    if loc is None:
        return ""
    s = loc.file.rsplit("/", 1)[-1] if loc.file.startswith("/") else loc.file
    if loc.line is not None:
        s += f":{loc.line}"
    elif loc.path is not None:
        s += f" {loc.path}"
    return s


def _from_text(v: Version | None) -> str:
    return v.text if v is not None else "(unknown)"


def _reversible(possible: bool, reason: str) -> str:
    word = "yes" if possible else "no"
    if reason.lower().startswith(word):
        return reason
    return f"{word} ({reason})"


def verdict_headline(verdict: Verdict, color: bool = False) -> str:
    word = "ALLOWED" if verdict.allowed else "DENIED"
    kind = verdict.kind.value if verdict.kind is not None else "running version unknown"
    head = f"{word}: {_from_text(verdict.from_version)} -> {verdict.to_version.text} ({kind})"
    return _c(head, "\x1b[32;1m" if verdict.allowed else "\x1b[31;1m", color)


def _wrapped(text: str, avail: int) -> list[str]:
    """``text`` broken at spaces into lines of at most ``avail`` columns (a word longer than
    that, a file name, stays whole on its own line)."""
    import textwrap

    return textwrap.wrap(text, max(avail, 10), break_long_words=False,
                         break_on_hyphens=False) or [""]


def _fill(prefix: str, text: str, width: int | None, hang: int | None = None) -> list[str]:
    """``prefix + text``; with a ``width``, wrapped with continuation lines indented by
    ``hang`` columns (default: under the start of ``text``). ``prefix`` has no escapes."""
    if width is None or len(prefix) + len(text) <= width:
        return [prefix + text]
    indent = " " * (len(prefix) if hang is None else hang)
    first = _wrapped(text, width - len(prefix))[0]
    rest = text[len(first):].strip()
    return [prefix + first] + ([indent + p for p in _wrapped(rest, width - len(indent))]
                               if rest else [])


def _table(checks: Sequence[Check], color: bool, indent: str = "  ",
           width: int | None = None) -> list[str]:
    """One row per check: result, code, message and the cited ``file:line``. With a
    ``width`` (a terminal), a long message wraps with a hanging indent under the message
    column; without one (a file or pipe) every check stays on one line, for grep."""
    rows = sort_checks(checks)
    if not rows:
        return []
    wcode = max(len(c.code) for c in rows)
    lines = []
    for c in rows:
        res = c.result.value.ljust(7)
        cite = _cite(c.source)
        tail = f"  [{cite}]" if cite else ""
        head = f"{indent}{_c(res, _COLOURS.get(c.result, ''), color)} {c.code.ljust(wcode)}  "
        column = len(indent) + 8 + wcode + 2
        if width is None or column + len(c.message) + len(tail) <= width:
            lines.append(f"{head}{c.message}{_c(tail, _DIM, color) if tail else ''}")
            continue
        body = _wrapped(c.message, width - column)
        if tail and len(body[-1]) + len(tail) > width - column:
            body.append(tail.strip())
            tails = [False] * (len(body) - 1) + [True]
        else:
            body[-1] += tail
            tails = [False] * len(body)
        for i, text in enumerate(body):
            lead = head if i == 0 else " " * column
            if i and tails[i] and column + len(text) > width:
                # A citation too long for the message column: right-aligned to the width
                # instead (it still fits whenever it fits the indent at all).
                lead = " " * max(len(indent), width - len(text))
            if tail and color and (tails[i] or (i == len(body) - 1 and text.endswith(tail))):
                plain = text[: len(text) - len(tail.strip() if tails[i] else tail)]
                text = plain + _c(text[len(plain):], _DIM, True)
            lines.append(lead + text)
    return lines


# What an operator can do about each failing check (docs/cli.md#check-codes).
_ADVICE: Mapping[str, str] = {
    "target-known": "the catalogue does not know the target: add a policy document that "
    "describes it (--policy) or check the version",
    "running-known": "the catalogue does not know the running module: add a policy document "
    "that describes it (--policy); its SVN and handoff values cannot be checked otherwise",
    "same-series": "runtime updates stay inside one major.minor series; moving series needs a "
    "reboot with the new module (BIOS)",
    "update-rule": "the target's policy does not admit this running version: try "
    "'tdxpolicy path --to {to}' for intermediate hops",
    "policy-deny": "a 'deny' rule blocks this move; see the cited document for the reason",
    "rollback-rule": "no policy grants this rollback; --allow-rollback permits it if you accept "
    "the risk (loader rules still apply)",
    "seamldr": "update P-SEAMLDR first (it ships with the BIOS), or pick a target whose entry "
    "in Intel's compatibility table lists it",
    "cpu": "the target's image does not support every CPU package of this host",
    "debug": "the target is debug-signed; --allow-debug permits it on a debug-unlocked platform",
    "svn": "the loader would reject this image after the running module shut down, killing "
    "every TD: do not attempt this move at runtime",
    "handoff": "the new module cannot import the running module's handoff data: do not attempt "
    "this move at runtime",
    "remaining-updates": "P-SEAMLDR has no runtime updates left: reboot to reset its log",
    "support-status": "the target is not a supported release; see its status reason",
    "advisory": "read the advisory and acknowledge it with --acknowledge WORD",
    "policy-fresh": "a policy document is past its 'expires' date: fetch a current one",
    "features": "the move may lose TDX_FEATURES0 bits the running module has (see the "
    "message): check that nothing on this host relies on them, then acknowledge with "
    "--acknowledge features-lost",
}

# Host facts an operator gives, by the check that needs them and the fact key it reports
# (checks._unknown_host_fact): an unknown check with that key None lacks exactly this flag.
_HOST_FACT_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("seamldr", "seamldr_version", "--seamldr"),
    ("cpu", "cpuid", "--cpuid"),
    ("remaining-updates", "num_remaining_updates", "--remaining"),
)


def _missing_host_flag(c: Check) -> str | None:
    """The flag whose fact this unknown check lacks, when the missing fact is a host fact."""
    for code, key, flag in _HOST_FACT_FLAGS:
        if c.code == code and key in c.facts and not c.facts[key]:
            return flag
    return None


# Checks that depend only on T (engine.checks.target_outcomes): their unknowns are T's gaps
# even when the running release is unknown.
_TARGET_ONLY = frozenset({"seamldr", "cpu", "debug", "support-status", "advisory"})


def _release_gap(c: Check, target_known: bool, running_known: bool) -> bool:
    """Whether this unknown (not a missing host fact) is a gap in the catalogue's facts of a
    known release, rather than a consequence of T or R being unknown altogether (whose own
    advice already says what to do)."""
    if not target_known:
        return False
    return running_known or c.code in _TARGET_ONLY


def next_steps(verdict: Verdict) -> list[str]:
    """Advice for each distinct denying (or warning) check, in table order."""
    out: list[str] = []
    seen: set[str] = set()
    host_flags: dict[str, None] = {}
    passed = {c.code for c in verdict.checks if c.result is Result.PASS}
    target_known, running_known = "target-known" in passed, "running-known" in passed
    catalogue_gaps: dict[str, None] = {}
    # When the loader itself would refuse the move (svn, handoff), no operator override can
    # make a rollback safe: do not suggest --allow-rollback next to "do not attempt".
    loader_refuses = any(
        c.code in ("svn", "handoff") and c.result is Result.FAIL for c in verdict.checks
    )
    for c in sort_checks(verdict.checks):
        if c.code in ("rollback-rule", "features") and loader_refuses:
            continue  # the move must not be attempted at all: no override or acknowledgement
        if c.result is Result.PASS:
            continue
        if c.result is Result.WARN and c.code not in ("advisory", "policy-fresh", "features"):
            continue
        if c.code == "policy-fresh" and c.facts.get("today", "") is None:
            continue  # no date given (API): nothing is past its date
        if c.result is Result.UNKNOWN and c.code not in ("target-known", "running-known"):
            flag = _missing_host_flag(c)
            if flag is not None:
                host_flags[flag] = None
            elif _release_gap(c, target_known, running_known):
                catalogue_gaps[c.code] = None
            continue
        if c.code in seen or c.code not in _ADVICE:
            continue
        seen.add(c.code)
        out.append(_ADVICE[c.code].format(to=verdict.to_version.text))
    if host_flags:
        out.append(
            f"host facts not given: {', '.join(host_flags)} (or --facts FILE), or "
            "--assume-unknown-ok for off-line planning"
        )
    if catalogue_gaps:
        out.append(
            f"the catalogue lacks facts these checks need: {', '.join(catalogue_gaps)} (see "
            "each message): add a policy document that declares them (--policy); "
            "--assume-unknown-ok does not relax them"
        )
    return out


def render_verdict(verdict: Verdict, color: bool = False, width: int | None = None) -> str:
    """The verdict for a person; ``width``: wrap long lines to it (a terminal)."""
    lines = [verdict_headline(verdict, color)]
    lines.extend(_table(verdict.checks, color, width=width))
    if verdict.allowed and verdict.reversibility is not None:
        r = verdict.reversibility
        lines.extend(_fill("Reversible: ", _reversible(r.possible, r.reason), width))
    steps = next_steps(verdict)
    if steps:
        lines.append("Next:" if len(steps) == 1 else "Next steps:")
        for s in steps:
            lines.extend(_fill("  - ", s, width))
    return "\n".join(lines) + "\n"


def render_path(result: PathResult, color: bool = False, width: int | None = None) -> str:
    src = _from_text(result.from_version)
    if result.found:
        n = len(result.hops)
        chain = " -> ".join([src] + [h.to_version.text for h in result.hops])
        lines = [
            _c(f"PATH FOUND: {chain} ({n} hop{'s' if n != 1 else ''})", "\x1b[32;1m", color)
        ]
        for i, hop in enumerate(result.hops, 1):
            lines.append(f"hop {i}: " + verdict_headline(hop, color))
            lines.extend(_table(hop.checks, color, indent="    ", width=width))
            if hop.reversibility is not None:
                r = hop.reversibility
                lines.extend(_fill("    reversible: ", _reversible(r.possible, r.reason),
                                   width))
        return "\n".join(lines) + "\n"
    lines = [
        _c(f"NO PATH: {src} -> {result.to_version.text}", "\x1b[31;1m", color),
    ]
    lines.extend(_fill("Reason: ", result.reason or "no permitted sequence of moves", width))
    if result.blocking:
        lines.append("Blocking checks:")
        lines.extend(_table(result.blocking, color, width=width))
    return "\n".join(lines) + "\n"


def render_select(result: SelectResult, color: bool = False,
                  from_version: Version | None = None, width: int | None = None) -> str:
    src = from_version
    if src is None and result.path:
        src = result.path[0].from_version
    if result.selected is not None:
        chain = " -> ".join([_from_text(src)] + [h.to_version.text for h in result.path])
        lines = [_c(f"SELECTED: {result.selected.text} ({chain})", "\x1b[32;1m", color)]
    else:
        lines = [_c(f"NOTHING SELECTABLE from {_from_text(src)}", "\x1b[31;1m", color)]
    if result.candidates:
        lines.append("Candidates (newest first):")
        wv = max(len(c.version.text) for c in result.candidates)
        for c in result.candidates:
            reachable = c.allowed or bool(c.hops)
            if c.hops and c.hops > 1:
                mark = f"via {c.hops} hops"
            else:
                mark = "allowed" if c.allowed else "denied"
            why = ""
            if c.failed:
                # As `list` shows them: what fails, then what is unknown (a fact not given
                # or not known is not a failure of the move).
                failing = [code for code in c.failed if code not in c.unknown]
                why = ", ".join(failing)
                if c.unknown:
                    why += ("; " if why else "") + "unknown: " + ", ".join(c.unknown)
                if failing:
                    why = ("  direct move fails: " if reachable else "  failed: ") + why
                else:
                    why = ("  direct move: " if reachable else "  ") + why
            elif reachable and src is not None and c.version.series == src.series and \
                    c.version.key <= src.key:
                # select only ever picks a newer release (docs/cli.md#commands).
                kind = "reinstall" if c.version.key == src.key else "rollback"
                why = f"  {kind}: select never picks it (use can-upgrade --to {c.version.text})"
            # Padded only when something follows (no trailing blanks inside the colour).
            res = _c(mark.ljust(11) if why else mark, "\x1b[32m" if reachable else "\x1b[31m",
                     color)
            column = 2 + wv + 2 + 11
            if width is None or column + len(why) <= width or not why.strip():
                lines.append(f"  {c.version.text.ljust(wv)}  {res}{why}".rstrip())
            else:
                body = _fill(" " * (column + 2), why.strip(), width, hang=column + 4)
                lines.append(f"  {c.version.text.ljust(wv)}  {res}  " + body[0].lstrip())
                lines.extend(body[1:])
    for i, hop in enumerate(result.path, 1):
        if hop.reversibility is not None:
            r = hop.reversibility
            lines.extend(_fill(
                f"hop {i} {_from_text(hop.from_version)} -> {hop.to_version.text}: ",
                f"reversible: {_reversible(r.possible, r.reason)}", width, hang=2))
    return "\n".join(lines) + "\n"


def _policy_summary(r: Release) -> str:
    def sets(rules: Iterable[Any]) -> str:
        return " | ".join(distinct_versets(rules))

    parts = []
    if r.update_from:
        parts.append("from " + sets(r.update_from))
    else:
        parts.append("no runtime update")
    if r.deny_from:
        parts.append("deny " + sets(r.deny_from))
    if r.rollback_to:
        parts.append("rollback to " + sets(r.rollback_to))
    return "; ".join(parts)


def render_list(
    catalogue: Catalogue,
    verdicts: Mapping[Version, Verdict] | None = None,
    color: bool = False,
    from_version: Version | None = None,
) -> str:
    """Every release, newest first: version, series, published, status, update policy, and
    whether this host can move there when facts were given."""
    out: list[str] = []
    rows = ((r, None if verdicts is None else verdicts.get(r.version))
            for r in catalogue.newest_first())
    write_list(out.append, catalogue, rows, color=color, from_version=from_version,
               with_status=verdicts is not None)
    return "".join(out)


def _list_cells(r: Release) -> list[str]:
    f = r.facts
    return [
        r.version.text,
        r.version.series_text,
        f.published.value.isoformat() if f.published is not None else "-",
        f.status.value.kind.value if f.status is not None else "supported",
        _policy_summary(r),
    ]


def _list_status(v: Verdict | None) -> str:
    if v is None:
        return "-"
    kind = v.kind.value if v.kind is not None else "?"
    if v.allowed:
        return f"yes ({kind})"
    failing = [c.code for c in v.failed if c.result is not Result.UNKNOWN]
    unknown = [c.code for c in v.failed if c.result is Result.UNKNOWN]
    why = ", ".join(dict.fromkeys(failing))
    if unknown:
        why += ("; " if why else "") + "unknown: " + ", ".join(dict.fromkeys(unknown))
    return f"no ({kind}): {why}"


def write_list(
    write: Callable[[str], object],
    catalogue: Catalogue,
    rows: Iterable[tuple[Release, Verdict | None]],
    color: bool = False,
    from_version: Version | None = None,
    with_status: bool = False,
) -> None:
    """:func:`render_list`'s text, written one line at a time as ``rows`` (newest first, as
    from :func:`engine.decide_each`) come: the column widths depend only on the catalogue
    (the host's column is last and not padded), so no verdict is kept
    (docs/performance.md#streamed-list)."""
    header = ["VERSION", "SERIES", "PUBLISHED", "STATUS", "UPDATE POLICY"]
    if with_status:
        header.append(f"FROM {_from_text(from_version)}")
    last = len(header) - 1
    widths = [len(h) for h in header]
    for r in catalogue.releases:
        for i, cell in enumerate(_list_cells(r)[:last]):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c if i == last else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    empty = True
    for r, v in rows:
        if empty:
            write(_c(fmt(header), _BOLD, color) + "\n")
            empty = False
        row = _list_cells(r)
        if with_status:
            row.append(_list_status(v))
        line = fmt(row)
        if color and with_status:
            cell = row[-1]
            colour = "\x1b[32m" if cell.startswith("yes") else "\x1b[31m"
            line = line[: len(line) - len(cell)] + _c(cell, colour, True)
        write(line + "\n")
    if empty:
        write("(the catalogue is empty)\n")


# Output registry entries (tdxpolicy.output): the result, and the sink's style.
def verdict_text(verdict: Verdict, style: Style) -> str:
    return render_verdict(verdict, style.color, style.width)


def path_text(result: PathResult, style: Style) -> str:
    return render_path(result, style.color, style.width)


def selection_text(selection: Selection, style: Style) -> str:
    return render_select(selection.result, style.color, selection.from_version, style.width)


def release_list_text(listing: ReleaseList, write: Callable[[str], object],
                      style: Style) -> None:
    # A table: columns stay aligned, never wrapped (a wide terminal or a pager shows it);
    # written row by row as each release is decided (write_list).
    write_list(write, listing.catalogue, listing.rows, style.color, listing.from_version,
               listing.with_status)
