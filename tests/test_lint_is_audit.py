"""`lint` is `audit` restricted to the document rules (issue #11, item 4).

One Severity, one Finding, one rule table: for generated documents, what `tdxpolicy lint`
reports (lint/1) is exactly what `tdxpolicy audit` reports (audit/1) for the rules of scope
`document`, through both command lines; and neither changed on Intel's real data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdxpolicy.audit import DOCUMENT_RULE_IDS, RULES, Scope, run_audit
from tdxpolicy.cli import main
from tdxpolicy.lint import lint_documents
from tdxpolicy.sources import embedded_documents
from tdxpolicy.sources.document import parse_document

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue()


# --- generated documents ---------------------------------------------------------------------

VERSIONS = [f"1.5.{u:02d}" for u in (1, 5, 6, 8, 9, 13, 16, 20)] + ["2.0.02", "2.0.04"]
version = st.sampled_from(VERSIONS)
clause = st.one_of(
    st.tuples(st.sampled_from([">=", "<", "<=", "==", "!="]), version).map(" ".join),
    st.sampled_from(["1.5.*", "2.0.*"]),
)
verset = st.lists(clause, min_size=1, max_size=3).map(", ".join)
HASHES = ["0x" + "AB" * 48, "0x" + "CD" * 48]


@st.composite
def block(draw: Any) -> str:
    lines = [f"release {draw(version)} {{"]
    if draw(st.booleans()):
        lines.append(f"    svn 1.{draw(st.integers(9, 12))}")
    if draw(st.booleans()):
        lines.append("    seamldr " + " ".join(draw(st.lists(
            st.sampled_from(["1.5.00", "2.0.00", "3.1.00", "1.6.02"]), min_size=1, max_size=2,
            unique=True))))
    if draw(st.booleans()):
        lines.append("    platforms " + " ".join(draw(st.lists(
            st.sampled_from(["0x806F8", "0xC06F0", "0xA06F0"]), min_size=1, max_size=3))))
    if draw(st.booleans()):
        lines.append(f"    mrseam {draw(st.sampled_from(HASHES))}")
    if draw(st.booleans()):
        lines.append(f"    seamhash {draw(st.sampled_from(HASHES))}")
    for word in draw(st.lists(st.sampled_from(["update from", "deny from", "rollback to"]),
                              max_size=3)):
        reason = ' "why"' if word == "deny from" else ""
        lines.append(f"    {word} {draw(verset)}{reason}")
    lines.append("}")
    return "\n".join(lines)


@st.composite
def document(draw: Any) -> str:
    lines = ["format 1"]
    expires = draw(st.sampled_from([None, "2020-01-01", "2099-01-01"]))
    if expires is not None:
        lines.append(f"expires {expires}")
    for vs in draw(st.lists(verset, max_size=1)):
        lines.append(f'deny to {vs} "site"')
    # release versions must be unique within one document
    blocks = draw(st.lists(block(), max_size=3, unique_by=lambda b: b.split(" ", 2)[1]))
    return "\n".join(lines + blocks) + "\n"


def _lint_view(f: dict[str, Any]) -> tuple[Any, ...]:
    return f["code"], f["severity"], f["message"], f["source"]


def _audit_view(f: dict[str, Any]) -> tuple[Any, ...]:
    return f["rule"], f["severity"], f["message"], f["locations"][0]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(document(), min_size=1, max_size=3), default=st.booleans())
def test_lint_equals_audit_restricted_to_document_rules(
    texts: list[str], default: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    names = []
    for i, text in enumerate(texts):
        name = f"d{i}.tdxpolicy"
        Path(name).write_text(text)
        names.append(name)
    docs = [parse_document(t, n) for t, n in zip(texts, names)]  # fixtures must parse
    today = dt.date.today().isoformat()  # lint has no --today: it uses today
    extra = [] if default else ["--no-default-policy"]

    lint_code, lint_out = _run("lint", *names, "--format", "json", "--fail-on", "never", *extra)
    audit_code, audit_out = _run("audit", "--format", "json", "--today", today, "--fail-on",
                                 "never", *extra, *[a for n in names for a in ("--policy", n)])
    assert (lint_code, audit_code) == (0, 0)
    audited = [f for f in json.loads(audit_out)["findings"] if f["rule"] in DOCUMENT_RULE_IDS
               and any(loc["file"] in names for loc in f["locations"])]
    linted = json.loads(lint_out)["findings"]
    assert [_lint_view(f) for f in linted] == [_audit_view(f) for f in audited]
    # and the library says the same
    base = [] if not default else embedded_documents()
    lib = lint_documents(docs, dt.date.today(), base)
    assert [(f.rule, f.message) for f in lib] == [(f["code"], f["message"]) for f in linted]


def test_document_rules_are_the_lint_subset() -> None:
    assert DOCUMENT_RULE_IDS == tuple(r.id for r in RULES if r.scope is Scope.DOCUMENT)
    # what lint reported before it became the audit's document rules, each still covered
    assert set(DOCUMENT_RULE_IDS) == {
        "stale-document",  # was lint `expired`
        "never-matches",  # was lint `verset-empty`, `update-rule-dead`, `rollback-rule-dead`
        "source-disagreement",  # was lint `conflict` and `seamhash-mismatch`
        "no-expiry", "seamldr-unknown-line", "platforms-duplicate",
    }


def test_lint_ignores_the_embedded_catalogues_own_findings() -> None:
    """The embedded documents are compared with, never reported on: an expired embedded
    document would otherwise show up in every user's lint."""
    emb = embedded_documents()
    far_future = dt.date(2200, 1, 1)
    assert any(f.rule == "stale-document"
               for f in run_audit(emb, today=far_future, rules=DOCUMENT_RULE_IDS).findings)
    mine = parse_document("format 1\nexpires 2300-01-01\n", "mine.tdxpolicy")
    assert lint_documents([mine], far_future, emb) == []


# --- Intel's real data: unchanged ------------------------------------------------------------


def test_lint_of_intels_files_is_still_clean(intel_dir: Path) -> None:
    for args in (["lint", str(intel_dir)],
                 ["lint", "--no-default-policy", str(intel_dir), str(REPO / "tdxpolicy" / "data"
                                                                     / "releases")]):
        code, out = _run(*args)
        assert (code, out) == (0, "")
