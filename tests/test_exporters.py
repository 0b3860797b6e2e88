"""Exporters (issue 14): NFD feature files, Prometheus textfile metrics, JUnit XML, the atomic
writer, and the systemd/Ansible examples in contrib/.

Everything is rendered from real answers: probes of the simulated kernel of each generation
(tests/simkernel.py), verdicts of the embedded catalogue, real update records, fleet rows of
tdxpolicy.decide_many and of the fleet runner. Each output is read back by a parser of its own
kind (prometheus_client's, ElementTree's and expat's, an NFD reader written from NFD's
documented input format) rather than compared as text.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shlex
import subprocess
import sys
import xml.dom.minidom
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tdxpolicy
from simkernel import LAYOUTS, SimKernel, signed_image, site_catalogue
from tdxpolicy.atomic import write_atomic
from tdxpolicy.errors import InputError, InvalidArgument
from tdxpolicy.host.preflight import preflight
from tdxpolicy.host.probe import ProbeResult, probe
from tdxpolicy.host.records import read_records
from tdxpolicy.host.upload import Outcome
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.render import junit, nfd, prometheus
from tdxpolicy.verdict import Check, MoveOptions, Result, Verdict
from tdxpolicy.version import Version, parse_version

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.timezone.utc)
EXPIRES = NOW + dt.timedelta(minutes=30)
ACK = MoveOptions(acknowledged=frozenset({"all"}))
K8S_PART = re.compile(r"\A[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
PFX = "feature.node.kubernetes.io/tdx-module."


@pytest.fixture(scope="module")
def catalogue() -> tdxpolicy.Catalogue:
    return tdxpolicy.load_catalogue()


def sim_probe(tmp_path: Path, **kw: Any) -> ProbeResult:
    sim = SimKernel(tmp_path / "host", **kw)
    return probe(sim.sysfs, sim.proc, sim, sim.kernel)


# --- an NFD feature-file reader, written from NFD's documented input format ----------------------


def read_nfd(text: str, now: dt.datetime = NOW) -> dict[str, str]:
    """What nfd-worker's `local` source makes of a feature file: `# +expiry-time=` applies to
    the lines after it (ignored once past), other `#` lines are comments, `<ns>/<name>[=v]`
    lines are labels (value `true` when absent). Asserts the Kubernetes label syntax."""
    assert len(text.encode()) <= nfd.MAX_FILE_BYTES
    labels: dict[str, str] = {}
    expired = False
    for line in text.splitlines():
        if line.startswith("# +expiry-time="):
            when = dt.datetime.strptime(line.split("=", 1)[1], "%Y-%m-%dT%H:%M:%SZ")
            expired = when.replace(tzinfo=dt.timezone.utc) < now
            continue
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        ns, slash, name = key.partition("/")
        assert slash and ns == nfd.NAMESPACE, line
        assert K8S_PART.match(name), line
        assert value == "" or K8S_PART.match(value), line
        assert key not in labels, f"label {key} twice"
        if not expired:
            labels[key] = value or "true"
    return labels


def short(labels: dict[str, str]) -> dict[str, str]:
    assert all(k.startswith(PFX) for k in labels)
    return {k[len(PFX):]: v for k, v in labels.items()}


# --- NFD -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", sorted(LAYOUTS))
def test_nfd_labels_from_a_probe_of_every_kernel_generation(tmp_path: Path,
                                                           generation: str) -> None:
    result = sim_probe(tmp_path, generation=generation, module="1.5.06", seamldr="2.0.00",
                       remaining=7)
    text = nfd.nfd_features(probe=result, expires=EXPIRES)
    assert text.splitlines()[1] == "# +expiry-time=2026-11-26T12:30:00Z"
    assert short(read_nfd(text)) == {
        "version": "1.5.06", "seamldr": "2.0.00", "remaining-updates": "7",
        "update-interface": "true",
        # a probe decides nothing: fail closed
        "update-allowed": "false",
    }


def test_nfd_unknown_facts_and_no_update_interface(tmp_path: Path) -> None:
    result = sim_probe(tmp_path, upload=False)
    assert result.facts.seamldr_version is None and result.facts.num_remaining_updates is None
    labels = short(read_nfd(nfd.nfd_features(probe=result, expires=EXPIRES)))
    assert labels == {"version": "1.5.06", "seamldr": "unknown", "remaining-updates": "unknown",
                      "update-interface": "false", "update-allowed": "false"}


def test_nfd_expired_file_yields_no_labels(tmp_path: Path) -> None:
    text = nfd.nfd_features(probe=sim_probe(tmp_path), expires=NOW - dt.timedelta(seconds=1))
    assert read_nfd(text) == {}
    # the same file read before it expires
    assert read_nfd(text, NOW - dt.timedelta(minutes=1))


def test_nfd_allowed_verdict(tmp_path: Path, catalogue: tdxpolicy.Catalogue) -> None:
    result = sim_probe(tmp_path, remaining=5)
    v = tdxpolicy.decide(catalogue, result.facts, parse_version("1.5.16"), ACK)
    assert v.allowed
    labels = short(read_nfd(nfd.nfd_features(probe=result, verdicts=[v], expires=EXPIRES)))
    assert labels["update-allowed"] == "true" and labels["update-target"] == "1.5.16"
    assert not [k for k in labels if k.startswith("blocked.")]


def test_nfd_one_label_per_blocking_check(catalogue: tdxpolicy.Catalogue) -> None:
    facts = HostFacts(module_version=parse_version("1.5.16"),
                      seamldr_version=parse_version("2.0.00"), cpuid=(0x806F8,),
                      num_remaining_updates=5)
    v = tdxpolicy.decide(catalogue, facts, parse_version("1.5.08"), MoveOptions())
    labels = short(read_nfd(nfd.nfd_features(facts=facts, verdicts=[v], expires=EXPIRES)))
    blocked = {k[len("blocked."):]: val for k, val in labels.items() if k.startswith("blocked.")}
    assert blocked == {c.code: c.result.value for c in v.failed}
    assert blocked == {"rollback-rule": "fail", "svn": "fail"}
    assert labels["update-allowed"] == "false" and labels["update-target"] == "1.5.08"

    # a warning blocks only under --strict, and is then labelled `warn`
    strict = tdxpolicy.decide(catalogue, facts, parse_version("1.5.08"),
                              MoveOptions(strict=True))
    labels = short(read_nfd(nfd.nfd_features(facts=facts, verdicts=[strict], expires=EXPIRES)))
    assert labels["blocked.advisory"] == "warn" and labels["blocked.svn"] == "fail"


def test_nfd_unknown_facts_block_as_unknown(catalogue: tdxpolicy.Catalogue) -> None:
    facts = HostFacts(module_version=parse_version("1.5.06"))
    v = tdxpolicy.decide(catalogue, facts, parse_version("1.5.16"), ACK)
    labels = short(read_nfd(nfd.nfd_features(facts=facts, verdicts=[v], expires=EXPIRES)))
    assert {k: val for k, val in labels.items() if k.startswith("blocked.")} == {
        "blocked.cpu": "unknown", "blocked.remaining-updates": "unknown",
        "blocked.seamldr": "unknown"}
    assert labels["remaining-updates"] == "unknown" and labels["update-allowed"] == "false"


def test_nfd_select(tmp_path: Path, catalogue: tdxpolicy.Catalogue) -> None:
    result = sim_probe(tmp_path, remaining=5)
    chosen = tdxpolicy.select(catalogue, result.facts, ACK)
    assert chosen.selected == parse_version("1.5.16")
    labels = short(read_nfd(nfd.nfd_features(probe=result, select=chosen, expires=EXPIRES)))
    assert labels["update-allowed"] == "true" and labels["update-target"] == "1.5.16"

    # Nothing selected: the labels name what keeps the host from the newest release of its
    # series, exactly as deciding that move alone says.
    bare = HostFacts(module_version=parse_version("1.5.06"))
    none = tdxpolicy.select(catalogue, bare, ACK)
    assert none.selected is None
    newest = max((r.version for r in catalogue.newest_first() if r.series == (1, 5)),
                 key=lambda v: v.key)
    alone = tdxpolicy.decide(catalogue, bare, newest, ACK)
    labels = short(read_nfd(nfd.nfd_features(facts=bare, select=none, expires=EXPIRES)))
    assert labels["update-allowed"] == "false" and labels["update-target"] == newest.text
    assert {k[len("blocked."):]: v for k, v in labels.items() if k.startswith("blocked.")} == {
        c.code: c.result.value for c in alone.failed}


def test_nfd_select_on_a_current_host_blocks_nothing(catalogue: tdxpolicy.Catalogue) -> None:
    newest = max((r.version for r in catalogue.newest_first() if r.series == (1, 5)),
                 key=lambda v: v.key)
    facts = HostFacts(module_version=newest, seamldr_version=parse_version("2.0.00"),
                      cpuid=(0x806F8,), num_remaining_updates=5)
    r = tdxpolicy.select(catalogue, facts, ACK)
    assert r.selected is None
    labels = short(read_nfd(nfd.nfd_features(facts=facts, select=r, expires=EXPIRES)))
    assert labels == {"version": newest.text, "seamldr": "2.0.00", "remaining-updates": "5",
                      "update-allowed": "false"}


def test_nfd_refuses_a_naive_expiry_time(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="expires"):
        nfd.nfd_features(probe=sim_probe(tmp_path), expires=dt.datetime(2026, 1, 1))


HOSTILE = [
    "1.5.06\nfeature.node.kubernetes.io/tdx-module.update-allowed=true",
    "a" * 200, "-leading", "trailing.", "sp ace", "sl/ash", "é", "", "=", "\x00\x1b[31m",
    "x" * 63, "x" * 64, "1.5.06=true", "\ud800",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_label_value_always_fits_the_kubernetes_rule(text: str) -> None:
    out = nfd.label_value(text)
    assert K8S_PART.match(out) and len(out) <= 63
    if K8S_PART.match(text):
        assert out == text  # a valid value is never touched


@given(st.text(max_size=300))
def test_label_value_property(text: str) -> None:
    out = nfd.label_value(text)
    assert K8S_PART.match(out) and len(out) <= 63
    assert (out == text) == bool(K8S_PART.match(text))


def test_label_values_stay_distinct() -> None:
    outs = {nfd.label_value(t) for t in HOSTILE}
    assert len(outs) == len(set(HOSTILE))
    assert nfd.label_value("a" * 100) != nfd.label_value("a" * 101)


def test_hostile_versions_and_check_codes_cannot_inject_labels() -> None:
    # Version keeps its text as written; a caller could build one with any text.
    evil = Version(1, 5, 6, text="1.5.06\nfeature.node.kubernetes.io/tdx-module.update-allowed=true")
    facts = HostFacts(module_version=evil, seamldr_version=Version(2, 0, 0, text="2.0.00 # x"),
                      host="node-1\nfeature.node.kubernetes.io/x=1")
    checks = (Check("evil code\n=x/" + "y" * 80, Result.FAIL, "no"),
              Check("seamldr", Result.UNKNOWN, "?"))
    v = Verdict(evil, Version(1, 5, 16, text="1.5.16\r\nx=y"), None, checks)
    text = nfd.nfd_features(facts=facts, verdicts=[v], expires=EXPIRES)
    labels = short(read_nfd(text))  # every line passes the label syntax
    assert labels["update-allowed"] == "false"
    assert labels["version"] != evil.text and labels["version"].startswith("1.5.06_feature")
    assert sum(k.startswith("blocked.") for k in labels) == 2
    assert len([ln for ln in text.splitlines() if not ln.startswith("#")]) == len(labels)


# --- Prometheus ----------------------------------------------------------------------------------


def families(text: str) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {f.name: f for f in text_string_to_metric_families(text)}
    for f in out.values():
        assert f.type == "gauge"
        assert re.fullmatch(r"(tdx_module|tdxpolicy)_[a-z_]+", f.name) and ":" not in f.name
    return out


def samples(fam: Any) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in fam.samples}


FAMILY_NAMES = ["tdx_module_info", "tdx_module_remaining_updates", "tdxpolicy_update_allowed",
                "tdxpolicy_check_failed", "tdxpolicy_last_update_outcome",
                "tdxpolicy_last_update_timestamp_seconds", "tdxpolicy_last_run_timestamp_seconds"]


def test_prometheus_every_family_and_sample(tmp_path: Path,
                                            catalogue: tdxpolicy.Catalogue) -> None:
    result = sim_probe(tmp_path, generation="v4-v7", remaining=5)
    v = tdxpolicy.decide(catalogue, result.facts, parse_version("1.5.16"), ACK)
    records = [{"outcome": "rejected", "finished": "2026-11-20T10:00:00+00:00"},
               {"outcome": "updated", "finished": "2026-11-25T08:30:00.5+00:00"}]
    text = prometheus.prometheus_text(facts=result.facts, interface=result.interface,
                                      verdicts=[v], records=records, now=NOW)
    fams = families(text)
    assert list(fams) == FAMILY_NAMES
    assert samples(fams["tdx_module_info"]) == {
        (("interface", "v4-v7"), ("seamldr_version", "2.0.00"), ("version", "1.5.06")): 1.0}
    assert samples(fams["tdx_module_remaining_updates"]) == {(): 5.0}
    assert samples(fams["tdxpolicy_update_allowed"]) == {
        (("kind", "upgrade"), ("target", "1.5.16")): 1.0}
    assert samples(fams["tdxpolicy_check_failed"]) == {
        (("check", c.code), ("target", "1.5.16")): 0.0 for c in v.checks}
    # one series per check code: a code checked twice (policy-fresh, once per document) is
    # one series, 1 if any of its checks denies
    assert len(fams["tdxpolicy_check_failed"].samples) == len({c.code for c in v.checks}) == 16
    assert len(v.checks) == 17
    assert samples(fams["tdxpolicy_last_update_outcome"]) == {
        (("outcome", o),): 1.0 if o == "updated" else 0.0 for o in prometheus.OUTCOMES}
    assert samples(fams["tdxpolicy_last_update_timestamp_seconds"]) == {
        (): dt.datetime(2026, 11, 25, 8, 30, 0, 500000, tzinfo=dt.timezone.utc).timestamp()}
    assert samples(fams["tdxpolicy_last_run_timestamp_seconds"]) == {(): NOW.timestamp()}
    for f in fams.values():
        assert f.documentation  # every family has its HELP


def test_prometheus_denied_and_unknown(catalogue: tdxpolicy.Catalogue) -> None:
    facts = HostFacts(module_version=parse_version("1.5.06"))
    v = tdxpolicy.decide(catalogue, facts, parse_version("1.5.16"), ACK)
    fams = families(prometheus.prometheus_text(facts=facts, verdicts=[v], now=NOW))
    assert samples(fams["tdx_module_info"]) == {
        (("interface", "unknown"), ("seamldr_version", "unknown"), ("version", "1.5.06")): 1.0}
    # unknown budget: no sample, never a number that could pass for a real count
    assert fams["tdx_module_remaining_updates"].samples == []
    assert samples(fams["tdxpolicy_update_allowed"]) == {
        (("kind", "upgrade"), ("target", "1.5.16")): 0.0}
    failed = {dict(k)["check"] for k, val in samples(fams["tdxpolicy_check_failed"]).items()
              if val == 1.0}
    assert failed == {c.code for c in v.failed} == {"seamldr", "cpu", "remaining-updates"}
    # no update record yet: the families are declared, without samples
    assert fams["tdxpolicy_last_update_outcome"].samples == []
    assert fams["tdxpolicy_last_update_timestamp_seconds"].samples == []


def test_prometheus_select_paths_and_blocked(catalogue: tdxpolicy.Catalogue) -> None:
    facts = HostFacts(module_version=parse_version("1.5.06"),
                      seamldr_version=parse_version("2.0.00"), cpuid=(0x806F8,),
                      num_remaining_updates=5)
    r = tdxpolicy.select(catalogue, facts, ACK, max_hops=2)
    fams = families(prometheus.prometheus_text(facts=facts, select=r, now=NOW))
    assert samples(fams["tdxpolicy_update_allowed"]) == {
        (("kind", hop.kind.value), ("target", hop.to_version.text)): 1.0  # type: ignore[union-attr]
        for hop in r.path}
    bare = HostFacts(module_version=parse_version("1.5.06"))
    none = tdxpolicy.select(catalogue, bare, ACK)
    fams = families(prometheus.prometheus_text(facts=bare, select=none, now=NOW))
    ((labels, val),) = samples(fams["tdxpolicy_update_allowed"]).items()
    assert val == 0.0 and dict(labels)["kind"] == "upgrade"
    assert all(v == 1.0 for v in samples(fams["tdxpolicy_check_failed"]).values())


def test_prometheus_escapes_hostile_label_values() -> None:
    nasty = 'a\\b"c\nd}e{f=g,h'
    facts = HostFacts(module_version=Version(1, 5, 6, text=nasty),
                      seamldr_version=Version(2, 0, 0, text="\\n literally"))
    checks = (Check('code"with\\quote\n', Result.FAIL, "x"),)
    v = Verdict(None, Version(1, 5, 16, text='t"\n'), None, checks)
    records = [{"outcome": 'new "outcome"\nline', "finished": "not a time"}]
    text = prometheus.prometheus_text(facts=facts, verdicts=[v], records=records, now=NOW)
    fams = families(text)
    assert samples(fams["tdx_module_info"]) == {
        (("interface", "unknown"), ("seamldr_version", "\\n literally"), ("version", nasty)): 1.0}
    assert samples(fams["tdxpolicy_check_failed"]) == {
        (("check", 'code"with\\quote\n'), ("target", 't"\n')): 1.0}
    assert samples(fams["tdxpolicy_update_allowed"]) == {(("kind", "unknown"), ("target", 't"\n')): 0.0}
    outcome = samples(fams["tdxpolicy_last_update_outcome"])
    assert outcome[(("outcome", 'new "outcome"\nline'),)] == 1.0
    assert sum(outcome.values()) == 1.0 and len(outcome) == len(prometheus.OUTCOMES) + 1
    assert fams["tdxpolicy_last_update_timestamp_seconds"].samples == []  # unreadable time
    # one line per sample: no raw newline inside any label
    assert all(ln.startswith(("#", "tdx")) for ln in text.splitlines())


def test_prometheus_escaping_rules() -> None:
    assert prometheus.escape_label_value('\\"\n') == '\\\\\\"\\n'
    assert prometheus.escape_help('a\\b\nc"') == 'a\\\\b\\nc"'


def test_prometheus_refuses_a_naive_time() -> None:
    with pytest.raises(InvalidArgument, match="now"):
        prometheus.prometheus_text(now=dt.datetime(2026, 1, 1))


def test_outcomes_match_the_update_machinery_and_the_schema() -> None:
    schema = json.loads((REPO / "schemas" / "update-record.schema.json").read_text())
    assert tuple(o.value for o in Outcome) == prometheus.OUTCOMES
    assert tuple(schema["properties"]["outcome"]["enum"]) == prometheus.OUTCOMES


@pytest.fixture(scope="module")
def image() -> tuple[bytes, bytes, str, str]:
    img200, seamhash, key_hash = signed_image(0x200)
    img100, _, _ = signed_image(0x100)
    return img200, img100, seamhash, key_hash


def test_prometheus_from_real_update_records(tmp_path: Path, image: Any) -> None:
    from test_update import _run, make_sim

    sim = make_sim(tmp_path, {})
    req, first = _run(sim, tmp_path, image, case={"acknowledge": []})  # denied: not acknowledged
    req, second = _run(sim, tmp_path, image)  # updated
    assert (first.outcome, second.outcome) == (Outcome.DENIED, Outcome.UPDATED)
    records = read_records(req.record_path)
    after = probe(sim.sysfs, sim.proc, sim, sim.kernel)
    fams = families(prometheus.prometheus_text(facts=after.facts, interface=after.interface,
                                               records=records, now=NOW))
    assert {dict(k)["outcome"] for k, v in samples(fams["tdxpolicy_last_update_outcome"]).items()
            if v == 1.0} == {"updated"}
    finished = dt.datetime.fromisoformat(records[-1]["finished"])
    assert samples(fams["tdxpolicy_last_update_timestamp_seconds"]) == {
        (): finished.timestamp()}
    assert samples(fams["tdx_module_info"]) == {
        (("interface", "merged"), ("seamldr_version", "2.0.00"), ("version", "1.5.16")): 1.0}
    assert samples(fams["tdx_module_remaining_updates"]) == {(): 11.0}


# --- JUnit ---------------------------------------------------------------------------------------

SUITES_ATTRS = {"name", "tests", "failures", "errors", "time"}
SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname"}
CASE_ATTRS = {"name", "classname", "time"}


def junit_doc(text: str) -> ET.Element:
    """Parse (expat, twice: ElementTree and minidom) and check the JUnit schema's shape:
    elements, attributes, and counts that add up."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    xml.dom.minidom.parseString(text.encode("utf-8"))
    root = ET.fromstring(text)
    assert root.tag == "testsuites" and set(root.attrib) == SUITES_ATTRS
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in root:
        assert suite.tag == "testsuite"
        assert {"name", "tests", "failures", "errors", "skipped", "time"} <= set(suite.attrib)
        assert set(suite.attrib) <= SUITE_ATTRS
        cases = [c for c in suite if c.tag == "testcase"]
        assert all(c.tag in ("testcase", "properties") for c in suite)
        for props in suite.iter("properties"):
            assert all(p.tag == "property" and set(p.attrib) == {"name", "value"} for p in props)
        counts = {"tests": len(cases), "failures": 0, "errors": 0}
        for case in cases:
            assert set(case.attrib) == CASE_ATTRS and float(case.get("time", "x")) >= 0
            kids = [k.tag for k in case]
            assert set(kids) <= {"failure", "error", "system-out"}
            assert kids.count("failure") + kids.count("error") <= 1
            for k in case:
                if k.tag in ("failure", "error"):
                    assert set(k.attrib) == {"message", "type"}
            counts["failures"] += kids.count("failure")
            counts["errors"] += kids.count("error")
        for k, n in counts.items():
            assert int(suite.get(k, "-1")) == n, (suite.get("name"), k)
            totals[k] += n
        assert suite.get("skipped") == "0"
    for k, n in totals.items():
        assert int(root.get(k, "-1")) == n
    return root


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in suite.iter("testcase")}


