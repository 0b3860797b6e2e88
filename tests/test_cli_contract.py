"""QA: the command-line contract (docs/cli.md#contract) for every command, data-driven.

For each command a table of representative invocations (success, denial/findings, bad input,
unreadable file, usage error) is run in text and in JSON mode and must:

1. exit with exactly the contract's code (0/1/2/3/4), the same in both modes;
2. in JSON mode put exactly one JSON document on stdout (JSON Lines for fleet), errors as
   ``{"error": {"code", "message"}}``, diagnostics only on stderr;
3. validate against its schema in schemas/ (each schema Draft 2020-12 with an ``$id``);
4. carry the ``tdxpolicy`` tag the contract names (``verdict/1``, ``path/1``, ...);
5. use lower-case hyphenated check codes; the contract's codes are the engine's spelling;
6. in text mode never print a traceback, and put results on stdout only (errors on stderr).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
from referencing import Registry, Resource

import imagekit
from simkernel import FakeClock, Fault, SimKernel, signed_image, site_policy_text
from tdxpolicy.cli import host_cmds, image_cmds, main
from tdxpolicy.host import sysfs as sysfs_mod

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
CODE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# The `tdxpolicy` tag of each JSON document and the schema (file, JSON pointer) it must match.
TAG_SCHEMA: dict[str, tuple[str, str]] = {
    "verdict/1": ("verdict.schema.json", ""),
    "path/1": ("path.schema.json", ""),
    "select/1": ("select.schema.json", ""),
    "list/1": ("list.schema.json", ""),
    "show/1": ("catalogue.schema.json", "#/$defs/show"),
    "graph/1": ("catalogue.schema.json", "#/$defs/graph"),
    "lint/1": ("catalogue.schema.json", "#/$defs/lint"),
    "image/1": ("image.schema.json", ""),
    "audit/1": ("audit.schema.json", ""),
    "preflight/1": ("update-record.schema.json", "#/$defs/preflight"),
    "update-record/1": ("update-record.schema.json", ""),
}

# The tag the contract (or the brief) names for each command's JSON; None: no tag (probe
# prints host facts, usable as --facts input).
COMMAND_TAG: dict[str, str | None] = {
    "can-upgrade": "verdict/1", "path": "path/1", "select": "select/1", "list": "list/1",
    "show": "show/1", "graph": "graph/1", "lint": "lint/1", "image": "image/1",
    "audit": "audit/1", "preflight": "preflight/1", "update": "update-record/1", "probe": None,
}

CONTRACT_CODES = (
    "target-known", "running-known", "same-series", "update-rule", "policy-deny",
    "rollback-rule", "seamldr", "cpu", "debug", "svn", "handoff", "remaining-updates",
    "support-status", "advisory", "policy-fresh",
)


# --- schemas -----------------------------------------------------------------------------------


def _schema_docs() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.json"))}


@pytest.fixture(scope="module")
def registry() -> Registry:
    docs = _schema_docs()
    return Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in docs.values()
    )


def validator(registry: Registry, name: str, pointer: str = "") -> jsonschema.Validator:
    doc = _schema_docs()[name]
    schema = {"$ref": doc["$id"] + pointer} if pointer else doc
    return jsonschema.Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize("name", sorted(_schema_docs()))
def test_every_schema_is_draft_2020_12_with_an_id(name: str) -> None:
    doc = _schema_docs()[name]
    assert doc.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert doc.get("$id", "").endswith("/" + name)
    jsonschema.Draft202012Validator.check_schema(doc)


def test_every_tagged_document_has_a_schema() -> None:
    names = set(_schema_docs())
    for tag, (file, _) in TAG_SCHEMA.items():
        assert file in names, f"{tag}: no schema {file}"
    assert "error.schema.json" in names


# --- the environment every invocation runs in -------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Files for every table row; the host commands talk to a simulated kernel."""
    e: dict[str, str] = {}
    t = tmp_path
    # move commands: host facts
    (t / "facts.json").write_text(json.dumps({
        "module_version": "1.5.06", "seamldr_version": "2.0.00", "cpuid": ["0x806F8"],
        "num_remaining_updates": 12}))
    (t / "badfacts.json").write_text('{"module_version": 15')
    (t / "dir").mkdir()
    (t / "empty").write_bytes(b"")
    e["facts"], e["badfacts"] = str(t / "facts.json"), str(t / "badfacts.json")
    e["dir"], e["missing"], e["empty"] = str(t / "dir"), str(t / "missing"), str(t / "empty")
    # lint
    body = ('\nrelease 7.0.01 {\n    svn 1.2\n    platforms 0x806F8\n'
        '    seamldr 2.0.00\n    handoff module 0 min 0\n    update from >= 7.0.00\n}\n')
    (t / "clean.tdxpolicy").write_text("format 1\nissued 2026-01-01\nexpires 2099-01-01\n" + body)
    (t / "noexpiry.tdxpolicy").write_text("format 1\nissued 2026-01-01\n" + body)
    e["noexpiry"] = str(t / "noexpiry.tdxpolicy")
    (t / "broken.tdxpolicy").write_text("format 1\n\nrelease 7.0.01 {\n    svn\n")
    e["clean"], e["broken"] = str(t / "clean.tdxpolicy"), str(t / "broken.tdxpolicy")
    # fleet
    good = json.dumps({"module_version": "1.5.06", "seamldr_version": "2.0.00",
                       "cpuid": ["0x806F8"], "num_remaining_updates": 12, "host": "a"})
    denied = json.dumps({"module_version": "1.5.06", "host": "b"})
    (t / "fleet-ok.jsonl").write_text(good + "\n")
    (t / "fleet-denied.jsonl").write_text(good + "\n" + denied + "\n")
    (t / "fleet-bad.jsonl").write_text(good + "\nnot json\n" + denied + "\n")
    for k in ("fleet-ok", "fleet-denied", "fleet-bad"):
        e[k] = str(t / f"{k}.jsonl")
    # images, signed with the test key (trusted in-process for image verify)
    key = imagekit.test_key()
    monkeypatch.setattr(image_cmds, "TRUSTED_KEY_HASHES", (key.key_hash,))
    module = imagekit.make_module(4)
    sig = imagekit.make_sigstruct(module)
    (t / "img.img").write_bytes(imagekit.image_0x200(sig, module))
    (t / "img.blob").write_bytes(imagekit.blob_0x100(sig, module))
    bad = bytearray(imagekit.image_0x200(sig, module))
    bad[-1] ^= 1
    (t / "bad.img").write_bytes(bytes(bad))
    (t / "junk.img").write_bytes(b"not an image at all" * 10)
    (t / "mod.bin").write_bytes(module)
    (t / "mod.sigstruct").write_bytes(sig)
    for k in ("img.img", "img.blob", "bad.img", "junk.img", "mod.bin", "mod.sigstruct"):
        e[k.replace(".", "_")] = str(t / k)
    e["out"] = str(t / "out" / "new.img")
    (t / "out").mkdir()
    # host: a simulated merged-kernel host running 1.5.06 and a site policy for the image
    img200, seamhash, key_hash = signed_image(0x200)
    (t / "host.img").write_bytes(img200)
    (t / "site.tdxpolicy").write_text(site_policy_text(seamhash))
    e["host_img"], e["site"] = str(t / "host.img"), str(t / "site.tdxpolicy")
    sim = SimKernel(t / "host", installs="1.5.16")
    e["sysfs"], e["proc"] = str(sim.sysfs), str(sim.proc)
    e["record"], e["lock"] = str(t / "var" / "updates.jsonl"), str(t / "run" / "lock")
    clock = FakeClock()
    monkeypatch.setattr(host_cmds, "TEST_CLOCK", (clock, clock.sleep))
    monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (key_hash,))
    monkeypatch.setattr(host_cmds, "TEST_CAN_WRITE", lambda p: True)
    # a second host whose update loses the module (exit 4)
    lost = SimKernel(t / "lost", installs="1.5.16", fault=Fault.MODULE_LOST)
    e["lost_sysfs"], e["lost_proc"] = str(lost.sysfs), str(lost.proc)
    monkeypatch.setattr(sysfs_mod, "default_io", lambda: _Router((sim, lost)))
    e["nohost"] = str(t / "nohost")
    (t / "nohost").mkdir()
    # a name longer than the file system allows (ENAMETOOLONG from stat: not ENOENT)
    e["toolong"] = str(t / ("\u00e9" * 5000))
    # audit
    e["today"] = "2026-11-26"
    return e


