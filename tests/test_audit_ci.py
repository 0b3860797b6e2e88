"""audit/lint in CI (issue #14): `--format github` workflow commands and their escaping,
`--fail-on` exit codes, and the SARIF fields code scanning reads (`security-severity`,
`helpUri`, `automationDetails`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tdxpolicy.audit import RULES, FailOn, Finding, Severity, fails
from tdxpolicy.cli import main
from tdxpolicy.model import Location
from tdxpolicy.render.github import escape_data, escape_property, github_annotations
from tdxpolicy.render.sarif import to_sarif

from test_audit_report import small_report

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "data" / "audit" / "cases"
CLEAN = CASES / "clean--consistent-catalogue"
ERRORS = CASES / "svn-decrease--trigger"


# --- a reader of workflow commands, written from the runner's rules --------------------------

_COMMAND = re.compile(r"::(?P<cmd>[a-z]+)(?: (?P<props>[^:]*))?::(?P<data>.*)")


def _unescape(text: str) -> str:
    # the runner's order: the escapes of ',' ':' CR LF first, '%' last
    for esc, ch in (("%2C", ","), ("%3A", ":"), ("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
        text = text.replace(esc, ch)
    return text


def read_commands(text: str) -> list[tuple[str, dict[str, str], str]]:
    out = []
    for line in text.split("\n")[:-1]:  # each command ends with a newline, none inside one
        m = _COMMAND.fullmatch(line)
        assert m, line
        props = {}
        for item in (m["props"] or "").split(","):
            key, _, val = item.partition("=")
            props[key] = _unescape(val)
        out.append((m["cmd"], props, _unescape(m["data"])))
    return out


def finding(message: str, loc: Location, severity: Severity = Severity.ERROR,
            rule: str = "svn-decrease") -> Finding:
    return Finding(rule=rule, severity=severity, message=message, locations=(loc,))


# --- escaping -------------------------------------------------------------------------------


def test_escapes_match_the_runner() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_data("a: b, c") == "a: b, c"  # data keeps ':' and ','
    assert escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"
    # '%' is escaped first: a literal "%0A" does not turn into a newline
    assert escape_data("%0A") == "%250A"


HOSTILE_PATHS = [
    "policy/site.tdxpolicy",
    "policy/a,b:c.tdxpolicy",
    "policy/100%.tdxpolicy",
    "policy/evil\n::error file=x::injected.tdxpolicy",
    "policy/cr\rlf.tdxpolicy",
    "C:\\policy\\win.tdxpolicy",
]
HOSTILE_MESSAGES = [
    "plain",
    "line one\nline two",
    "::warning::not a command",
    "100% sure, really: yes",
    "literal %0A and %25 and %3A stay literal",
    "cr\r\nlf\n",
    "",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@pytest.mark.parametrize("message", HOSTILE_MESSAGES)
def test_hostile_paths_and_messages_round_trip(path: str, message: str) -> None:
    text = github_annotations([finding(message, Location(path, line=7, column=3))])
    assert text.count("\n") == 1 and text.endswith("\n"), "one command, one line"
    assert "\r" not in text
    [(cmd, props, data)] = read_commands(text)
    assert cmd == "error"
    assert props == {"file": path.replace("\\", "/"), "line": "7", "col": "3",
                     "title": "svn-decrease"}
    assert data == message


def test_levels_and_places() -> None:
    findings = [
        finding("e", Location("a.tdxpolicy", line=1, column=2)),
        finding("w", Location("a.tdxpolicy", line=3), Severity.WARNING, "never-matches"),
        finding("n", Location("a.tdxpolicy"), Severity.NOTE, "never-matches"),
        # an image: byte offset, no line -> file only, the offset in the message
        finding("bad sum", Location("blobs/x.blob", offset=2), rule="image-invalid"),
        # a JSON source located by path only
        finding("svn", Location("intel/m.json", path="$.a[0].svn")),
    ]
    got = read_commands(github_annotations(findings))
    assert got == [
        ("error", {"file": "a.tdxpolicy", "line": "1", "col": "2", "title": "svn-decrease"}, "e"),
        ("warning", {"file": "a.tdxpolicy", "line": "3", "title": "never-matches"}, "w"),
        ("notice", {"file": "a.tdxpolicy", "title": "never-matches"}, "n"),
        ("error", {"file": "blobs/x.blob", "title": "image-invalid"}, "blobs/x.blob:@0x2: bad sum"),
        ("error", {"file": "intel/m.json", "title": "svn-decrease"},
         "intel/m.json ($.a[0].svn): svn"),
    ]
    assert github_annotations([]) == ""


def test_embedded_files_are_not_annotated_as_repository_files() -> None:
    f = finding("x", Location("tdx_module_1.5.16.tdxpolicy", line=14, column=5))
    [(cmd, props, data)] = read_commands(
        github_annotations([f], embedded=frozenset({"tdx_module_1.5.16.tdxpolicy"})))
    assert props == {"title": "svn-decrease"}
    assert data == "tdx_module_1.5.16.tdxpolicy:14:5 (embedded catalogue): x"


def test_audit_format_github(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "--no-default-policy", "--policy", str(ERRORS), "--format", "github",
                 "--today", "2026-11-26"])
    out = capsys.readouterr().out
    assert code == 1
    cmds = read_commands(out)
    assert all(p["file"].endswith(".tdxpolicy") and "line" in p and "col" in p
               for _c, p, _d in cmds)
    assert ("error", "svn-decrease") in {(c, p["title"]) for c, p, _d in cmds}
    # the same findings as the JSON output, in the same order
    main(["audit", "--no-default-policy", "--policy", str(ERRORS), "--format", "json",
          "--today", "2026-11-26"])
    doc = json.loads(capsys.readouterr().out)
    assert [(c, d) for c, _p, d in cmds] == [(f["severity"], f["message"])
                                             for f in doc["findings"]]


def test_lint_format_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a, b.tdxpolicy").write_text("format 1\nrelease 1.5.16 {\n  update from 1.5.01, 1.5.05\n}\n")
    assert main(["lint", "a, b.tdxpolicy", "--no-default-policy", "--format", "github"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("::warning file=a%2C b.tdxpolicy,line=1,col=1,title=no-expiry::")
    assert [(c, p["title"], p["line"]) for c, p, _d in read_commands(out)] == [
        ("warning", "no-expiry", "1"), ("warning", "never-matches", "3")]
    assert err == "1 document(s), 1 release block(s): 2 finding(s)\n"


def test_real_intel_data_github(intel_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(intel_dir.parent)
    code = main(["audit", "--policy", "intel", "--images", "intel/blobs", "--format", "github",
                 "--today", "2026-11-26"])
    cmds = read_commands(capsys.readouterr().out)
    assert code == 0
    assert len(cmds) == 12 and {c for c, _p, _d in cmds} == {"warning"}
    # Intel's files are annotated in place; the embedded catalogue's are named in the message
    assert sum(1 for _c, p, _d in cmds if p.get("file", "").startswith("intel/")) == 9
    assert all("(embedded catalogue)" in d for _c, p, d in cmds if "file" not in p)


# --- --fail-on ------------------------------------------------------------------------------


def test_fails_library() -> None:
    note = finding("n", Location("a"), Severity.NOTE)
    warn = finding("w", Location("a"), Severity.WARNING)
    err = finding("e", Location("a"), Severity.ERROR)
    table = {
        FailOn.error: (False, False, False, True),
        FailOn.warning: (False, False, True, True),
        FailOn.never: (False, False, False, False),
    }
    for level, expected in table.items():
        assert tuple(fails(fs, level) for fs in ([], [note], [note, warn], [warn, err])) \
            == expected


AUDIT_INPUTS = {
    "clean": ["--policy", str(CLEAN), "--today", "2026-11-26"],
    "warnings": ["--policy", str(CLEAN), "--today", "2026-11-27"],  # stale-document only
    "errors": ["--policy", str(ERRORS), "--today", "2026-11-26"],
}
# exit code by input and --fail-on; None: the option left out (the default is `error`)
AUDIT_MATRIX = {
    ("clean", None): 0, ("clean", "error"): 0, ("clean", "warning"): 0, ("clean", "never"): 0,
    ("warnings", None): 0, ("warnings", "error"): 0, ("warnings", "warning"): 1,
    ("warnings", "never"): 0,
    ("errors", None): 1, ("errors", "error"): 1, ("errors", "warning"): 1, ("errors", "never"): 0,
}


@pytest.mark.parametrize(("inputs", "fail_on"), list(AUDIT_MATRIX), ids=str)
@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_audit_fail_on_matrix(inputs: str, fail_on: str | None, fmt: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    args = ["audit", "--no-default-policy", *AUDIT_INPUTS[inputs], "--format", fmt]
    if fail_on is not None:
        args += ["--fail-on", fail_on.upper() if fmt == "json" else fail_on]  # any case
    assert main(args) == AUDIT_MATRIX[(inputs, fail_on)]
    out = capsys.readouterr().out
    if inputs != "clean" and fmt != "text":
        assert out.strip(), "findings are reported whatever --fail-on says"


LINT_DOCS = {
    "clean": {"a.tdxpolicy": "format 1\nexpires 2099-01-01\nrelease 1.5.16 {\n  svn 1.11\n}\n"},
    "warnings": {"a.tdxpolicy": "format 1\nrelease 1.5.16 {\n  svn 1.11\n}\n"},  # no-expiry
    "errors": {  # source-disagreement between the two linted documents
        "a.tdxpolicy": "format 1\nexpires 2099-01-01\nrelease 1.5.16 {\n  svn 1.11\n}\n",
        "b.tdxpolicy": "format 1\nexpires 2099-01-01\nrelease 1.5.16 {\n  svn 1.10\n}\n",
    },
}
# lint's default is `warning`: every finding is about the user's own documents
LINT_MATRIX = {
    ("clean", None): 0, ("clean", "never"): 0,
    ("warnings", None): 1, ("warnings", "warning"): 1, ("warnings", "error"): 0,
    ("warnings", "never"): 0,
    ("errors", None): 1, ("errors", "error"): 1, ("errors", "never"): 0,
}


@pytest.mark.parametrize(("docs", "fail_on"), list(LINT_MATRIX), ids=str)
def test_lint_fail_on_matrix(docs: str, fail_on: str | None, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in LINT_DOCS[docs].items():
        Path(name).write_text(text)
    args = ["lint", *LINT_DOCS[docs], "--no-default-policy", "--format", "json"]
    if fail_on is not None:
        args += ["--fail-on", fail_on]
    assert main(args) == LINT_MATRIX[(docs, fail_on)]
    data = json.loads(capsys.readouterr().out)
    assert data["clean"] == (docs == "clean")


@pytest.mark.parametrize("command", [["audit"], ["lint", "x.tdxpolicy"]])
def test_bad_fail_on_is_a_usage_error(command: list[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.tdxpolicy").write_text("format 1\n")
    assert main([*command, "--fail-on", "sometimes"]) == 2
    assert "sometimes" in capsys.readouterr().err


# --- SARIF for code scanning ----------------------------------------------------------------


def _doc_anchors() -> set[str]:
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', (REPO / "docs" / "audit.md").read_text()))


def test_sarif_rules_have_help_uri_and_security_severity() -> None:
    rules = to_sarif(small_report())["runs"][0]["tool"]["driver"]["rules"]
    anchors = _doc_anchors()
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    for r in rules:
        uri = r["helpUri"]
        assert uri == "docs/audit.md" + "#rule-" + r["id"]
        assert uri.split("#")[1] in anchors, f"docs/audit.md has no section for {r['id']}"
        sev = r["properties"]["security-severity"]
        assert isinstance(sev, str) and re.fullmatch(r"\d+\.\d", sev)
        assert 0.1 <= float(sev) <= 10.0
        assert "security" in r["properties"]["tags"]
    # the score follows the level: every error rule outranks every warning rule
    by_level: dict[str, list[float]] = {}
    for r in rules:
        by_level.setdefault(r["defaultConfiguration"]["level"],
                            []).append(float(r["properties"]["security-severity"]))
    assert min(by_level["error"]) > max(by_level["warning"])


def test_docs_table_states_each_rules_scores() -> None:
    """docs/audit.md lists each rule's severity, scope and security-severity as the code does."""
    text = (REPO / "docs" / "audit.md").read_text()
    for r in RULES:
        row = next(line for line in text.splitlines() if f'<a id="rule-{r.id}"></a>' in line)
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[1:4] == [r.severity.value, r.scope.value, r.security_severity], row