def test_junit_allowed_move_is_all_passing(tmp_path: Path,
                                           catalogue: tdxpolicy.Catalogue) -> None:
    result = sim_probe(tmp_path, remaining=5)
    v = tdxpolicy.decide(catalogue, result.facts, parse_version("1.5.16"), ACK)
    root = junit_doc(junit.junit_verdicts([v], hostname=result.facts.host, timestamp=NOW))
    (suite,) = root
    assert suite.get("name") == "1.5.06 -> 1.5.16 (upgrade)"
    assert suite.get("hostname") == "sim-host" and suite.get("timestamp") == "2026-11-26T12:00:00"
    assert list(cases(suite)) == junit.case_names([c.code for c in v.checks])
    assert "policy-fresh[2]" in cases(suite)  # one check per document, each its own case
    assert all(len(c) == 0 or [k.tag for k in c] == ["system-out"]
               for c in cases(suite).values())
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"from": "1.5.06", "to": "1.5.16", "kind": "upgrade", "allowed": "true",
                     "strict": "false"}


def test_junit_fail_unknown_warn(catalogue: tdxpolicy.Catalogue) -> None:
    facts = HostFacts(module_version=parse_version("1.5.16"), cpuid=(0x806F8,))
    v = tdxpolicy.decide(catalogue, facts, parse_version("1.5.08"), MoveOptions())
    by = {r: [c.code for c in v.checks if c.result is r] for r in Result}
    assert by[Result.FAIL] and by[Result.UNKNOWN] and by[Result.WARN]
    root = junit_doc(junit.junit_verdicts([v]))
    cs = cases(root[0])
    for code in by[Result.FAIL]:
        (f,) = cs[code]
        assert f.tag == "failure" and f.get("type") == "fail"
        check = next(c for c in v.checks if c.code == code)
        assert f.get("message") == check.message and check.message in (f.text or "")
        if check.source is not None:
            assert f"decided by {check.source.file}:{check.source.line}" in (f.text or "")
    for code in by[Result.UNKNOWN]:
        assert [k.tag for k in cs[code]] == ["error"] and cs[code][0].get("type") == "unknown"
    for code in by[Result.WARN]:
        assert [k.tag for k in cs[code]] == ["system-out"]
    assert int(root.get("failures", "")) == len(by[Result.FAIL])
    assert int(root.get("errors", "")) == len(by[Result.UNKNOWN])

    strict = tdxpolicy.decide(catalogue, facts, parse_version("1.5.08"), MoveOptions(strict=True))
    cs = cases(junit_doc(junit.junit_verdicts([strict]))[0])
    for code in by[Result.WARN]:
        assert [k.tag for k in cs[code]] == ["failure"] and cs[code][0].get("type") == "warn"


