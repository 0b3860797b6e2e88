"""Engine unit tests that data files express badly: cited sources, JSON-able facts, the real
data's consequences over every pair, purity, and plan's safety net."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

from factories import V, block, catalogue, document, intel_catalogue
from tdxpolicy.catalogue import Catalogue
from tdxpolicy.engine import decide, plan, select
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.verdict import MoveKind, MoveOptions, Result

plan_module = importlib.import_module("tdxpolicy.engine.plan")
ENGINE = Path(__file__).resolve().parent.parent / "tdxpolicy" / "engine"
ACK = MoveOptions(acknowledged=frozenset({"all"}))


def _cat() -> Catalogue:
    return catalogue(
        block("1.5.06", svn="1.7", platforms=[0x806F8], seamldr=["1.5.00"], handoff=(0, 0),
              update_from=[">= 1.5.01"]),
        block("1.5.08", svn="1.7", platforms=[0x806F8], seamldr=["1.5.00"], handoff=(0, 0),
              update_from=["== 1.5.02", ">= 1.5.05"], rollback_to=["1.5.06"],
              advisories=[("migration", "Do not update during a live migration.")]),
        block("1.5.09", svn="1.7", platforms=[0x806F8], seamldr=["1.5.00"], handoff=(0, 0),
              update_from=[">= 1.5.01"], deny_from=[("1.5.08", "known bad")]),
    )


def _check(verdict, code):  # type: ignore[no-untyped-def]
    return next(c for c in verdict.checks if c.code == code)


def test_sources_cite_the_deciding_line() -> None:
    cat = _cat()
    r6, r8, r9 = cat.releases
    host = HostFacts(V("1.5.06"), V("1.5.00"), (0x806F8,), 3)
    v = decide(cat, host, V("1.5.08"), MoveOptions())
    # The second `update from` admits 1.5.06, so it is the one cited.
    assert _check(v, "update-rule").source == r8.update_from[1].source
    assert _check(v, "seamldr").source == r8.facts.seamldr.source  # type: ignore[union-attr]
    assert _check(v, "cpu").source == r8.facts.platforms.source  # type: ignore[union-attr]
    assert _check(v, "svn").source == r8.facts.svn.source  # type: ignore[union-attr]
    assert _check(v, "handoff").source == r8.facts.handoff.source  # type: ignore[union-attr]
    assert _check(v, "advisory").source == r8.advisories[0].source
    assert _check(v, "target-known").source == r8.declared_at[0]
    assert _check(v, "running-known").source == r6.declared_at[0]
    back = decide(cat, HostFacts(V("1.5.08"), V("1.5.00"), (0x806F8,), 3), V("1.5.06"),
                  MoveOptions())
    assert back.allowed and back.kind is MoveKind.ROLLBACK
    assert _check(back, "rollback-rule").source == r8.rollback_to[0].source
    denied = decide(cat, HostFacts(V("1.5.08"), V("1.5.00"), (0x806F8,), 3), V("1.5.09"),
                    MoveOptions())
    assert _check(denied, "policy-deny").source == r9.deny_from[0].source
    # When no rule admits, the first rule is cited as the one that did not.
    no = decide(cat, HostFacts(V("1.5.03"), V("1.5.00"), (0x806F8,), 3), V("1.5.08"),
                MoveOptions())
    assert _check(no, "update-rule").result is Result.FAIL
    assert _check(no, "update-rule").source == r8.update_from[0].source


def test_site_deny_to_is_cited() -> None:
    doc = document([block("1.5.10", svn="1.1", platforms=[0x806F8], seamldr=["1.5.00"],
                          handoff=(0, 0), update_from=["any"])],
                   file="site.tdxpolicy", deny_to=[(">= 1.5.10", "not qualified")])
    cat = catalogue(doc)
    v = decide(cat, HostFacts(V("1.5.10"), V("1.5.00"), (0x806F8,), 1), V("1.5.10"),
               MoveOptions())
    c = _check(v, "policy-deny")
    assert c.result is Result.FAIL and c.source == cat.deny_to[0].source
    assert c.facts == {"rule": "deny to", "versions": ">= 1.5.10", "reason": "not qualified"}


def _all_verdicts(cat: Catalogue, host_cpu: int) -> list:  # type: ignore[type-arg]
    out = []
    for r in cat.releases:
        host = HostFacts(r.version, V("2.0.00"), (host_cpu,), 4)
        out += [decide(cat, host, t.version, ACK) for t in cat.releases]
        out.append(decide(cat, HostFacts(r.version), V("9.9.99"), ACK))
    return out


def test_facts_are_json_and_messages_name_no_python_values(intel_dir: Path) -> None:
    for v in _all_verdicts(intel_catalogue(intel_dir), 0x806F8):
        for c in v.checks:
            json.dumps(dict(c.facts))
            assert c.message and "None" not in c.message and "Version(" not in c.message
        if v.reversibility is not None:
            assert v.reversibility.reason


@pytest.mark.parametrize("source", ["intel", "embedded"])
def test_every_1_5_rollback_fails_svn(source: str, intel_dir: Path) -> None:
    """docs/domain.md#published-data-consequences [D]: every 1.5.x rollback lowers the minor SVN, so
    P-SEAMLDR would reject it
    after shutdown; no option lets it through."""
    if source == "embedded":
        cat = pytest.importorskip("tdxpolicy.sources").load_catalogue([])
    else:
        cat = intel_catalogue(intel_dir)
    opts = MoveOptions(allow_rollback=True, assume_unknown_ok=True, allow_debug=True,
                       acknowledged=frozenset({"all"}))
    checked = 0
    rels = [r for r in cat.series((1, 5)) if r.facts.svn is not None]
    for r in rels:
        for t in rels:
            if t.version < r.version:
                v = decide(cat, HostFacts(r.version, V("2.0.00"), (0x806F8,), 5), t.version,
                           opts)
                assert v.kind is MoveKind.ROLLBACK
                assert _check(v, "svn").result is Result.FAIL
                assert _check(v, "rollback-rule").result is Result.FAIL
                assert not v.allowed
                checked += 1
    assert checked == 21  # 7 published 1.5.x images: 7*6/2 rollbacks


def test_engine_is_pure() -> None:
    """No file, clock, print or environment in the engine (house-style "Layers")."""
    banned_calls = {"open", "print", "input"}
    banned_attrs = {"now", "utcnow", "environ", "getenv", "perf_counter", "monotonic"}
    banned_modules = {"os", "sys", "io", "time", "pathlib", "subprocess", "socket", "random"}
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in banned_calls, (path, node.func.id)
            if isinstance(node, ast.Attribute):
                assert node.attr not in banned_attrs, (path, node.attr)
                # date.today() / datetime.today(); options.today is the caller's date
                if node.attr == "today":
                    assert ast.unparse(node.value) == "options", (path, ast.unparse(node))
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""]
                for n in names:
                    assert n.split(".")[0] not in banned_modules, (path, n)


def test_plan_hops_carry_reversibility_and_state() -> None:
    cat = catalogue(*[
        block(f"1.5.0{u}", svn=f"1.{u}", platforms=[0x806F8], seamldr=["1.5.00"],
              handoff=(0, 0), update_from=[f">= 1.5.0{max(1, u - 1)}"])
        for u in range(1, 6)])
    host = HostFacts(V("1.5.01"), V("1.5.00"), (0x806F8,), 4)
    p = plan(cat, host, V("1.5.05"), MoveOptions())
    assert p.found and [h.to_version.text for h in p.hops] == ["1.5.02", "1.5.03", "1.5.04",
                                                              "1.5.05"]
    budgets = [_check(h, "remaining-updates").facts["num_remaining_updates"] for h in p.hops]
    assert budgets == [4, 3, 2, 1]
    for h in p.hops:
        assert h.reversibility is not None and not h.reversibility.possible
        assert h.reversibility.reason.startswith("no: SVN minor rises")
    s = select(cat, host, MoveOptions(), max_hops=4)
    assert s.selected == V("1.5.05")
    assert {c.version.text: c.hops for c in s.candidates} == {
        "1.5.05": 4, "1.5.04": 3, "1.5.03": 2, "1.5.02": 1, "1.5.01": 1}
    # One hop less of budget: the newest reachable is one release older.
    s3 = select(cat, HostFacts(V("1.5.01"), V("1.5.00"), (0x806F8,), 3), MoveOptions(), 4)
    assert s3.selected == V("1.5.04") and len(s3.path) == 3


def test_plan_never_returns_a_hop_decide_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Safety net: if the search's hop rules were wrong (here: every edge accepted),
    plan re-decides each hop, bans the bad one and searches again."""
    cat = catalogue(
        block("1.5.01", svn="1.1", platforms=[0x806F8], seamldr=["1.5.00"], handoff=(0, 0),
              update_from=["any"]),
        block("1.5.02", svn="1.0", platforms=[0x806F8], seamldr=["1.5.00"], handoff=(0, 0),
              update_from=["any"]),
        block("1.5.03", svn="1.2", platforms=[0x806F8], seamldr=["1.5.00"], handoff=(0, 0),
              update_from=["1.5.02"]),
    )
    monkeypatch.setattr(plan_module._Search, "edge",
                        lambda self, u, v: (u, v) not in self.banned)
    p = plan(cat, HostFacts(V("1.5.01"), V("1.5.00"), (0x806F8,), 5), V("1.5.03"),
             MoveOptions())
    # 1.5.01 -> 1.5.02 lowers the SVN: the only route is denied, so there is no path.
    assert not p.found
    assert p.reason is not None and p.reason.startswith("no sequence of permitted hops")