class _Router:
    """The simulated kernel whose tree holds the path (sysfs I/O is path-first)."""

    def __init__(self, sims: tuple[SimKernel, ...]) -> None:
        self.sims = sims

    def __getattr__(self, name: str) -> Any:
        def call(path: Path, *a: Any, **k: Any) -> Any:
            for sim in self.sims:
                if Path(path).is_relative_to(sim.root):
                    return getattr(sim, name)(path, *a, **k)
            return getattr(self.sims[0], name)(path, *a, **k)
        return call


HOST = "--sysfs-root {sysfs} --proc-root {proc} --kernel merged"
SITE = "--no-default-policy --policy {site}"
FULL = "--from 1.5.06 --seamldr 2.0.00 --cpuid 0x806F8 --remaining 12"
UPD = "update --image {host_img} " + SITE + " " + HOST + " --record {record} --lock-file {lock}"

# (id, command line, exit code). Each row runs in text and JSON mode ("--format json" is added).
TABLE: list[tuple[str, str, int]] = [
    # show
    ("show-ok", "show 1.5.16", 0),
    ("show-unknown", "show 9.9.99", 2),
    ("show-bad-version", "show garbage", 2),
    ("show-missing-arg", "show", 2),
    ("show-unreadable-policy", "show 1.5.16 --policy {missing}", 2),
    ("show-bad-option", "show 1.5.16 --bogus", 2),
    # graph
    ("graph-ok", "graph", 0),
    ("graph-facts", "graph --facts {facts}", 0),
    ("graph-bad-flag", "graph --seamldr nope", 2),
    ("graph-negative", "graph --remaining -1", 2),
    ("graph-unreadable-facts", "graph --facts {missing}", 2),
    ("graph-malformed-facts", "graph --facts {badfacts}", 2),
    # lint
    ("lint-clean", "lint {clean} --no-default-policy", 0),
    ("lint-findings", "lint {noexpiry} --no-default-policy", 1),
    ("lint-broken", "lint {broken}", 2),
    ("lint-missing", "lint {missing}", 2),
    ("lint-empty", "lint {empty}", 2),
    ("lint-no-args", "lint", 2),
    # list
    ("list-ok", "list", 0),
    ("list-facts", "list " + FULL, 0),
    ("list-bad-from", "list --from 1.5", 2),
    ("list-unreadable-facts", "list --facts {dir}", 2),
    # can-upgrade
    ("can-upgrade-allowed", "can-upgrade --to 1.5.16 " + FULL, 0),
    ("can-upgrade-facts-file", "can-upgrade --to 1.5.16 --facts {facts}", 0),
    ("can-upgrade-unknowns-deny", "can-upgrade --to 1.5.16 --from 1.5.06", 1),
    ("can-upgrade-unknown-target", "can-upgrade --to 9.9.99 " + FULL, 1),
    ("can-upgrade-no-target", "can-upgrade " + FULL, 2),
    ("can-upgrade-bad-version", "can-upgrade --to x.y " + FULL, 2),
    ("can-upgrade-huge-version", "can-upgrade --to 1.5.999999999999999999999 " + FULL, 2),
    ("can-upgrade-bad-cpuid", "can-upgrade --to 1.5.16 --cpuid zz " + FULL, 2),
    ("can-upgrade-missing-image", "can-upgrade --to 1.5.16 --image {missing} " + FULL, 2),
    ("can-upgrade-dir-image", "can-upgrade --to 1.5.16 --image {dir} " + FULL, 2),
    ("can-upgrade-malformed-facts", "can-upgrade --to 1.5.16 --facts {badfacts}", 2),
    ("can-upgrade-bad-option", "can-upgrade --to 1.5.16 --frm 1.5.06", 2),
    ("can-upgrade-image-untrusted-key", "can-upgrade --image {host_img} --acknowledge all "
     + SITE + " " + FULL, 1),
    # path
    ("path-found", "path --to 1.5.16 " + FULL, 0),
    ("path-none", "path --to 1.5.16 --from 1.5.06", 1),
    ("path-max-hops-zero", "path --to 1.5.16 --max-hops 0 " + FULL, 2),
    ("path-max-hops-text", "path --to 1.5.16 --max-hops many " + FULL, 2),
    ("path-no-target", "path " + FULL, 2),
    ("path-image-untrusted-key", "path --image {host_img} --to 1.5.16 " + SITE + " " + FULL, 1),
    ("path-multi-hop", "path --to 1.5.16 --from 1.5.01 --assume-unknown-ok", 0),
    # select
    ("select-found", "select " + FULL, 0),
    ("select-image-untrusted-key", "select --image {host_img} " + SITE + " " + FULL, 1),
    ("select-hops", "select --max-hops 3 " + FULL, 0),
    ("select-none", "select --from 1.5.06", 1),
    ("select-bad-remaining", "select --remaining lots " + FULL.replace("--remaining 12", ""), 2),
    ("select-unreadable-policy", "select --policy {missing} " + FULL, 2),
    # fleet
    ("fleet-ok", "fleet {fleet-ok} --to 1.5.16", 0),
    ("fleet-denied", "fleet {fleet-denied} --to 1.5.16", 1),
    ("fleet-select", "fleet {fleet-denied} --select", 1),
    ("fleet-malformed-line", "fleet {fleet-bad} --to 1.5.16", 2),
    ("fleet-missing", "fleet {missing} --to 1.5.16", 2),
    ("fleet-no-mode", "fleet {fleet-ok}", 2),
    ("fleet-both-modes", "fleet {fleet-ok} --to 1.5.16 --select", 2),
    # image
    ("image-inspect", "image inspect {img_img}", 0),
    ("image-inspect-pair", "image inspect {mod_sigstruct} --module {mod_bin}", 0),
    ("image-inspect-missing", "image inspect {missing}", 2),
    ("image-inspect-junk", "image inspect {junk_img}", 2),
    ("image-verify-ok", "image verify {img_img}", 0),
    ("image-verify-kernel-legacy", "image verify {img_img} --kernel legacy", 1),
    ("image-verify-bad", "image verify {bad_img}", 1),
    ("image-verify-dir", "image verify {dir}", 2),
    ("image-verify-empty", "image verify {empty}", 2),
    ("image-verify-bad-kernel", "image verify {img_img} --kernel newest", 2),
    ("image-convert", "image convert {img_blob} -o {out}", 0),
    ("image-convert-exists", "image convert {img_blob} -o {img_img}", 2),
    ("image-convert-missing", "image convert {missing} -o {out}", 2),
    ("image-convert-no-output", "image convert {img_blob}", 2),
    ("image-join", "image join --module {mod_bin} --sigstruct {mod_sigstruct} -o {out}", 0),
    ("image-join-missing", "image join --module {missing} --sigstruct {mod_sigstruct} -o {out}", 2),
    ("image-no-subcommand", "image frobnicate", 2),
    # probe
    ("probe-ok", "probe " + HOST, 0),
    ("probe-not-tdx", "probe --sysfs-root {nohost} --proc-root {nohost}", 3),
    ("probe-bad-option", "probe --sysfs {nohost}", 2),
    # preflight
    ("preflight-allowed", "preflight --to 1.5.16 --image {host_img} --acknowledge all "
     + SITE + " " + HOST, 0),
    ("preflight-to-only", "preflight --to 1.5.16 " + SITE + " " + HOST, 0),
    ("preflight-denied", "preflight --to 9.9.99 " + SITE + " " + HOST, 1),
    ("preflight-not-tdx", "preflight --to 1.5.16 --sysfs-root {nohost} --proc-root {nohost}", 3),
    ("preflight-no-target", "preflight " + HOST, 2),
    ("preflight-missing-image", "preflight --image {missing} " + HOST, 2),
    ("preflight-junk-image", "preflight --to 1.5.16 --image {junk_img} " + HOST, 2),
    ("preflight-bad-version", "preflight --to 1.x " + HOST, 2),
    # update
    ("update-dry-run", UPD + " --dry-run --acknowledge all", 0),
    ("update-unacknowledged", UPD + " --dry-run", 1),
    ("update-ok", UPD + " --acknowledge all", 0),
    ("update-module-lost", UPD.replace("{sysfs}", "{lost_sysfs}").replace("{proc}", "{lost_proc}")
     + " --acknowledge all", 4),
    ("update-not-tdx", "update --image {host_img} --sysfs-root {nohost} --proc-root {nohost} "
     "--record {record} --lock-file {lock}", 3),
    ("update-missing-image", "update --image {missing} --dry-run " + HOST, 2),
    ("update-no-image", "update --dry-run " + HOST, 2),
    ("update-timeout-zero", UPD + " --dry-run --timeout 0", 2),
    # audit
    # the embedded catalogue has warnings only (Intel's known gaps): they fail only when asked
    ("audit-findings", "audit --today {today} --fail-on warning", 1),
    ("audit-warnings-do-not-fail", "audit --today {today}", 0),
    ("audit-clean-images", "audit --no-default-policy --today {today}", 0),
    ("audit-bad-today", "audit --today yesterday", 2),
    ("audit-missing-policy", "audit --policy {missing} --today {today}", 2),
    ("audit-missing-images", "audit --images {missing} --today {today}", 2),
    # a file name too long for the file system: located exit 2, never a traceback
    ("lint-name-too-long", "lint {toolong}", 2),
    ("list-policy-name-too-long", "list --policy {toolong}", 2),
    ("show-policy-name-too-long", "show 1.5.16 --policy {toolong}", 2),
    ("graph-policy-name-too-long", "graph --policy {toolong}", 2),
    ("can-upgrade-policy-name-too-long", "can-upgrade --to 1.5.16 --policy {toolong} " + FULL, 2),
    ("audit-images-name-too-long", "audit --images {toolong} --today {today}", 2),
    ("audit-policy-name-too-long", "audit --policy {toolong} --today {today}", 2),
    ("image-verify-name-too-long", "image verify {toolong}", 2),
    ("fleet-name-too-long", "fleet {toolong} --to 1.5.16", 2),
    # no command
    ("unknown-command", "frobnicate", 2),
]


