"""Render a :class:`~tdxpolicy.diff.CatalogueDiff`: text for people, JSON
(``schemas/diff.schema.json``), SARIF 2.1.0 for code scanning. No I/O: each returns a value.
"""

from __future__ import annotations

from typing import Any

from ..diff import CatalogueDiff, PathChange
from ..model import Location
from ..version import Version

__all__ = ["diff_text", "diff_json", "diff_sarif", "DIFF_RULES", "DIFF_TAG"]

DIFF_TAG = "diff/1"


def _vs(versions: tuple[Version, ...]) -> str:
    return ", ".join(v.text for v in versions)


def _arrow(path: tuple[Version, ...] | None) -> str:
    return " -> ".join(v.text for v in path) if path else "none"


def path_sentence(p: PathChange) -> str:
    """One line an operator can act on: the cause, who is affected, the way forward."""
    parts = []
    cause = "; ".join(p.causes) + ": " if p.causes else ""
    if p.lost:
        parts.append(f"{cause}hosts on {p.from_version} lose their runtime path to {_vs(p.lost)}")
        parts.append(f"next path: {_arrow(p.next_path)}" if p.next_path
                     else "no runtime update is left for them (a reboot-time update is needed)")
    for path in p.longer:
        lead = "" if p.lost else cause
        parts.append(f"{lead}hosts on {p.from_version} need {len(path) - 1} hops to "
                     f"{path[-1]} now: {_arrow(path)}")
    if p.gained:
        parts.append(f"hosts on {p.from_version} gain a runtime path to {_vs(p.gained)}")
        if not p.lost and p.next_path:
            parts.append(f"newest path: {_arrow(p.next_path)}")
    return "; ".join(parts)


def diff_text(d: CatalogueDiff) -> str:
    out = [f"diff {d.old_name} -> {d.new_name}: "
           + ("BREAKING (a runtime path is lost or needs more hops, or an SVN is lowered)" if d.breaking
              else "no change" if d.empty else "no runtime path lost")]
    if d.added:
        out.append(f"releases added:   {_vs(d.added)}")
    if d.removed:
        out.append(f"releases removed: {_vs(d.removed)}")
    if d.facts:
        out.append("facts changed:")
        for f in d.facts:
            out.append(f"  {f.version} {f.fact}: {f.old or '(not given)'} -> {f.new or '(not given)'}")
            out.append(f"      old at {f.old_at or '-'}; new at {f.new_at or '-'}")
    if d.rules:
        out.append("rules:")
        for r in d.rules:
            where = f"{r.version} " if r.version is not None else ""
            sign = "+" if r.change == "added" else "-"
            out.append(f"  {sign} {where}{r.rule} {r.text}  [{r.at}]")
    if d.svn_lowered:
        out.append("SVN lowered (P-SEAMLDR refuses a lower SVN: hosts on the old image cannot "
                   "install the new one of the same release):")
        for s in d.svn_lowered:
            out.append(f"  {s.version}: {s.old} -> {s.new}  [old {s.old_at}; new {s.new_at}]")
    if d.paths:
        out.append("impact on runtime paths (policy rules):")
        for p in d.paths:
            out.append(f"  {'!' if p.breaking else '+'} {path_sentence(p)}")
    if d.hosts is not None:
        changed = sum(h.hosts for h in d.hosts)
        lost = sum(h.hosts for h in d.hosts if h.lost)
        out.append(f"hosts: {d.hosts_total} decided, {changed} change their selected target, "
                   f"{lost} of them to an older one or none")
        for h in d.hosts:
            out.append(f"  {h.hosts} host(s) on {h.from_version}: "
                       f"{h.old_selected or 'none'} -> {h.new_selected or 'none'}")
    return "\n".join(out) + "\n"


def _loc(loc: Location | None) -> dict[str, Any] | None:
    return None if loc is None else loc.to_json()