def test_junit_hostile_text_stays_well_formed() -> None:
    nasty = "bad\x00\x01\x08\x0b\x0c\x1b[31m\ud800\ufffe\uffff ]]> <tag a='1'> & \"q\" \t\n\r end"
    checks = (Check("x\x07", Result.FAIL, nasty, facts={"k": nasty}),
              Check("warned", Result.WARN, nasty), Check("dunno", Result.UNKNOWN, nasty))
    v = Verdict(Version(1, 5, 6, text="1.5.06\x00"), Version(1, 5, 16), None, checks)
    text = junit.junit_verdicts([v], name=nasty, hostname=nasty)
    root = junit_doc(text)
    suite = root[0]
    assert suite.get("hostname", "").startswith("bad\\x00\\x01\\x08\\x0b\\x0c\\x1b[31m\\ud800"
                                               "\\ufffe\\uffff ]]> <tag a='1'> & \"q\"")
    f = cases(suite)["x\\x07"][0]
    assert f.get("message", "").endswith("\t\n\r end")  # allowed whitespace kept, attribute too
    assert "\\x00" in (f.text or "") and "\x00" not in text
    assert junit.xml_safe("ok \t\n") == "ok \t\n"


def test_junit_preflight(tmp_path: Path, image: Any) -> None:
    sim = SimKernel(tmp_path / "host", offline="3")
    pf = preflight(probe(sim.sysfs, sim.proc, sim, sim.kernel), site_catalogue(image[2]),
                   target=None, options=MoveOptions(), image_data=image[0], image_path="img",
                   can_write=lambda p: True, trusted_key_hashes=(image[3],))
    root = junit_doc(junit.junit_preflight(pf))
    (suite,) = root
    assert suite.get("name") == "preflight 1.5.06 -> 1.5.16 (upgrade)"
    assert suite.get("hostname") == "sim-host"
    cs = cases(suite)
    assert list(cs) == junit.case_names([c.code for c in pf.verdict.checks])
    assert {"upload-interface", "image-valid", "seamldr"} <= set(cs)
    # an offline CPU: the one denying host check
    assert [k.tag for k in cs["cpus-online"]] == ["failure"]
    assert [c.code for c in pf.verdict.failed] == ["cpus-online"]
    assert int(root.get("failures", "")) == sum(c.result is Result.FAIL for c in pf.verdict.checks)