def _args(line: str, env: dict[str, str]) -> list[str]:
    return [a.format(**env) for a in line.split()]


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return int(code), out, err


def _codes(doc: Any) -> Iterator[str]:
    """Every check code anywhere in a document (``checks`` lists and ``failed`` lists)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ("checks", "findings") and isinstance(v, list):
                for c in v:
                    if isinstance(c, dict):
                        yield from (c[f] for f in ("code", "rule") if f in c)
            if k in ("failed", "blocking") and isinstance(v, list):
                yield from (c if isinstance(c, str) else c.get("code", "") for c in v)
            yield from _codes(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _codes(v)


def _check_document(doc: Any, command: str, registry: Registry, line: bool = False) -> None:
    assert isinstance(doc, dict), doc
    if "error" in doc and not line:
        err = doc["error"]
        assert set(doc) == {"error"}, doc
        assert isinstance(err.get("code"), str) and CODE_RE.match(err["code"]), err
        assert isinstance(err.get("message"), str) and err["message"], err
        validator(registry, "error.schema.json").validate(doc)
        return
    if line:
        # fleet's default lines are compact rows (docs/cli.md#fleet-contract, from 0.2)
        validator(registry, "fleet-row.schema.json").validate(doc)
    elif command == "probe":
        assert "tdxpolicy" not in doc or doc["tdxpolicy"]
        validator(registry, "probe.schema.json").validate(doc)
    else:
        tag = COMMAND_TAG[command]
        assert doc.get("tdxpolicy") == tag, (command, doc.get("tdxpolicy"))
        file, pointer = TAG_SCHEMA[tag]
        validator(registry, file, pointer).validate(doc)
    for code in _codes(doc):
        assert CODE_RE.match(code), f"check code {code!r} is not lower-case hyphenated"


@pytest.mark.parametrize("case_id, line, exit_code", TABLE, ids=[r[0] for r in TABLE])
def test_contract_json(case_id: str, line: str, exit_code: int, env: dict[str, str],
                       capsys: pytest.CaptureFixture[str], registry: Registry) -> None:
    args = _args(line, env) + ["--format", "json"]
    command = args[0]
    code, out, err = _run(capsys, args)
    assert code == exit_code, (code, out, err)
    assert "Traceback" not in out + err
    if command == "fleet" and code != 2 or case_id == "fleet-malformed-line":
        lines = out.splitlines()
        assert lines and all(lines), out
        for ln in lines:
            _check_document(json.loads(ln), command, registry, line=True)
        assert err.strip(), "fleet writes its summary to stderr"
        return
    doc = json.loads(out)  # exactly one document: json.loads refuses trailing data
    assert out.endswith("\n") and out.count("\n}\n") <= 1
    if code in (2, 3):
        assert set(doc) == {"error"}, doc
    _check_document(doc, command, registry)


@pytest.mark.parametrize("case_id, line, exit_code", TABLE, ids=[r[0] for r in TABLE])
def test_contract_text(case_id: str, line: str, exit_code: int, env: dict[str, str],
                       capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(line, env)
    code, out, err = _run(capsys, args)
    assert code == exit_code, (code, out, err)
    assert "Traceback" not in out + err
    if code in (2, 3) and args[0] != "fleet":
        # the error is a diagnostic: stderr, prefixed, never on stdout
        assert out == "", out
        assert err.startswith("tdxpolicy: "), err
        assert len(err.strip()) > len("tdxpolicy: "), err
    elif args[0] == "lint" and code == 0:
        # lint prints findings (none here) on stdout; its summary is a diagnostic on stderr
        assert out == "" and "clean" in err
    elif args[0] != "fleet":
        assert out.strip(), "results go to stdout"


def test_show_every_release_validates(capsys: pytest.CaptureFixture[str],
                                      registry: Registry) -> None:
    from tdxpolicy.sources import load_catalogue

    v = validator(registry, "catalogue.schema.json", "#/$defs/show")
    for release in load_catalogue([], include_default=True).releases:
        code, out, err = _run(capsys, ["show", release.version.text, "--format", "json"])
        assert code == 0, err
        v.validate(json.loads(out))
        code, out, err = _run(capsys, ["show", release.version.text])
        assert code == 0 and out.startswith("release ") and err == ""


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_fleet_read_error_mid_stream(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    # /proc/self/mem opens, then read() fails with EIO: exit 2 naming the file, no traceback
    code, out, err = _run(capsys, ["fleet", "/proc/self/mem", "--to", "1.5.16", "--format", fmt])
    assert code == 2
    if fmt == "json":
        doc = json.loads(out)
        assert doc["error"]["code"] == "unreadable"
        assert "/proc/self/mem" in doc["error"]["message"]
    else:
        assert out == "" and err.startswith("tdxpolicy: ") and "/proc/self/mem" in err


# --- error reporting in JSON however --format is spelled ----------------------------------------


@pytest.mark.parametrize("spelling", [["--format", "JSON"], ["--format=JSON"], ["--format=json"],
                                      ["--format", "Json"]])
def test_json_errors_whatever_the_case_of_format(
        spelling: list[str], capsys: pytest.CaptureFixture[str], registry: Registry) -> None:
    # --format is case-insensitive (typer case_sensitive=False): `--format JSON` gives JSON
    # results, so its errors must be JSON on stdout too, not text on stderr.
    code, out, err = _run(capsys, ["show", "garbage", *spelling])
    assert code == 2
    doc = json.loads(out)
    assert doc["error"]["code"] == "invalid-version"
    validator(registry, "error.schema.json").validate(doc)
    code, out, _ = _run(capsys, ["show", "1.5.16", *spelling])
    assert code == 0 and json.loads(out)["tdxpolicy"] == "show/1"


# --- check codes -------------------------------------------------------------------------------


def test_contract_check_codes_are_the_engines() -> None:
    from tdxpolicy.verdict import CheckCode

    engine = {c.value for c in CheckCode}
    for code in CONTRACT_CODES:
        assert code in engine, code
    for code in engine:
        assert CODE_RE.match(code), code


def _checks(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, str]:
    _, out, _ = _run(capsys, args + ["--format", "json"])
    doc = json.loads(out)
    codes = [c["code"] for c in doc["checks"]]
    assert len(codes) == len(set(codes)), codes
    return {c["code"]: c["result"] for c in doc["checks"]}


@pytest.mark.parametrize("args", [
    ["--to", "1.5.16", *FULL.split()],
    ["--to", "1.5.16", "--from", "1.5.06"],
    ["--to", "9.9.99", "--from", "8.8.88"],
    ["--to", "2.0.16", *FULL.split()],
])
def test_contract_check_codes_are_emitted(args: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Every check that ran is listed, with the contract's exact spelling."""
    seen = _checks(capsys, ["can-upgrade", *args])
    assert [c for c in CONTRACT_CODES if c not in seen] == []
    assert all(CODE_RE.match(c) for c in seen)