def test_sarif_automation_details_default() -> None:
    run = to_sarif(small_report())["runs"][0]
    assert run["automationDetails"] == {"id": "tdxpolicy/audit/default/"}
    assert to_sarif(small_report(), category="x/y")["runs"][0]["automationDetails"] == {
        "id": "tdxpolicy/audit/x/y/"}


def _sarif_id(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["audit", *args, "--format", "sarif", "--today", "2026-11-26"])
    return str(json.loads(capsys.readouterr().out)["runs"][0]["automationDetails"]["id"])


def test_sarif_category_names_the_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "site.tdxpolicy").write_text(
        (CLEAN / "site.tdxpolicy").read_text())
    (tmp_path / "odd, name:1").mkdir()
    (tmp_path / "odd, name:1" / "x.tdxpolicy").write_text("format 1\nexpires 2099-01-01\n")
    a = _sarif_id(capsys, "--policy", "policy/")
    assert a == "tdxpolicy/audit/embedded+policy/"
    # stable: the same command gives the same category, however the path is spelt
    assert _sarif_id(capsys, "--policy", str(tmp_path / "policy")) == a
    assert _sarif_id(capsys, "--no-default-policy", "--policy", "policy") == \
        "tdxpolicy/audit/policy/"
    assert _sarif_id(capsys, "--policy", "odd, name:1") == "tdxpolicy/audit/embedded+odd__name_1/"
    assert _sarif_id(capsys, "--no-default-policy") == "tdxpolicy/audit/nothing/"


def test_sarif_category_with_images(intel_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(intel_dir.parent)
    assert _sarif_id(capsys, "--policy", "intel", "--images", "intel/blobs") == \
        "tdxpolicy/audit/embedded+intel+images=intel/blobs/"


@pytest.mark.parametrize("args", [
    ["audit", "--format", "json", "--today", "2026-11-26"],
    ["audit", "--format", "sarif", "--today", "2026-11-26"],
    ["lint", "docs/examples/site.tdxpolicy", "--format", "json"],
])
def test_output_file_equals_stdout(args: list[str], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tdxpolicy.cli import main

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    code = main(args)
    printed = capsys.readouterr().out
    out = tmp_path / "report.json"
    assert main([*args, "--output", str(out)]) == code
    assert capsys.readouterr().out == ""
    assert out.read_text(encoding="utf-8") == printed
    assert main([*args, "--output", str(tmp_path)]) == 2  # a directory: refused