FLEET = [
    {"host": "ok", "module_version": "1.5.06", "seamldr_version": "2.0.00",
     "cpuid": ["0x806F8"], "num_remaining_updates": 4},
    {"host": "bare", "module_version": "1.5.06"},
    {"host": "current", "module_version": "1.5.16"},
    {"host": "granite-rapids", "module_version": "1.5.06", "seamldr_version": "2.0.00",
     "cpuid": ["0xA06D1"], "num_remaining_updates": 4},
    {"host": "spent", "module_version": "1.5.06", "seamldr_version": "2.0.00",
     "cpuid": ["0x806F8"], "num_remaining_updates": 0},
]


def _check_fleet_suites(root: ET.Element, rows: list[dict[str, Any]]) -> None:
    suites = list(root)
    assert [s.get("name") for s in suites] == [str(r["host"]) for r in rows]
    for suite, row in zip(suites, rows):
        failed = row["failed"].split() if isinstance(row["failed"], str) else row["failed"]
        unknown = row["unknown"].split() if isinstance(row["unknown"], str) else row["unknown"]
        cs = cases(suite)
        if row["action"] == "error":
            assert [k.tag for k in cs["facts"]] == ["error"]
        elif failed:
            assert list(cs) == failed
            for code in failed:
                assert [k.tag for k in cs[code]] == ["error" if code in unknown else "failure"]
        else:
            assert list(cs) == ["decision"]
            assert [k.tag for k in cs["decision"]] == (
                ["system-out"] if row["action"] in ("update", "current") else ["failure"])