def test_codes_needing_a_site_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "site.tdxpolicy"
    doc.write_text(
        'format 1\nissued 2000-01-01\nexpires 2001-01-01\n\n'
        'release 7.0.01 {\n    svn 1.3\n    platforms 0x806F8\n    seamldr 2.0.00\n'
        '    handoff module 0 min 0\n    update from >= 7.0.00\n}\n'
        'release 7.0.02 {\n    svn 1.3\n    platforms 0x806F8\n    seamldr 2.0.00\n'
        '    handoff module 0 min 0\n    update from >= 7.0.00\n'
        '    deny from 7.0.01 "broken"\n    rollback to 7.0.01\n}\n')
    host = ["--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "3",
            "--policy", str(doc), "--no-default-policy"]
    up = _checks(capsys, ["can-upgrade", "--from", "7.0.01", "--to", "7.0.02", *host])
    assert up["policy-deny"] == "fail"
    assert up["policy-fresh"] in ("warn", "fail")
    back = _checks(capsys, ["can-upgrade", "--from", "7.0.02", "--to", "7.0.01", *host])
    assert back["rollback-rule"] == "pass" and back["same-series"] == "pass"


# --- the real executable -----------------------------------------------------------------------


def _exe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})


def test_no_arguments_is_usage_help_on_stderr() -> None:
    p = _exe(sys.executable, "-m", "tdxpolicy")
    assert p.returncode == 2
    assert p.stdout == ""
    assert "Usage" in p.stderr and "Traceback" not in p.stderr