def diff_json(d: CatalogueDiff) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "tdxpolicy": DIFF_TAG,
        "old": d.old_name,
        "new": d.new_name,
        "breaking": d.breaking,
        "releases": {"added": [v.text for v in d.added], "removed": [v.text for v in d.removed]},
        "facts": [
            {"version": f.version.text, "fact": f.fact, "old": f.old, "new": f.new,
             "old_location": _loc(f.old_at), "new_location": _loc(f.new_at)}
            for f in d.facts
        ],
        "rules": [
            {"version": None if r.version is None else r.version.text, "rule": r.rule,
             "text": r.text, "change": r.change, "location": r.at.to_json()}
            for r in d.rules
        ],
        "svn_lowered": [
            {"version": s.version.text, "old": s.old, "new": s.new,
             "old_location": s.old_at.to_json(), "new_location": s.new_at.to_json()}
            for s in d.svn_lowered
        ],
        "paths": [
            {"from": p.from_version.text, "lost": [v.text for v in p.lost],
             "longer": [[v.text for v in path] for path in p.longer],
             "gained": [v.text for v in p.gained], "causes": list(p.causes),
             "next_path": None if p.next_path is None else [v.text for v in p.next_path],
             "message": path_sentence(p)}
            for p in d.paths
        ],
    }
    if d.hosts is not None:
        doc["hosts"] = {
            "total": d.hosts_total,
            "changes": [
                {"from": h.from_version, "old_selected": h.old_selected,
                 "new_selected": h.new_selected, "hosts": h.hosts, "lost": h.lost}
                for h in d.hosts
            ],
        }
    return doc


#: SARIF rules of the diff (stable ids: add, never rename).
DIFF_RULES = (
    ("path-lost", "error", "A runtime update path that the old data permitted is gone"),
    ("svn-lowered", "error", "A release's SEAM SVN is lower in the new data"),
    ("fact-changed", "warning", "A release fact differs between the old and the new data"),
    ("rule-changed", "note", "A policy rule was added or removed"),
    ("release-removed", "warning", "A release of the old data is missing from the new data"),
)


def diff_sarif(d: CatalogueDiff, tool_version: str) -> dict[str, Any]:
    from .sarif import SARIF_SCHEMA_URI

    index = {rid: i for i, (rid, _, _) in enumerate(DIFF_RULES)}
    level = {rid: lv for rid, lv, _ in DIFF_RULES}
    results: list[dict[str, Any]] = []

    def add(rid: str, message: str, loc: Location | None) -> None:
        res: dict[str, Any] = {"ruleId": rid, "ruleIndex": index[rid], "level": level[rid],
                               "message": {"text": message}}
        if loc is not None:
            phys: dict[str, Any] = {"artifactLocation": {"uri": loc.file.replace("\\", "/")}}
            if loc.line is not None:
                region: dict[str, Any] = {"startLine": max(1, loc.line)}
                if loc.column is not None:
                    region["startColumn"] = max(1, loc.column)
                phys["region"] = region
            res["locations"] = [{"physicalLocation": phys}]
        results.append(res)

    rule_at = {(r.version, r.change): r.at for r in d.rules}
    for p in d.paths:
        if p.breaking:
            hit = [*p.lost, *(path[-1] for path in p.longer)]
            at = next((rule_at.get((v, "added")) or rule_at.get((v, "removed"))
                       for v in hit if (v, "added") in rule_at or (v, "removed") in rule_at),
                      None)
            add("path-lost", path_sentence(p), at)
    for s in d.svn_lowered:
        add("svn-lowered", f"release {s.version}: SVN {s.old} -> {s.new}", s.new_at)
    for f in d.facts:
        add("fact-changed", f"release {f.version} {f.fact}: {f.old or '(not given)'} -> "
            f"{f.new or '(not given)'}", f.new_at or f.old_at)
    for r in d.rules:
        where = f"release {r.version} " if r.version is not None else ""
        add("rule-changed", f"{where}{r.rule} {r.text} {r.change}", r.at)
    for v in d.removed:
        add("release-removed", f"release {v} is no longer in the data", None)
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tdxpolicy-diff",
                "version": tool_version,
                "rules": [{"id": rid, "shortDescription": {"text": text},
                           "defaultConfiguration": {"level": lv}}
                          for rid, lv, text in DIFF_RULES],
            }},
            "automationDetails": {"id": "tdxpolicy/diff/"},
            "results": results,
        }],
    }


# Output registry adapters (tdxpolicy.output).
def diff_text_style(d: CatalogueDiff, style: Any = None) -> str:
    return diff_text(d)


def diff_sarif_doc(d: CatalogueDiff) -> dict[str, Any]:
    """SARIF 2.1.0 naming this tdxpolicy's version as the tool's."""
    from .. import __version__

    return diff_sarif(d, __version__)
