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
import io
from factories import facts, options
from tdxpolicy.cli import main
from tdxpolicy.errors import InvalidArgument
from tdxpolicy.fleet import run_fleet
from tdxpolicy.verdict import Check

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


# --- defects found in review, each pinned by a test (was test_qa_engine_fixes.py) -------------



def _rel(version: str, svn: str, update_from: str, **kw: object) -> object:
    return block(version, svn=svn, platforms=["0x806F8"], seamldr=["9.0.00"],
                 handoff=(0, 0), update_from=[update_from], **kw)  # type: ignore[arg-type]


HOST = {"seamldr_version": "9.0.00", "cpuid": ["0x806F8"], "num_remaining_updates": 5}


# --- update-rule holds within the series only (policy-format.md: `>= X` within the series) -----


def test_update_rule_never_admits_another_series() -> None:
    cat = catalogue(_rel("1.5.16", "1.11", ">= 1.5.01"), _rel("2.0.08", "3.4", ">= 2.0.04"))
    v = decide(cat, facts({**HOST, "module_version": "2.0.08"}), V("1.5.16"), options())
    rule = next(c for c in v.checks if c.code == "update-rule")
    # `>= 1.5.01` compares (2,0,8) >= (1,5,1) as triples, but Intel's minimum is an update
    # number of series 1.5: 2.0.08 is not admitted.
    assert rule.result is Result.FAIL
    assert rule.message == ("release 1.5.16 admits runtime updates only from its own series 1.5 "
                            "(update from >= 1.5.01); 2.0.08 is in series 2.0")
    assert not v.allowed


# --- cpu: an empty list of packages never passes vacuously ---------------------------------------


@pytest.mark.parametrize("relaxed", [False, True])
def test_empty_cpuid_tuple_is_not_every_package_matching(relaxed: bool) -> None:
    cat = catalogue(_rel("9.1.00", "4.1", ">= 9.1.00"), _rel("9.1.02", "4.2", ">= 9.1.00"))
    # HostFacts refuses an empty tuple when it is built (issue 15)...
    with pytest.raises(InvalidArgument, match=r"^HostFacts\.cpuid: expected None or a non-empty"):
        facts({**HOST, "module_version": "9.1.00", "cpuid": []})
    # ...and the engine still does not let one pass vacuously should it get there anyway.
    host = facts({**HOST, "module_version": "9.1.00"})
    object.__setattr__(host, "cpuid", ())
    opts = options({"assume_unknown_ok": relaxed})
    v = decide(cat, host, V("9.1.02"), opts)
    cpu = next(c for c in v.checks if c.code == "cpu")
    assert cpu.result is Result.UNKNOWN, cpu
    assert cpu.message.startswith("no CPU package given")
    assert not v.allowed
    assert not plan(cat, host, V("9.1.02"), opts).found
    assert select(cat, host, opts, max_hops=3).selected is None


# --- a verdict denied by extra (image) checks does not claim reversibility ----------------------


def test_with_checks_that_deny_drop_reversibility() -> None:
    cat = catalogue(_rel("9.1.00", "4.1", ">= 9.1.00"), _rel("9.1.02", "4.2", ">= 9.1.00"))
    v = decide(cat, facts({**HOST, "module_version": "9.1.00"}), V("9.1.02"), options())
    assert v.allowed and v.reversibility is not None
    denied = v.with_checks((Check("image-identity", Result.FAIL, "not this release"),))
    assert not denied.allowed and denied.reversibility is None
    kept = v.with_checks((Check("image-valid", Result.PASS, "ok"),))
    assert kept.allowed and kept.reversibility == v.reversibility


# --- huge integers: located error, never a traceback ---------------------------------------------


