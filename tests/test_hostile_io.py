"""Hostile input, the I/O side (issue #15): names that are not UTF-8 under every locale,
a special file in place of a sysfs attribute, JSON mode that always leaves one document on
stdout, ``-`` for standard input and output, ``-o DIR``.

Locale cases run the real console entry in a subprocess (``python -m tdxpolicy``) so that
Python's own stream set-up for ``LC_ALL``/``PYTHONIOENCODING`` is what is tested; the rest run
in process through tests/fuzzing.py's ``run_cli`` (strict UTF-8 streams, stdin as bytes).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import imagekit
from fuzzing import run_cli
from simkernel import SimKernel, signed_image
from tdxpolicy.cli import image_cmds

REPO = Path(__file__).resolve().parent.parent
RELEASE = REPO / "tdxpolicy" / "data" / "releases" / "tdx_module_1.5.16.tdxpolicy"
BAD = b"bad\xff.tdxpolicy"  # not UTF-8: Python holds it as 'bad\udcff.tdxpolicy'
SHOWN = "bad\\xff.tdxpolicy"  # how every output writes it


def _locales() -> set[str]:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    except OSError:
        return set()
    return {line.strip().lower().replace("utf-8", "utf8") for line in out.splitlines()}


def _envs() -> list[Any]:
    have = _locales()
    envs: list[Any] = [
        pytest.param({"LC_ALL": "C"}, id="LC_ALL=C"),
        pytest.param({"LC_ALL": "C.UTF-8"}, id="C.UTF-8"),
        pytest.param({"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
                     id="C-ascii-no-coercion"),
        pytest.param({"PYTHONIOENCODING": "utf-8"}, id="PYTHONIOENCODING=utf-8"),
        pytest.param({"PYTHONIOENCODING": "ascii"}, id="PYTHONIOENCODING=ascii"),
        pytest.param({"PYTHONIOENCODING": "latin-1:strict"}, id="PYTHONIOENCODING=latin-1"),
    ]
    marks = [] if "en_us.utf8" in have else [pytest.mark.skip(reason="no en_US.UTF-8 locale")]
    envs.append(pytest.param({"LC_ALL": "en_US.UTF-8"}, id="en_US.UTF-8", marks=marks))
    return envs


def _cli(args: list[Any], env: dict[str, str], cwd: Path,
         stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("LC_", "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONCOERCE"))}
    base.update(env)
    base["LANG"] = env.get("LC_ALL", "C.UTF-8")
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "tdxpolicy", *args], capture_output=True,
                          cwd=cwd, env=base, input=stdin, timeout=120)


@pytest.fixture(scope="module")
def badname_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("names")
    (Path(os.fsdecode(os.fsencode(str(d)) + b"/" + BAD))).write_bytes(RELEASE.read_bytes())
    return d


BAD_ARG = os.fsdecode(BAD)

# (argv, expected exit, output is JSON)
COMMANDS = [
    pytest.param(["show", "1.5.16", "--no-default-policy", "--policy", BAD_ARG], 0, False,
                 id="show-text"),
    pytest.param(["show", "1.5.16", "--no-default-policy", "--policy", BAD_ARG,
                  "--format", "json"], 0, True, id="show-json"),
    pytest.param(["lint", BAD_ARG, "--format", "json"], 0, True, id="lint-json"),
    pytest.param(["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--policy", BAD_ARG,
                  "--format", "json"], 1, True, id="verdict-json"),
    pytest.param(["audit", "--no-default-policy", "--policy", BAD_ARG, "--format", "json",
                  "--today", "2026-01-01", "--fail-on", "warning"], 1, True, id="audit-json"),
    pytest.param(["audit", "--no-default-policy", "--policy", BAD_ARG, "--format", "sarif",
                  "--today", "2026-01-01", "--fail-on", "warning"], 1, True, id="audit-sarif"),
    pytest.param(["audit", "--no-default-policy", "--policy", BAD_ARG,
                  "--today", "2026-01-01", "--fail-on", "warning"], 1, False, id="audit-text"),
    pytest.param(["show", "9.9.9", "--policy", BAD_ARG, "--format", "json"], 2, True,
                 id="error-json"),
]


@pytest.mark.parametrize("env", _envs())
@pytest.mark.parametrize("args, code, is_json", COMMANDS)
def test_a_name_that_is_not_utf8_under_every_locale(
        env: dict[str, str], args: list[str], code: int, is_json: bool,
        badname_dir: Path) -> None:
    p = _cli(args, env, badname_dir)
    assert b"Traceback" not in p.stderr, p.stderr.decode("utf-8", "replace")
    assert p.returncode == code, p.stderr.decode("utf-8", "replace")
    ascii_only = "ascii" in str(env.values()) or "latin-1" in str(env.values()) or (
        env.get("PYTHONCOERCECLOCALE") == "0")
    for stream in (p.stdout, p.stderr):
        text = stream.decode("ascii" if ascii_only else "utf-8")  # valid, never raw \xff
        assert "\udcff" not in text and "\ufffd" not in text
    out = p.stdout.decode("utf-8")
    if is_json:
        doc = json.loads(out)
        flat = json.dumps(doc, ensure_ascii=False)
        if args[0] == "audit" and "sarif" in args:
            assert '"uri": "bad%FF.tdxpolicy"' in flat
        elif code != 2:
            assert json.dumps(SHOWN)[1:-1] in flat  # the escaped name, as a JSON string
    else:
        assert SHOWN in out


def test_audit_fingerprints_do_not_depend_on_the_locale(badname_dir: Path) -> None:
    args = ["audit", "--no-default-policy", "--policy", BAD_ARG, "--format", "json",
            "--today", "2026-01-01"]
    prints = set()
    for env in ({"LC_ALL": "C.UTF-8"}, {"PYTHONIOENCODING": "ascii"}):
        doc = json.loads(_cli(args, env, badname_dir).stdout)
        prints.add(tuple(f["fingerprint"] for f in doc["findings"]))
    assert len(prints) == 1 and all(len(f) == 32 for f in next(iter(prints)))


@pytest.mark.parametrize("env", _envs())
def test_fleet_error_line_with_a_lone_surrogate_host(env: dict[str, str],
                                                      tmp_path: Path) -> None:
    lines = (b'{"host": "\\ud800-bad", "module_version": "zz"}\n'
             b'{"host": "caf\\u00e9", "module_version": "1.5.06"}\n')
    p = _cli(["fleet", "-", "--to", "1.5.16", "--assume-unknown-ok"], env, tmp_path,
             stdin=lines)
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    out = p.stdout.decode("ascii").splitlines()  # fleet's host echo is ASCII JSON escapes
    first, second = (json.loads(line) for line in out)
    # echoed exactly as given, the same way an answered line echoes its host
    assert out[0].startswith('{"host":"\\ud800-bad","line":1,')
    assert first["action"] == "error" and first["error"]["code"] == "invalid-host-facts"
    assert second["host"] == "café" and second["action"] == "update"


def test_safe_text_spellings() -> None:
    from tdxpolicy.safe_text import ascii_json, dumps, os_bytes, shown

    assert shown("a\udcffb\ud800") == "a\\xffb\\ud800"
    assert shown("plain é") == "plain é"
    assert os_bytes("bad\udcff") == b"bad\xff"
    assert os_bytes("\ud800") == "\ud800".encode("utf-8", "surrogatepass")
    text = dumps({"f": "bad\udcff", "k\udc80": "é😀"}, indent=None)
    assert json.loads(text) == {"f": "bad\\xff", "k\\x80": "é😀"}
    assert json.loads(ascii_json(text)) == json.loads(text) and ascii_json(text).isascii()


# --- a special file in place of a sysfs attribute ---------------------------------------------


def _plant_socket(path: Path) -> None:
    path.unlink()
    os.mknod(path, 0o600 | stat.S_IFSOCK)


@pytest.mark.parametrize("attribute", ["version", "seamldr_version"])
def test_socket_in_place_of_an_attribute_is_unreadable_host_facts(
        attribute: str, tmp_path: Path) -> None:
    """ENXIO from a socket is not a lost module: probe, preflight and update all say the
    host facts are unreadable (exit 3); none tells the operator to reboot."""
    sim = SimKernel(tmp_path)
    _plant_socket(sim.version_path if attribute == "version" else sim.seamldr_path)
    roots = ["--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc)]
    image = tmp_path / "image.bin"
    image.write_bytes(signed_image(0x200)[0])
    runs = {
        "probe": run_cli(["probe", "--format", "json", *roots]),
        "preflight": run_cli(["preflight", "--to", "1.5.16", "--format", "json", *roots]),
        "update": run_cli(["update", "--image", str(image), "--format", "json",
                           "--record", str(tmp_path / "rec.jsonl"),
                           "--lock-file", str(tmp_path / "lock"), *roots]),
    }
    for name, r in runs.items():
        assert r.code == 3, (name, r.stdout, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["error"]["code"] == "bad-host-data", (name, doc)
        assert "not a regular file" in doc["error"]["message"]
        assert "reboot" not in doc["error"]["message"]
    record = json.loads((tmp_path / "rec.jsonl").read_text().splitlines()[-1])
    assert record["outcome"] == "host-unavailable"


def test_read_back_says_module_lost_only_for_a_regular_attribute(tmp_path: Path) -> None:
    from tdxpolicy.host.probe import probe
    from tdxpolicy.host.upload import _read_back, _Readback

    sim = SimKernel(tmp_path)
    before = probe(sim.sysfs, sim.proc, sim)
    sim.module_lost = True  # the kernel's attribute fails with ENXIO: the module is gone
    rb = _Readback()
    _read_back(sim, before, rb)
    assert rb.module_lost
    sim.module_lost = False
    _plant_socket(sim.version_path)  # same errno from a socket: not the module
    rb = _Readback()
    _read_back(sim, before, rb)
    assert not rb.module_lost and rb.version_error is not None and "ENXIO" in rb.version_error


# --- JSON mode: exactly one document on stdout, whatever happens --------------------------------


@pytest.mark.parametrize("args", [
    ["can-upgrade", "--format", "json", "--bogus"],
    ["can-upgrade", "--format", "json", "--max-hops"],
    ["path", "--from", "1.5.06", "--to", "1.5.16", "--max-hops", "0", "--format=JSON"],
    ["image", "verify", "--format", "json"],
    ["image", "bogus", "--format", "json"],
    ["bogus", "--format", "json"],
    ["fleet", "--format", "json"],
    ["audit", "--format", "json", "--today", "x"],
    ["show", "--format", "json"],
    ["lint", "--format", "json"],
])
def test_usage_errors_are_json(args: list[str]) -> None:
    r = run_cli(args)
    assert r.code == 2 and r.stderr == b""
    doc = json.loads(r.stdout)
    assert doc["error"]["code"] == "usage" and doc["error"]["message"]


def test_the_last_format_wins_for_errors_too() -> None:
    r = run_cli(["can-upgrade", "--format", "json", "--format", "text", "--to", "x"])
    assert r.code == 2 and r.stdout == b"" and r.stderr.startswith(b"tdxpolicy: ")
    r = run_cli(["can-upgrade", "--format", "text", "--format", "json", "--to", "x"])
    assert r.code == 2 and json.loads(r.stdout)["error"]["code"] == "invalid-flag"


def test_an_error_after_output_started_leaves_one_document(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tdxpolicy.codecs import list as list_codec
    from tdxpolicy.errors import InputError

    real = list_codec.release_list_to_json

    def half_then_fail(*args: Any, **kwargs: Any) -> Any:
        sys.stdout.write('{"tdxpolicy": "list/1", "releases": [')  # output has started
        raise InputError("a late failure", code="invalid-input")

    monkeypatch.setattr(list_codec, "release_list_to_json", half_then_fail)
    r = run_cli(["list", "--format", "json"])
    assert r.code == 2
    assert json.loads(r.stdout) == {"error": {"code": "invalid-input", "message": "a late failure",
                                              "problems": [{"message": "a late failure"}]}}
    monkeypatch.setattr(list_codec, "release_list_to_json", real)
    assert json.loads(run_cli(["list", "--format", "json"]).stdout)["tdxpolicy"] == "list/1"


def test_an_interrupt_in_json_mode_is_a_json_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tdxpolicy.codecs import list as list_codec

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        sys.stdout.write("{")
        raise KeyboardInterrupt

    from tdxpolicy.render import text

    monkeypatch.setattr(list_codec, "release_list_to_json", interrupted)
    r = run_cli(["list", "--format", "json"])
    assert r.code == 130 and json.loads(r.stdout)["error"]["code"] == "interrupted"
    monkeypatch.setattr(text, "release_list_text", interrupted)
    r = run_cli(["list"])
    # text mode writes as it goes: what was written stays, the interrupt is said on stderr
    assert r.code == 130 and r.stdout == b"{" and r.stderr == b"tdxpolicy: interrupted\n"


# --- '-': standard input and output -----------------------------------------------------------


def test_lint_and_policy_read_stdin() -> None:
    doc = RELEASE.read_bytes()
    r = run_cli(["lint", "-", "--format", "json"], stdin=doc)
    assert r.code == 0, r.stdout
    assert json.loads(r.stdout)["documents"] == ["<stdin>"]
    r = run_cli(["show", "1.5.16", "--no-default-policy", "--policy", "-"], stdin=doc)
    assert r.code == 0 and b"declared at: <stdin>:" in r.stdout
    r = run_cli(["lint", "-"], stdin=b"format 1\nrelease 1.5.x {\n}\n")
    assert r.code == 2 and r.stderr.startswith(b"tdxpolicy: <stdin>:")


def test_intel_mapping_file_from_stdin(intel_dir: Path) -> None:
    data = (intel_dir / "mapping_file.json").read_bytes()
    r = run_cli(["list", "--no-default-policy", "--policy", "-", "--format", "json"], stdin=data)
    assert r.code == 0 and len(json.loads(r.stdout)["releases"]) > 5


def test_stdin_is_size_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from tdxpolicy import sources

    monkeypatch.setattr(sources, "MAX_SOURCE_BYTES", 100)
    monkeypatch.setattr("tdxpolicy.sources.document.MAX_DOCUMENT_BYTES", 100)
    r = run_cli(["lint", "-", "--format", "json"], stdin=b"#" * 101)
    assert r.code == 2 and json.loads(r.stdout)["error"]["code"] == "input-too-large"


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_cmds, "TRUSTED_KEY_HASHES", (imagekit.test_key().key_hash,))


def test_image_verify_reads_stdin(trusted: None) -> None:
    data = signed_image(0x200)[0]
    r = run_cli(["image", "verify", "-", "--format", "json"], stdin=data)
    assert r.code == 0, r.stdout
    assert json.loads(r.stdout)["path"] == "<stdin>"


def test_convert_to_stdout(trusted: None, tmp_path: Path) -> None:
    src = tmp_path / "in.blob"
    src.write_bytes(signed_image(0x100)[0])
    r = run_cli(["image", "convert", str(src), "-o", "-"])
    assert r.code == 0, r.stderr
    assert r.stdout[:2] == b"\x00\x02"  # the 0x200 header, little-endian
    back = run_cli(["image", "verify", "-", "--format", "json"], stdin=r.stdout)
    assert back.code == 0 and json.loads(back.stdout)["format"] == "0x200"
    assert r.stderr.startswith(b"wrote <stdout>: converted from 0x100, format 0x200")
    r = run_cli(["image", "convert", str(src), "-o", "-", "--format", "json"])
    assert r.code == 2 and json.loads(r.stdout)["error"]["code"] == "usage"


@pytest.mark.parametrize("command", ["convert", "join"])
def test_output_into_a_directory_is_refused(command: str, trusted: None,
                                            tmp_path: Path) -> None:
    module = imagekit.make_module(4)
    sig = imagekit.make_sigstruct(module)
    (tmp_path / "in.blob").write_bytes(imagekit.blob_0x100(sig, module))
    (tmp_path / "m.bin").write_bytes(module)
    (tmp_path / "m.sigstruct").write_bytes(sig)
    out = tmp_path / "outdir"
    out.mkdir()
    args = (["image", "convert", str(tmp_path / "in.blob")] if command == "convert" else
            ["image", "join", "--module", str(tmp_path / "m.bin"),
             "--sigstruct", str(tmp_path / "m.sigstruct")])
    for force in ([], ["--force"]):
        r = run_cli([*args, "-o", str(out), *force])
        assert r.code == 2 and r.stdout == b""
        assert r.stderr.decode() == (
            f"tdxpolicy: {out}: this is a directory; give the name of the image file to "
            f"write, e.g. {out / 'tdx_module.bin'}\n")
        assert list(out.iterdir()) == []
