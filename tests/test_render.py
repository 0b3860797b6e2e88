"""Renderers: pure functions from results to text and JSON. Verdicts here are built by hand so
that each rendering rule is tested on its own: failures first, the verdict line first,
citations, colour only when asked, advice for each denying check, JSON per the schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from referencing import Registry, Resource

from tdxpolicy.model import Location
from tdxpolicy.codecs.path import path_json
from tdxpolicy.codecs.select import select_json
from tdxpolicy.codecs.verdict import check_json, verdict_json
from tdxpolicy.render.text import (
    next_steps,
    render_path,
    render_select,
    render_verdict,
    sort_checks,
)
from tdxpolicy.resources import schema_path
from tdxpolicy.verdict import (
    Candidate,
    Check,
    MoveKind,
    PathResult,
    Result,
    Reversibility,
    SelectResult,
    Verdict,
)
from tdxpolicy.version import Version

R = Version(1, 5, 16)
T = Version(1, 5, 8)
DOC = Location("tdx_module_1.5.08.tdxpolicy", 14, 5)


def _validator(name: str) -> jsonschema.Draft202012Validator:
    resources = []
    for n in ("verdict", "path", "select"):
        doc = json.loads(schema_path(f"{n}.schema.json").read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    schema = json.loads(schema_path(f"{name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=Registry().with_resources(resources))


def _valid(name: str, doc: Any) -> None:
    errors = list(_validator(name).iter_errors(doc))
    assert not errors, [e.message for e in errors]


def rollback() -> Verdict:
    return Verdict(
        from_version=R,
        to_version=T,
        kind=MoveKind.ROLLBACK,
        checks=(
            Check("target-known", Result.PASS, "release 1.5.08 is in the catalogue", DOC),
            Check("advisory", Result.WARN, "a caution"),
            Check("seamldr", Result.UNKNOWN, "P-SEAMLDR version unknown", None,
                  {"seamldr_version": None, "accepted": ["2.0.00"]}),
            Check("svn", Result.FAIL, "SEAM SVN would fall from 1.11 to 1.8", DOC,
                  {"from_svn": "1.11", "to_svn": "1.8"}),
            Check("rollback-rule", Result.FAIL, "no policy grants this rollback"),
        ),
    )


def test_failures_first_in_engine_order_within_a_group() -> None:
    codes = [c.code for c in sort_checks(rollback().checks)]
    assert codes == ["svn", "rollback-rule", "seamldr", "advisory", "target-known"]


def test_text_verdict() -> None:
    text = render_verdict(rollback())
    lines = text.splitlines()
    assert lines[0] == "DENIED: 1.5.16 -> 1.5.08 (rollback)"
    assert lines[1] == ("  fail    svn            SEAM SVN would fall from 1.11 to 1.8  "
                        "[tdx_module_1.5.08.tdxpolicy:14]")
    assert lines[2] == "  fail    rollback-rule  no policy grants this rollback"
    assert lines[3].startswith("  unknown seamldr")
    assert lines[6] == "Next steps:"
    assert "\x1b" not in text


def test_text_colour_only_when_asked() -> None:
    plain = render_verdict(rollback(), color=False)
    coloured = render_verdict(rollback(), color=True)
    assert "\x1b[" in coloured and "\x1b[" not in plain
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_allowed_verdict_says_reversibility() -> None:
    v = Verdict(R, Version(1, 5, 20), MoveKind.UPGRADE,
                (Check("svn", Result.PASS, "SEAM SVN 1.11 -> 1.12"),),
                reversibility=Reversibility(False, "SVN minor rises 1.11 -> 1.12"))
    text = render_verdict(v)
    assert text.splitlines() == [
        "ALLOWED: 1.5.16 -> 1.5.20 (upgrade)",
        "  pass    svn  SEAM SVN 1.11 -> 1.12",
        "Reversible: no (SVN minor rises 1.11 -> 1.12)",
    ]


def test_next_steps_one_per_code_and_unknown_facts_hint() -> None:
    steps = next_steps(rollback())
    assert steps[0].startswith("the loader would reject this image")
    # svn fails, so no override is suggested for the rollback rule
    assert not any("--allow-rollback" in s for s in steps)
    # only the host fact actually missing is named
    assert steps[-1] == ("host facts not given: --seamldr (or --facts FILE), or "
                         "--assume-unknown-ok for off-line planning")
    assert len(steps) == 3  # svn, advisory, unknown facts


def test_unknown_running_version_headline() -> None:
    v = Verdict(None, T, None, (Check("running-known", Result.UNKNOWN, "running version unknown"),))
    assert render_verdict(v).splitlines()[0] == (
        "DENIED: (unknown) -> 1.5.08 (running version unknown)")


def test_verdict_json_shape() -> None:
    doc = verdict_json(rollback())
    _valid("verdict", doc)
    assert list(doc) == ["tdxpolicy", "from", "to", "kind", "allowed", "strict", "reversible", "checks"]
    assert doc["checks"][3] == {
        "code": "svn", "result": "fail", "message": "SEAM SVN would fall from 1.11 to 1.8",
        "source": {"file": "tdx_module_1.5.08.tdxpolicy", "line": 14, "column": 5},
        "facts": {"from_svn": "1.11", "to_svn": "1.8"},
    }
    assert "source" not in doc["checks"][2]


def test_check_facts_become_json() -> None:
    c = Check("cpu", Result.PASS, "ok", None,
              {"cpuid": (0x806F8,), "target": Version(1, 5, 6), "set": frozenset({"b", "a"})})
    assert check_json(c)["facts"] == {"cpuid": [0x806F8], "target": "1.5.06", "set": ["a", "b"]}


def test_path_json_and_text() -> None:
    hop = Verdict(Version(1, 5, 6), Version(1, 5, 8), MoveKind.UPGRADE,
                  (Check("svn", Result.PASS, "ok"),),
                  reversibility=Reversibility(False, "no: SVN rises"))
    found = PathResult(Version(1, 5, 6), Version(1, 5, 8), True, (hop,))
    doc = path_json(found)
    _valid("path", doc)
    assert doc["found"] is True and len(doc["hops"]) == 1
    assert render_path(found).splitlines()[0] == "PATH FOUND: 1.5.06 -> 1.5.08 (1 hop)"
    blocked = PathResult(Version(1, 5, 6), Version(1, 5, 8), False, (), "needs 2 updates, 1 remain",
                         (Check("remaining-updates", Result.FAIL, "needs 2 updates, 1 remain"),))
    doc = path_json(blocked)
    _valid("path", doc)
    assert doc["hops"] == [] and doc["reason"] == "needs 2 updates, 1 remain"
    assert render_path(blocked).splitlines()[:2] == [
        "NO PATH: 1.5.06 -> 1.5.08", "Reason: needs 2 updates, 1 remain"]


def test_select_json_and_text() -> None:
    hop = Verdict(Version(1, 5, 6), Version(1, 5, 8), MoveKind.UPGRADE, ())
    res = SelectResult(
        selected=Version(1, 5, 8),
        path=(hop,),
        candidates=(Candidate(Version(1, 5, 9), False, ("update-rule",), 2),
                    Candidate(Version(1, 5, 8), True, (), 1),
                    Candidate(Version(1, 5, 1), False, ("svn",))),
    )
    doc = select_json(res, Version(1, 5, 6))
    _valid("select", doc)
    assert doc["selected"] == "1.5.08" and doc["from"] == "1.5.06"
    text = render_select(res, from_version=Version(1, 5, 6))
    assert text.splitlines()[:5] == [
        "SELECTED: 1.5.08 (1.5.06 -> 1.5.08)",
        "Candidates (newest first):",
        "  1.5.09  via 2 hops   direct move fails: update-rule",
        "  1.5.08  allowed",
        "  1.5.01  denied       failed: svn",
    ]
    empty = SelectResult(None, (), ())
    _valid("select", select_json(empty))
    assert render_select(empty).startswith("NOTHING SELECTABLE from (unknown)")


def test_next_steps_never_suggest_allow_rollback_when_the_loader_refuses() -> None:
    from tdxpolicy.model import Location
    from tdxpolicy.render.text import next_steps
    from tdxpolicy.verdict import Check, MoveKind, Result, Verdict
    from tdxpolicy.version import Version

    def verdict(svn: Result) -> Verdict:
        return Verdict(
            Version(1, 5, 16), Version(1, 5, 8), MoveKind.ROLLBACK,
            (Check("rollback-rule", Result.FAIL, "no rollback rule"),
             Check("svn", svn, "svn", Location("f", 1, 1))),
        )

    blocked = next_steps(verdict(Result.FAIL))
    assert not any("--allow-rollback" in s for s in blocked)
    assert any("do not attempt" in s for s in blocked)
    assert any("--allow-rollback" in s for s in next_steps(verdict(Result.PASS)))


# --- issue 10 item 6: the "Next:" hint names what is actually missing ----------------------


def _embedded_verdict(running: str, target: str, **host: Any) -> Verdict:
    from tdxpolicy.engine import decide
    from tdxpolicy.hostfacts import HostFacts
    from tdxpolicy.sources import load_catalogue
    from tdxpolicy.verdict import MoveOptions
    from tdxpolicy.version import parse_version

    facts = HostFacts(parse_version(running), host.get("seamldr"), host.get("cpuid"),
                      host.get("remaining"))
    return decide(load_catalogue([]), facts, parse_version(target),
                  MoveOptions(acknowledged=frozenset({"all"})))


def test_next_names_only_the_missing_host_fact() -> None:
    from tdxpolicy.version import parse_version

    steps = next_steps(_embedded_verdict("1.5.08", "1.5.16", seamldr=parse_version("2.0.00"),
                                         remaining=5))
    assert steps == ["host facts not given: --cpuid (or --facts FILE), or --assume-unknown-ok "
                     "for off-line planning"]


def test_next_names_catalogue_gaps_when_every_host_fact_was_given() -> None:
    from tdxpolicy.version import parse_version

    # 1.5.20 is known only from Intel's MRSEAM table: no seamldr list, CPUID table, SVN...
    steps = next_steps(_embedded_verdict("1.5.16", "1.5.20", seamldr=parse_version("2.0.00"),
                                         cpuid=(0x806F8,), remaining=5))
    assert not any("host facts" in s for s in steps), steps
    gap = [s for s in steps if s.startswith("the catalogue lacks facts these checks need: ")]
    assert len(gap) == 1
    for code in ("seamldr", "cpu", "svn", "handoff"):
        assert code in gap[0]
    assert "--assume-unknown-ok does not relax them" in gap[0]


def test_next_for_a_target_not_in_the_catalogue_says_only_that() -> None:
    from tdxpolicy.version import parse_version

    steps = next_steps(_embedded_verdict("1.5.08", "1.5.99", seamldr=parse_version("2.0.00"),
                                         cpuid=(0x806F8,), remaining=5))
    assert steps == ["the catalogue does not know the target: add a policy document that "
                     "describes it (--policy) or check the version"]


def test_select_text_shows_unknown_apart_from_failed() -> None:
    from tdxpolicy.verdict import Candidate, SelectResult

    result = SelectResult(None, (), (
        Candidate(Version(1, 5, 20), False, ("update-rule", "seamldr"), None, ("seamldr",)),
        Candidate(Version(1, 5, 16), False, ("cpu", "remaining-updates"), None,
                  ("cpu", "remaining-updates")),
    ))
    lines = render_select(result, from_version=R).splitlines()
    assert lines[2] == "  1.5.20  denied       failed: update-rule; unknown: seamldr"
    assert lines[3] == "  1.5.16  denied       unknown: cpu, remaining-updates"