def test_junit_fleet_from_decide_many_rows() -> None:
    rows = list(tdxpolicy.decide_many(FLEET + ["{not json"], target="1.5.16", options=ACK))
    assert [r["action"] for r in rows] == ["update", "blocked", "current", "blocked", "blocked",
                                           "error"]
    assert [r["failed"] for r in rows[3:5]] == ["cpu", "remaining-updates"]
    root = junit_doc(junit.junit_fleet(rows, timestamp=NOW))
    _check_fleet_suites(root, rows)
    assert int(root.get("errors", "")) >= 4  # bare: three unknown facts; the malformed line


def test_junit_fleet_from_fleet_json_lines(catalogue: tdxpolicy.Catalogue) -> None:
    from tdxpolicy.fleet import run_fleet

    lines = [json.dumps(f).encode() + b"\n" for f in FLEET] + [b"[1]\n"]
    compact, full = io.BytesIO(), io.BytesIO()
    run_fleet(lines, compact, catalogue, ACK, target=parse_version("1.5.16"))
    run_fleet(lines, full, catalogue, ACK, target=parse_version("1.5.16"), fmt="full")
    rows = [json.loads(ln) for ln in compact.getvalue().splitlines()]
    _check_fleet_suites(junit_doc(junit.junit_fleet(rows)), rows)

    docs = [json.loads(ln) for ln in full.getvalue().splitlines()]
    root = junit_doc(junit.junit_fleet(docs))
    for suite, doc in zip(root, docs):
        if "checks" in doc:  # a full verdict: every check is a case
            assert list(cases(suite)) == junit.case_names([c["code"] for c in doc["checks"]])
        else:
            assert list(cases(suite)) == ["facts"]