def test_help_is_on_stdout_exit_0() -> None:
    p = _exe(sys.executable, "-m", "tdxpolicy", "--help")
    assert p.returncode == 0
    assert "can-upgrade" in p.stdout and p.stderr == ""


def test_console_script_json_error_and_result() -> None:
    import shutil

    exe = shutil.which("tdxpolicy")
    if exe is None:
        pytest.skip("console script not installed")
    p = _exe(exe, "can-upgrade", "--to", "nope", "--from", "1.5.06", "--format", "json")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert json.loads(p.stdout)["error"]["code"]
    p = _exe(exe, "can-upgrade", "--to", "1.5.16", *FULL.split(), "--format", "json")
    assert p.returncode == 0 and json.loads(p.stdout)["tdxpolicy"] == "verdict/1"


def test_fleet_stdin_json_lines() -> None:
    lines = "\n".join([
        json.dumps({"module_version": "1.5.06", "seamldr_version": "2.0.00",
                    "cpuid": ["0x806F8"], "num_remaining_updates": 12}),
        "{", ""]) + "\n"
    p = subprocess.run([sys.executable, "-m", "tdxpolicy", "fleet", "-", "--to", "1.5.16"],
                       input=lines, capture_output=True, text=True, timeout=60)
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert p.returncode == 2, p.stderr
    assert out[0]["allowed"] is True and out[0]["line"] == 1
    assert "error" in out[1] and out[1]["line"] == 2
    assert "Traceback" not in p.stderr and p.stderr.strip()
