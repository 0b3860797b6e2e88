"""fleet (docs/cli.md#fleet-contract): one output line per input line, in order, each the
verdict/select document plus host and line, malformed lines as error lines (the run goes on),
exit 2/1/0, a one-line summary on stderr; and the memo never changes an answer."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource

from tdxpolicy.cli import main
from tdxpolicy.engine import decide, select
from tdxpolicy.fleet import FleetDecider, run_fleet
from tdxpolicy.render.json_out import select_json, verdict_json
from tdxpolicy.resources import schema_path
from tdxpolicy.sources import load_catalogue
from tdxpolicy.sources.hostfacts import facts_from_obj
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Version

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "tests" / "data" / "move" / "site.tdxpolicy"
TODAY = dt.date(2026, 6, 1)


def _fleet_validator() -> jsonschema.Draft202012Validator:
    resources = []
    for n in ("verdict", "select", "fleet"):
        doc = json.loads(schema_path(f"{n}.schema.json").read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    schema = json.loads(schema_path("fleet.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=Registry().with_resources(resources))


VALIDATOR = _fleet_validator()
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


def _run(lines: list[str], target: Version | None = Version(9, 1, 2)) -> tuple[list[dict[str, Any]], Any]:
    out = io.BytesIO()
    summary = run_fleet([ln.encode() + b"\n" for ln in lines], out, CAT, OPTS, target=target,
                        file="hosts.jsonl")
    docs = [json.loads(x) for x in out.getvalue().splitlines()]
    return docs, summary


def test_one_line_per_input_line_in_order() -> None:
    docs, summary = _run(LINES)
    assert len(docs) == len(LINES)
    assert [d["line"] for d in docs] == list(range(1, len(LINES) + 1))
    assert [d["host"] for d in docs] == [
        "a", "b", 3, 4, 5, "bad-cpu", 7, "extra-key", "bool-budget", 10, 11, "c"]
    for d in docs:
        assert not list(VALIDATOR.iter_errors(d)), d
    errors = [d["line"] for d in docs if "error" in d]
    assert errors == [3, 5, 6, 7, 8, 9, 10, 11]
    assert docs[0]["allowed"] is True and docs[0]["tdxpolicy"] == "verdict/1"
    assert docs[3]["allowed"] is False
    assert summary.exit_code == 2
    assert summary.render() == (
        "fleet: 12 hosts, allowed 3, denied 1, malformed 8; failing checks: "
        "remaining-updates 1 (2 distinct host states)")


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


def test_select_mode() -> None:
    docs, s = _run([json.dumps(GOOD), json.dumps({**GOOD, "num_remaining_updates": 0})], target=None)
    assert [d["tdxpolicy"] for d in docs] == ["select/1", "select/1"]
    assert [d["selected"] for d in docs] == ["9.1.02", None]
    for d in docs:
        assert not list(VALIDATOR.iter_errors(d)), d
    assert s.exit_code == 1
    assert s.by_result == {"selected 9.1.02": 1, "none selectable": 1}


# --- the memo never changes an answer ---------------------------------------------------------

_state = st.fixed_dictionaries(
    {},
    optional={
        "module_version": st.sampled_from(["9.1.00", "9.1.02", "9.1.2", "9.1.04", "9.1.99", None]),
        "seamldr_version": st.sampled_from(["9.1.00", "9.1.02", None]),
        "cpuid": st.one_of(st.none(), st.lists(st.sampled_from(["0x806F8", "0x806f8", "0xC06F0", "0xA06F0"]),
                                              min_size=1, max_size=3)),
        "num_remaining_updates": st.sampled_from([0, 1, 2, 3.0, None]),
        "host": st.sampled_from(["x", "y\u00e9"]),
    },
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_state, min_size=1, max_size=25), st.booleans())
def test_memo_agrees_with_deciding_each_host(states: list[dict[str, Any]], use_select: bool) -> None:
    target = None if use_select else Version(9, 1, 4)
    docs, _ = _run([json.dumps(s) for s in states], target=target)
    for n, (state, doc) in enumerate(zip(states, docs), 1):
        facts = facts_from_obj(state, "x")
        if target is not None:
            want = verdict_json(decide(CAT, facts, target, OPTS))
        else:
            want = select_json(select(CAT, facts, OPTS, max_hops=1), facts.module_version)
        got = dict(doc)
        assert got.pop("line") == n
        assert got.pop("host") == state.get("host", n)
        assert got == json.loads(json.dumps(want))


def test_decider_line_api() -> None:
    d = FleetDecider(CAT, OPTS, target=Version(9, 1, 2), file="f")
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
    assert err.decode().startswith("fleet: 12 hosts, allowed 3, denied 1, malformed 8")
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
    assert [x["host"] for x in lines] == ["s1", 2]
    assert lines[0]["selected"] == "9.1.02"
    assert p.stderr.decode().startswith("fleet: 2 hosts")
    assert b"Traceback" not in p.stderr