# --- the atomic writer ---------------------------------------------------------------------------


def test_write_atomic_replaces_through_a_dot_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tdx-module"
    target.write_text("old\n")
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: Any, dst: Any) -> None:
        seen.append(str(src))
        assert target.read_text() == "old\n"  # readers still see the old file whole
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(target, b"new\n")
    assert target.read_text() == "new\n"
    (tmp,) = seen
    assert Path(tmp).parent == tmp_path and Path(tmp).name.startswith(".tdx-module.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tdx-module"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_write_atomic_failure_keeps_the_old_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tdxpolicy.prom"
    target.write_text("old\n")

    def broken(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(InputError) as e:
        write_atomic(target, b"new\n")
    assert e.value.code == "unwritable" and "No space left" in e.value.message
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tdxpolicy.prom"]


def test_write_atomic_refuses_directories_and_special_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        write_atomic(tmp_path, b"x")
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="directory"):
        write_atomic(tmp_path / "d", b"x")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="special file"):
        write_atomic(tmp_path / "fifo", b"x")
    with pytest.raises(InputError) as e:
        write_atomic(tmp_path / "missing-dir" / "f", b"x")
    assert e.value.code == "unwritable"
    # a symbolic link is replaced by the file, its target left alone
    (tmp_path / "elsewhere").write_text("keep")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    write_atomic(tmp_path / "link", b"x")
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "elsewhere").read_text() == "keep"