def test_facts_file_with_a_5000_digit_number(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_text('{"module_version": "1.5.06", "num_remaining_updates": ' + "9" * 5000 + "}")
    code = main(["can-upgrade", "--facts", str(f), "--to", "1.5.16", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    doc = json.loads(out)
    assert doc["error"]["code"] == "invalid-host-facts"
    assert doc["error"]["message"] == (
        f"{f}:1:55: not valid host facts: number out of range (5000 digits; expected a whole "
        "number like 12)")


def test_fleet_line_with_a_5000_digit_number_is_an_error_line_and_the_run_continues() -> None:
    cat = catalogue(_rel("9.1.00", "4.1", ">= 9.1.00"), _rel("9.1.02", "4.2", ">= 9.1.00"))
    good = json.dumps({**HOST, "module_version": "9.1.00"}).encode()
    bad = b'{"num_remaining_updates": ' + b"1" * 5000 + b"}"
    out = io.BytesIO()
    summary = run_fleet([good + b"\n", bad + b"\n", good], out, cat, options(),
                        target=V("9.1.02"), file="f.jsonl")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["line"] for x in lines] == [1, 2, 3]
    assert lines[0]["allowed"] is True and lines[2]["allowed"] is True
    assert lines[1]["error"]["code"] == "invalid-host-facts"
    assert lines[1]["error"]["message"].startswith("f.jsonl:2:27: not valid host facts")
    assert summary.exit_code == 2


# --- select --image never selects a reinstall or a rollback --------------------------------------


def test_select_image_of_the_running_release_is_not_selected(
        capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    blob = intel_dir / "blobs" / "tdx_module_1.5.06.blob"
    host = ["--from", "1.5.06", "--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "5",
            "--acknowledge", "all"]
    code = main(["select", *host, "--image", str(blob), "--format", "json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 1, doc
    assert doc["selected"] is None and doc["path"] == []
    assert doc["candidates"] == [{"version": "1.5.06", "allowed": True, "failed": [],
                                  "unknown": [], "hops": 1}]
    code = main(["select", *host, "--image", str(blob)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "1.5.06  allowed      reinstall: select never picks it (use can-upgrade --to " \
           "1.5.06)" in out


# --- --remaining beyond 9 digits: say what the limit is ------------------------------------------


def test_remaining_flag_too_long_names_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--remaining",
                 "99999999999", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 2
    assert json.loads(out)["error"]["message"] == (
        "--remaining: expected a whole number from 0 to 999999999, got '99999999999' "
        "(P-SEAMLDR counts far fewer updates)")
    # leading zeros do not count against the limit
    from tdxpolicy.cli.facts_opts import parse_count_flag

    assert parse_count_flag("--remaining", "0000000000005") == 5


# --- a UTF-8 byte-order mark at the start of a facts file is ignored (RFC 8259) ------------------


def test_facts_file_with_a_byte_order_mark(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_bytes(b'\xef\xbb\xbf{"module_version": "9.1.00", "seamldr_version": "9.0.00", '
                  b'"cpuid": ["0x806F8"], "num_remaining_updates": 2}')
    from tdxpolicy.cli.facts_opts import read_facts_file

    host = read_facts_file(f)
    assert host.module_version == V("9.1.00") and host.num_remaining_updates == 2
    cat = catalogue(_rel("9.1.00", "4.1", ">= 9.1.00"), _rel("9.1.02", "4.2", ">= 9.1.00"))
    out = io.BytesIO()
    first = json.dumps({**HOST, "module_version": "9.1.00"}).encode()
    summary = run_fleet([b"\xef\xbb\xbf" + first + b"\n", b"\xef\xbb\xbf" + first], out, cat,
                        options(), target=V("9.1.02"), file="f.jsonl")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0]["allowed"] is True
    # only the start of the stream may carry one: a mark inside is a concatenation mistake
    assert lines[1]["error"]["code"] == "invalid-host-facts"
    assert summary.exit_code == 2


# --- the same `update from` rule from several sources is cited once ------------------------------


def test_update_rule_message_lists_a_rule_given_by_several_sources_once() -> None:
    from factories import document

    a = document([_rel("9.1.00", "4.1", ">= 9.1.00"), _rel("9.1.02", "4.2", ">= 9.1.01")],
                 file="a.tdxpolicy")
    b = document([block("9.1.02", update_from=[">= 9.1.01"], file="b.tdxpolicy")],
                 file="b.tdxpolicy")
    v = decide(catalogue(a, b), facts({**HOST, "module_version": "9.1.00"}), V("9.1.02"),
               options())
    rule = next(c for c in v.checks if c.code == "update-rule")
    assert rule.result is Result.FAIL
    assert rule.message == ("release 9.1.02 does not admit runtime updates from 9.1.00 (update "
                            "from >= 9.1.01): move to an admitted version first (see "
                            "`tdxpolicy path`)")
    assert rule.facts["update_from"] == [">= 9.1.01"]


def test_fleet_to_with_max_hops_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    f = tmp_path / "f.jsonl"
    f.write_text('{"module_version": "1.5.06"}\n')
    code = main(["fleet", str(f), "--to", "1.5.16", "--max-hops", "2", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 2
    assert json.loads(out)["error"] == {
        "code": "usage",
        "message": "fleet: --max-hops applies only with --select (--to decides one direct "
                   "move per host)",
        "problems": [{"message": "fleet: --max-hops applies only with --select (--to decides "
                                 "one direct move per host)"}]}


def test_select_with_an_unidentified_image_does_not_advise_a_missing_option(
        capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    # `select` has no --to: the advice must be something the operator can do.
    site = Path(__file__).parent / "data" / "move" / "site.tdxpolicy"
    blob = intel_dir / "blobs" / "tdx_module_1.5.06.blob"
    code = main(["select", "--policy", str(site), "--no-default-policy", "--from", "9.1.00",
                 "--image", str(blob), "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 2
    assert json.loads(out)["error"]["message"] == (
        f"--image: {blob}: the image's version could not be identified from the catalogue; "
        "add a policy document that declares its MRSEAM (--policy), or use 'tdxpolicy path "
        "--to VERSION --image PATH'")
