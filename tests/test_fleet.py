"""fleet (docs/cli.md#fleet-contract): one output line per input line, in order, each a compact
row (or with --full the verdict/select document plus host, line and action), malformed lines
as error lines (the run goes on), exit 2/1/0 (a host already current is no failure), a
one-line summary on stderr; and the memo never changes an answer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import fleet_validator
from tdxpolicy.cli import main
from tdxpolicy.errors import InputError
from tdxpolicy.engine import decide, select
from tdxpolicy.fleet import FleetDecider, run_fleet
from tdxpolicy.codecs.select import select_json
from tdxpolicy.codecs.verdict import verdict_json
from tdxpolicy.sources import load_catalogue
from tdxpolicy.codecs.hostfacts import facts_from_obj
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Version

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "tests" / "data" / "move" / "site.tdxpolicy"
TODAY = dt.date(2026, 6, 1)


VALIDATOR = fleet_validator()  # --full lines
ROW_VALIDATOR = fleet_validator("fleet-row")  # the default compact rows
SUMMARY_VALIDATOR = fleet_validator("fleet-summary")
CAT = load_catalogue([SITE], include_default=False)
OPTS = MoveOptions(today=TODAY, acknowledged=frozenset({"all"}))

GOOD = {"module_version": "9.1.00", "seamldr_version": "9.1.02", "cpuid": ["0x806F8"],
        "num_remaining_updates": 3}

LINES = [
    json.dumps({**GOOD, "host": "a"}),
    json.dumps({**GOOD, "host": "b"}),
    "this is not json",
    json.dumps({**GOOD, "num_remaining_updates": 0}),  # no host: line number
    "",
    json.dumps({"cpuid": ["zz"], "host": "bad-cpu"}),
    json.dumps({**GOOD, "host": 17}),  # host of the wrong type on a cached state
    json.dumps({**GOOD, "surprise": 1, "host": "extra-key"}),
    json.dumps({**GOOD, "num_remaining_updates": True, "host": "bool-budget"}),
    '{"module_version": "9.1.00", "host": "cut',
    json.dumps([GOOD]),
    json.dumps({**GOOD, "cpuid": ["0x806f8"], "host": "c"}),
]


def _run(lines: list[str], target: Version | None = Version(9, 1, 2), full: bool = False,
         **kw: Any) -> tuple[list[dict[str, Any]], Any]:
    out = io.BytesIO()
    summary = run_fleet([ln.encode() + b"\n" for ln in lines], out, CAT, OPTS, target=target,
                        file="hosts.jsonl", fmt="full" if full else "json", **kw)
    docs = [json.loads(x) for x in out.getvalue().splitlines()]
    for d in docs:
        assert not list((VALIDATOR if full else ROW_VALIDATOR).iter_errors(d)), d
    return docs, summary


def test_one_line_per_input_line_in_order() -> None:
    for full in (False, True):
        docs, summary = _run(LINES, full=full)
        assert len(docs) == len(LINES)
        assert [d["line"] for d in docs] == list(range(1, len(LINES) + 1))
        # host is always a string: the input's, else the line number
        assert [d["host"] for d in docs] == [
            "a", "b", "3", "4", "5", "bad-cpu", "7", "extra-key", "bool-budget", "10", "11", "c"]
        errors = [d["line"] for d in docs if "error" in d]
        assert errors == [3, 5, 6, 7, 8, 9, 10, 11]
        assert docs[0]["allowed"] is True and docs[0]["action"] == "update"
        assert docs[3]["allowed"] is False and docs[3]["action"] == "blocked"
        assert summary.exit_code == 2
        assert summary.render() == (
            "fleet: 12 hosts, update 3, current 0, blocked 1, error 8; failing checks: "
            "remaining-updates 1 (2 distinct host states)")
    docs, _ = _run(LINES)
    assert docs[0] == {"host": "a", "line": 1, "from": "9.1.00", "to": "9.1.02",
                       "kind": "upgrade", "action": "update", "allowed": True, "failed": [],
                       "unknown": []}
    assert docs[3]["failed"] == ["remaining-updates"] and docs[3]["unknown"] == []
    assert docs[2]["action"] == "error" and docs[2]["error"]["code"] == "invalid-host-facts"
    full, _ = _run(LINES, full=True)
    assert full[0]["tdxpolicy"] == "verdict/1" and full[0]["action"] == "update"
    assert set(full[2]) == {"host", "line", "error"}


def test_error_lines_are_located() -> None:
    docs, _ = _run(LINES)
    by_line = {d["line"]: d for d in docs}
    assert by_line[3]["error"]["message"] == "hosts.jsonl:3:1: not valid JSON: Expecting value"
    assert by_line[5]["error"]["message"] == "hosts.jsonl:5: empty line; expected a JSON object of host facts"
    assert by_line[6]["error"]["problems"][0]["location"] == {
        "file": "hosts.jsonl", "line": 6, "path": "$.cpuid[0]"}
    assert by_line[7]["error"]["message"] == "hosts.jsonl:7 ($.host): expected a string, got 17"
    assert by_line[9]["error"]["message"] == (
        "hosts.jsonl:9 ($.num_remaining_updates): expected a whole number >= 0, got true")


def test_invalid_utf8_line_is_an_error_line() -> None:
    out = io.BytesIO()
    summary = run_fleet([b'{"host": "\xff"}\n', json.dumps(GOOD).encode()], out, CAT, OPTS,
                        target=Version(9, 1, 2), file="h")
    first, second = [json.loads(x) for x in out.getvalue().splitlines()]
    assert first["error"]["message"].startswith("h:1: not UTF-8 text")
    assert second["allowed"] is True
    assert summary.errors == 1


def test_exit_codes() -> None:
    _, s = _run([json.dumps(GOOD)])
    assert s.exit_code == 0
    _, s = _run([json.dumps(GOOD), json.dumps({**GOOD, "num_remaining_updates": 0})])
    assert s.exit_code == 1
    _, s = _run([json.dumps({**GOOD, "num_remaining_updates": 0}), "{"])
    assert s.exit_code == 2


def test_a_host_on_the_target_is_current_not_allowed_and_not_a_failure() -> None:
    on_target = {**GOOD, "module_version": "9.1.02", "host": "done"}
    for full in (False, True):
        docs, s = _run([json.dumps(GOOD), json.dumps(on_target)], full=full)
        assert docs[1]["action"] == "current"
        assert s.exit_code == 0
        assert s.by_action == {"update": 1, "current": 1}
    docs, _ = _run([json.dumps(on_target)])
    assert docs[0] == {"host": "done", "line": 1, "from": "9.1.02", "to": "9.1.02",
                       "kind": "reinstall", "action": "current", "allowed": False,
                       "failed": [], "unknown": []}
    # even a host that could not reinstall (no update left) is current, not blocked
    docs, s = _run([json.dumps({**on_target, "num_remaining_updates": 0})])
    assert docs[0]["action"] == "current" and s.exit_code == 0


def test_select_mode() -> None:
    newest = {**GOOD, "module_version": "9.1.04", "host": "newest"}
    lines = [json.dumps(GOOD), json.dumps({**GOOD, "num_remaining_updates": 0}),
             json.dumps(newest)]
    docs, s = _run(lines, target=None)
    assert [(d["action"], d["to"], d["hops"]) for d in docs] == [
        ("update", "9.1.02", 1), ("blocked", "9.1.04", None), ("current", "9.1.04", 0)]
    # blocked: judged against the newest release of its series; failed says why
    assert "remaining-updates" in docs[1]["failed"]
    assert s.exit_code == 1
    assert s.by_action == {"update": 1, "blocked": 1, "current": 1}
    assert s.updates_to == {"9.1.02": 1}
    full, _ = _run(lines, target=None, full=True)
    assert [d["tdxpolicy"] for d in full] == ["select/1"] * 3
    assert [d["selected"] for d in full] == ["9.1.02", None, None]
    assert [d["action"] for d in full] == ["update", "blocked", "current"]
    # an up-to-date host alone: exit 0, not "none selectable"
    _, s = _run([json.dumps(newest)], target=None)
    assert s.exit_code == 0 and s.by_action == {"current": 1}


def test_select_without_the_running_release_is_blocked_on_running_known() -> None:
    docs, s = _run([json.dumps({"cpuid": ["0x806F8"], "host": "x"})], target=None)
    assert docs[0]["action"] == "blocked" and docs[0]["from"] is None
    assert docs[0]["failed"][0] == "running-known"
    assert s.exit_code == 1


def test_keep_copies_columns_and_accepts_them_on_input() -> None:
    lines = [json.dumps({**GOOD, "host": "a", "rack": "r1", "owner": {"team": "x"}}),
             json.dumps({**GOOD, "host": "b"}),
             json.dumps({"host": "c", "cpuid": ["zz"], "rack": "r3"}),
             json.dumps({**GOOD, "host": "d", "typo_key": 1})]
    docs, s = _run(lines, keep=("rack", "owner"))
    assert [(d.get("rack"), d.get("owner")) for d in docs] == [
        ("r1", {"team": "x"}), (None, None), ("r3", None), (None, None)]
    assert list(docs[0])[-2:] == ["rack", "owner"]
    assert docs[0]["action"] == "update" and docs[1]["action"] == "update"
    assert docs[2]["action"] == "error"
    # a key neither kept nor a fact is still refused: a typo must not become "unknown"
    assert docs[3]["action"] == "error" and "typo_key" in docs[3]["error"]["message"]
    full, _ = _run(lines[:1], keep=("rack", "owner"), full=True)
    assert full[0]["rack"] == "r1" and full[0]["tdxpolicy"] == "verdict/1"
    with pytest.raises(InputError):
        _run(lines, keep=("cpuid",))
    with pytest.raises(InputError):
        _run(lines, keep=("action",))


def test_csv_and_text_formats() -> None:
    lines = [json.dumps({**GOOD, "host": "a,b"}), json.dumps({**GOOD, "num_remaining_updates": 0}),
             "nope"]
    out = io.BytesIO()
    s = run_fleet([x.encode() for x in lines], out, CAT, OPTS, target=Version(9, 1, 2),
                  file="h", fmt="csv", keep=("rack",))
    rows = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert rows[0] == ["host", "line", "from", "to", "kind", "action", "allowed", "failed",
                       "unknown", "error", "rack"]
    assert rows[1] == ["a,b", "1", "9.1.00", "9.1.02", "upgrade", "update", "true", "", "", "",
                       ""]
    assert rows[2][:8] == ["2", "2", "9.1.00", "9.1.02", "upgrade", "blocked", "false",
                           "remaining-updates"]
    assert rows[3][5] == "error" and rows[3][9].startswith("h:3:1: not valid JSON")
    assert s.exit_code == 2
    out = io.BytesIO()
    run_fleet([x.encode() for x in lines], out, CAT, OPTS, target=Version(9, 1, 2), file="h",
              fmt="text")
    text = out.getvalue().decode()
    assert "a,b" not in text  # allowed hosts need no attention
    assert "blocked  remaining-updates" in text and "error    h:3:1: not valid JSON" in text
    assert "\nSUMMARY\n" in text and "blocked               1" in text


# --- the memo never changes an answer ---------------------------------------------------------

_state = st.fixed_dictionaries(
    {},
    optional={
        "module_version": st.sampled_from(["9.1.00", "9.1.02", "9.1.2", "9.1.04", "9.1.99", None]),
        "seamldr_version": st.sampled_from(["9.1.00", "9.1.02", None]),
        "cpuid": st.one_of(st.none(), st.lists(st.sampled_from(["0x806F8", "0x806f8", "0xC06F0", "0xA06F0"]),
                                              min_size=1, max_size=3)),
        "num_remaining_updates": st.sampled_from([0, 1, 2, 3.0, 4, 7, 20, None]),
        "host": st.sampled_from(["x", "y\u00e9"]),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_state, min_size=1, max_size=25), st.sampled_from([0, 1, 2, 3]))
def test_memo_agrees_with_deciding_each_host(states: list[dict[str, Any]], hops: int) -> None:
    """--full lines are byte for byte what deciding each host alone gives (the memo keys on the
    budget's effect and re-cites the exact count), and the compact rows follow from them."""
    target = None if hops else Version(9, 1, 4)
    max_hops = hops or 1
    lines = [json.dumps(s) for s in states]
    docs, _ = _run(lines, target=target, full=True, max_hops=max_hops)
    rows, _ = _run(lines, target=target, max_hops=max_hops)
    for n, (state, doc, row) in enumerate(zip(states, docs, rows), 1):
        facts = facts_from_obj(state, "x")
        if target is not None:
            verdict = decide(CAT, facts, target, OPTS)
            want = verdict_json(verdict)
            current = verdict.kind is not None and verdict.kind.value == "reinstall"
            action = "current" if current else "update" if verdict.allowed else "blocked"
            assert row["failed"] == ([] if current else
                                     list(dict.fromkeys(c.code for c in verdict.failed)))
        else:
            result = select(CAT, facts, OPTS, max_hops=max_hops)
            want = select_json(result, facts.module_version)
            action = "update" if result.selected is not None else row["action"]
            assert row["to"] == (result.selected.text if result.selected else row["to"])
            if result.selected is not None:
                assert row["hops"] == len(result.path)
            else:
                assert action in ("current", "blocked")
        got = dict(doc)
        assert got.pop("line") == n == row["line"]
        assert got.pop("host") == state.get("host", str(n)) == row["host"]
        assert got.pop("action") == action == row["action"]
        assert got == json.loads(json.dumps(want))
        assert row["allowed"] is (action == "update")


def test_memo_decides_once_per_effect_not_per_budget() -> None:
    lines = [json.dumps({**GOOD, "num_remaining_updates": b}) for b in range(2, 21)]
    docs, s = _run(lines, full=True)
    assert s.distinct_states == 1  # budgets >= 2 cannot change a one-hop answer
    # ... and still every host's own count is cited
    msgs = [next(c["message"] for c in d["checks"] if c["code"] == "remaining-updates")
            for d in docs]
    assert msgs == [f"{b} runtime update(s) remain; this move uses one" for b in range(2, 21)]
    # compact rows cite no count: every budget >= 1 is one decision, 0 another
    rows, s = _run([json.dumps({**GOOD, "num_remaining_updates": b}) for b in range(0, 21)])
    assert s.distinct_states == 2
    assert [r["action"] for r in rows] == ["blocked"] + ["update"] * 20


def test_decider_line_api() -> None:
    d = FleetDecider(CAT, OPTS, target=Version(9, 1, 2), file="f", fmt="full")
    a = d.line(json.dumps({**GOOD, "host": "one"}), 1)
    b = d.line(json.dumps({**GOOD, "host": "two"}), 2)
    assert a.endswith(b"\n") and b.endswith(b"\n")
    assert a.replace(b'"one","line":1', b'"two","line":2') == b
    assert len(d.states) == 1


# --- through the CLI --------------------------------------------------------------------------


def test_fleet_cli(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    f = tmp_path / "hosts.jsonl"
    f.write_text("\n".join(LINES) + "\n")
    code = main(["fleet", str(f), "--to", "9.1.02", "--policy", str(SITE), "--no-default-policy",
                 "--acknowledge", "all"])
    out, err = capsysbinary.readouterr()
    assert code == 2
    assert len(out.splitlines()) == len(LINES)
    assert err.decode().startswith("fleet: 12 hosts, update 3, current 0, blocked 1, error 8")
    assert b"Traceback" not in out + err


def test_fleet_cli_needs_one_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text(json.dumps(GOOD) + "\n")
    for extra in ([], ["--to", "9.1.02", "--select"]):
        code = main(["fleet", str(f), *extra, "--format", "json"])
        out, _ = capsys.readouterr()
        assert code == 2
        assert json.loads(out)["error"]["message"] == "fleet: give exactly one of --to VERSION or --select"
    code = main(["fleet", str(tmp_path / "missing.jsonl"), "--select"])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot read" in err


def test_fleet_stdin_subprocess(tmp_path: Path) -> None:
    data = "\n".join([json.dumps({**GOOD, "host": "s1"}), "nope"]) + "\n"
    p = subprocess.run(
        [sys.executable, "-m", "tdxpolicy", "fleet", "-", "--select", "--policy", str(SITE),
         "--no-default-policy"],
        input=data.encode(), capture_output=True, cwd=REPO, timeout=60,
    )
    assert p.returncode == 2
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x["host"] for x in lines] == ["s1", "2"]
    assert lines[0]["to"] == "9.1.02" and lines[0]["action"] == "update"
    assert p.stderr.decode().startswith("fleet: 2 hosts")
    assert b"Traceback" not in p.stderr