# --- renderers stay out of start-up --------------------------------------------------------------


def test_cli_start_up_does_not_import_the_exporters() -> None:
    code = ("import sys, tdxpolicy.cli; "
            "print(sorted(m for m in sys.modules if m.startswith('tdxpolicy.render.') "
            "or m == 'tdxpolicy.atomic'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    loaded = set(eval(out))  # a list of module names printed by repr
    assert not loaded & {"tdxpolicy.render.nfd", "tdxpolicy.render.prometheus",
                         "tdxpolicy.render.junit", "tdxpolicy.render.exported",
                         "tdxpolicy.atomic"}


# --- contrib/: systemd units and the Ansible fact script -----------------------------------------

CONTRIB = REPO / "contrib"


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as sections of (key, value) pairs in order (keys may repeat, as
    systemd allows; configparser would refuse that). Backslash continuations joined."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), line
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None and "=" in line, line
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    assert not pending
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


NEW_OPTIONS = {"--format": {"nfd", "prometheus", "junit"}, "--output": None}


def documented_options() -> set[str]:
    text = (REPO / "docs" / "cli.md").read_text()
    return set(re.findall(r"(--[a-z][a-z-]+)", text))


def test_systemd_units(tmp_path: Path) -> None:
    service = read_unit(CONTRIB / "systemd" / "tdxpolicy-export.service")
    timer = read_unit(CONTRIB / "systemd" / "tdxpolicy-export.timer")
    svc = service["Service"]
    assert values(svc, "Type") == ["oneshot"]
    # a denial (exit 1) is an answer, not a failure of the unit
    assert "1" in " ".join(values(svc, "SuccessExitStatus")).split()
    assert values(svc, "ProtectSystem") == ["strict"]
    assert values(svc, "NoNewPrivileges") == ["yes"]
    # the cache of parsed documents has a directory the unit may write, where it looks for it
    assert values(svc, "CacheDirectory") == ["tdxpolicy"]
    assert "XDG_CACHE_HOME=/var/cache" in values(svc, "Environment")
    rw = [d.lstrip("-") for d in " ".join(values(svc, "ReadWritePaths")).split()]

    commands = [shlex.split(v.lstrip("-")) for v in values(svc, "ExecStart")]
    assert len(commands) == 2
    documented = documented_options()
    outputs = {}
    for argv in commands:
        # `select` probes the host and decides: its exit 1 (no move allowed) is an answer
        assert argv[0] == "/usr/bin/tdxpolicy" and argv[1] == "select"
        opts = {a.split("=")[0] for a in argv[2:] if a.startswith("--")}
        assert opts <= documented | set(NEW_OPTIONS), opts - documented
        fmt = argv[argv.index("--format") + 1]
        out = Path(argv[argv.index("--output") + 1])
        assert fmt in NEW_OPTIONS["--format"]  # type: ignore[operator]
        assert any(out.parent == Path(d) for d in rw), (out, rw)
        outputs[fmt] = out
    assert outputs == {
        "nfd": Path("/etc/kubernetes/node-feature-discovery/features.d/tdx-module"),
        "prometheus": Path("/var/lib/node_exporter/textfile_collector/tdxpolicy.prom")}
    # the expiry written into the feature file outlives the refresh interval
    assert values(timer["Timer"], "OnUnitActiveSec") and values(timer["Install"], "WantedBy") == [
        "timers.target"]
    assert values(timer["Timer"], "Unit") in ([], ["tdxpolicy-export.service"])

    analyze = "/usr/bin/systemd-analyze"
    if os.path.exists(analyze):
        # systemd's own parser: unknown keys or bad values are reported. Executables are
        # looked up on this machine, where /usr/bin/tdxpolicy need not exist: that one
        # message is expected and anything else fails the test.
        p = subprocess.run([analyze, "verify", "--man=no",
                            str(CONTRIB / "systemd" / "tdxpolicy-export.service"),
                            str(CONTRIB / "systemd" / "tdxpolicy-export.timer")],
                           capture_output=True, text=True)
        problems = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()
                    and "/usr/bin/tdxpolicy" not in ln and "tdxpolicy-export.service" not in ln
                    or "Unknown key" in ln or "Failed to parse" in ln]
        assert not problems, problems


def test_ansible_fact_script(tmp_path: Path) -> None:
    script = CONTRIB / "ansible" / "tdx.fact"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "probe --format json" in text
    # Run it against a fake tdxpolicy that prints the real probe JSON of a simulated host, and
    # against one that fails: Ansible needs valid JSON on stdout either way.
    result = sim_probe(tmp_path)
    fake = tmp_path / "bin" / "tdxpolicy"
    fake.parent.mkdir()
    payload = json.dumps(result.to_json())
    fake.write_text(f"#!/bin/sh\n[ \"$1 $2 $3\" = 'probe --format json' ] || exit 2\n"
                    f"cat <<'EOF'\n{payload}\nEOF\n")
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "TDXPOLICY": str(fake)}
    p = subprocess.run([str(script)], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and json.loads(p.stdout) == result.to_json()
    fake.write_text("#!/bin/sh\necho '{\"error\": {\"code\": \"not-tdx-host\"}}'\nexit 3\n")
    p = subprocess.run([str(script)], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and json.loads(p.stdout) == {
        "exit_code": 3, "probe_error": {"error": {"code": "not-tdx-host"}}}
    fake.write_text("#!/bin/sh\necho 'Traceback' >&2\nexit 2\n")
    p = subprocess.run([str(script)], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and json.loads(p.stdout) == {"exit_code": 2, "probe_error": None}


# --- docs/exporters.md shows real output --------------------------------------------------------


def test_docs_nfd_examples_are_real_output(tmp_path: Path,
                                           catalogue: tdxpolicy.Catalogue) -> None:
    doc = (REPO / "docs" / "exporters.md").read_text()
    blocks = re.findall(r"```text\n(# tdxpolicy: TDX module.*?)```", doc, re.S)
    assert len(blocks) == 2
    options = MoveOptions(today=NOW.date())
    expires = NOW + dt.timedelta(hours=1)
    result = sim_probe(tmp_path)
    chosen = tdxpolicy.select(catalogue, result.facts, options)
    assert blocks[0] == nfd.nfd_features(probe=result, select=chosen, expires=expires)
    facts = HostFacts(module_version=parse_version("1.5.16"),
                      seamldr_version=parse_version("2.0.00"), cpuid=(0x806F8,),
                      num_remaining_updates=5)
    v = tdxpolicy.decide(catalogue, facts, parse_version("1.5.08"), options)
    assert blocks[1] == nfd.nfd_features(facts=facts, verdicts=[v], expires=expires)


def test_docs_list_every_metric_family() -> None:
    doc = (REPO / "docs" / "exporters.md").read_text()
    for name in FAMILY_NAMES:
        assert f"| `{name}` |" in doc


def test_docs_list_every_nfd_label(tmp_path: Path, catalogue: tdxpolicy.Catalogue) -> None:
    doc = (REPO / "docs" / "exporters.md").read_text()
    facts = HostFacts(module_version=parse_version("1.5.16"))
    v = tdxpolicy.decide(catalogue, facts, parse_version("1.5.08"), MoveOptions())
    labels = short(read_nfd(nfd.nfd_features(probe=sim_probe(tmp_path), facts=facts,
                                             verdicts=[v], expires=EXPIRES)))
    names = {"blocked.<check-code>" if k.startswith("blocked.") else k for k in labels}
    assert names == {"version", "seamldr", "remaining-updates", "update-interface",
                     "update-allowed", "update-target", "blocked.<check-code>"}
    for name in names:
        assert f"| `tdx-module.{name}` |" in doc
