"""Hostile input (issue 15, parse side): a located exit 2 instead of a traceback, no
backtracking blow-ups, bounded memory for host facts, and a terminal left alone.

Each test feeds the input that used to misbehave; the comment says what it did before.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factories import V, block, catalogue, options
from tdxpolicy.cli import main
from tdxpolicy.errors import InputError, Problem, printable, quote_source
from tdxpolicy.fleet import FleetDecider, run_fleet
from tdxpolicy.model import Location, ReleaseBlock, SourceKind
from tdxpolicy.sources import intel, load_document
from tdxpolicy.sources.document import parse_document
from tdxpolicy.codecs.hostfacts import MAX_FACTS_BYTES, parse_facts_text
from tdxpolicy.sources.jsontext import overlong_integer

REPO = Path(__file__).resolve().parent.parent
BIG = "9" * 5000  # past int()'s 4,300-digit limit


def _seconds(fn: object, *args: object) -> float:
    t0 = time.perf_counter()
    try:
        fn(*args)  # type: ignore[operator]
    except InputError:
        pass
    return time.perf_counter() - t0


def _readme(rows: list[str]) -> str:
    return (
        "## Intel TDX module limitations for TD-Preserving update\n\n"
        "| Intel TDX Module to be Updated | Minimum Version of Existing Running Intel TDX Module "
        "| Supported SEAMLDR Versions |\n|---|---|---|\n" + "".join(rows)
    )


# --- numbers past int()'s digit limit: located range errors ------------------------------------


@pytest.mark.parametrize(
    "text, line, column",
    [
        (f"format {BIG}\n", 1, 8),
        (f"format 1\nrelease 1.5.06 {{\n  handoff module {BIG} min 1\n}}\n", 3, 18),
        (f"format 1\nrelease 1.5.06 {{\n  handoff module 1 min {BIG}\n}}\n", 3, 24),
    ],
)
def test_document_number_with_5000_digits_is_a_located_range_error(
    text: str, line: int, column: int
) -> None:
    # before: ValueError "Exceeds the limit (4300 digits)" from int(), a traceback
    with pytest.raises(InputError) as exc:
        parse_document(text, "big.tdxpolicy")
    (p,) = exc.value.problems
    assert (p.location.line, p.location.column) == (line, column)  # type: ignore[union-attr]
    assert "out of range" in p.message


def test_mapping_json_with_5000_digit_number_is_located(tmp_path: Path) -> None:
    # before: json raised a plain ValueError that only JSONDecodeError/RecursionError escaped
    text = ('{"Header": {"Version": "1.0"},\n "tdx_module_releases": [{"version": "1.5.06",\n'
            f'   "n": {BIG}}}]}}')
    f = tmp_path / "mapping_file.json"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        load_document(f)
    (p,) = exc.value.problems
    assert (p.location.line, p.location.column) == (3, 9)  # type: ignore[union-attr]
    assert "5000 digits" in p.message and "out of range" in p.message
    assert main(["lint", str(f)]) == 2


def test_overlong_integer_skips_strings_and_floats() -> None:
    text = '{"a": "' + "1" * 5000 + '", "b": ' + "2" * 5000 + '.5, "c": [' + "3" * 4400 + "]}"
    offset, digits = overlong_integer(text)  # type: ignore[misc]
    assert digits == 4400 and text[offset - 1] == "["


def test_host_facts_file_with_5000_digit_number_is_located() -> None:
    with pytest.raises(InputError) as exc:
        parse_facts_text('{"host": "a",\n "num_remaining_updates": ' + BIG + "}", "f.json")
    (p,) = exc.value.problems
    assert (p.location.line, p.location.column) == (2, 27)  # type: ignore[union-attr]
    assert "5000 digits" in p.message


# --- duplicate keys in host facts: refused, located ----------------------------------------------


def test_host_facts_with_a_duplicate_key_are_refused() -> None:
    # before: accepted, the last one won: decided from 1.5.06 while the file says 1.5.16 first
    text = '{"module_version": "1.5.16",\n "module_version": "1.5.06"}'
    with pytest.raises(InputError) as exc:
        parse_facts_text(text, "f.json")
    (p,) = exc.value.problems
    assert str(p.location) == "f.json:2:2 ($.module_version)"
    assert p.message.startswith('duplicate key "module_version"')
    import tdxpolicy

    with pytest.raises(InputError):
        tdxpolicy.host_facts_from_json(text)


def test_fleet_line_with_a_duplicate_key_is_an_error_line() -> None:
    cat = catalogue(*_two_releases())
    good = json.dumps({"module_version": "9.1.00", "seamldr_version": "9.0.00",
                       "cpuid": ["0x806F8"], "num_remaining_updates": 3})
    dup = good[:-1] + ', "module_version": "9.1.02"}'
    d = FleetDecider(cat, options(), target=V("9.1.02"), file="h.jsonl")
    # the good line first, so the duplicate would hit the fast path's cache if it let it through
    out = [json.loads(x) for x in d.lines([good.encode() + b"\n", dup.encode() + b"\n"])]
    assert out[0]["allowed"] is True
    err = out[1]["error"]
    assert err["code"] == "invalid-host-facts"
    assert err["problems"][0]["location"] == {
        "file": "h.jsonl", "line": 2, "column": good.index("}") + 3, "path": "$.module_version"}


def _two_releases() -> list[ReleaseBlock]:
    return [block(v, svn=svn, platforms=["0x806F8"], seamldr=["9.0.00"], handoff=(0, 0),
                  update_from=[">= 9.1.00"]) for v, svn in (("9.1.00", "4.1"), ("9.1.02", "4.2"))]


# --- no backtracking ---------------------------------------------------------------------------


def test_sniffing_crlf_comment_lines_is_linear() -> None:
    # before: 26 lines of "#\r\n" then "x": 7.7 s (every line matched two ways)
    head = b"#\r\n" * 60 + b"x"
    assert _seconds(intel.sniff_kind, Path("notes.md"), head) < 1.0
    assert intel.sniff_kind(Path("notes.md"), b"#\r\n" * 60 + b"x") is None
    assert intel.sniff_kind(Path("a.txt"), b"# c\r\n\r\n  # d\r\nformat 1\r\n") is SourceKind.DOCUMENT


def test_readme_header_sniffing_is_linear() -> None:
    # before: one line "| minimum version" + 32,000 '|': 3.4 s
    line = ("| minimum version" + "|" * 32000).encode()
    assert _seconds(intel._sniff_markdown, line) < 1.0
    assert intel._sniff_markdown(line) is None
    many = ("| minimum version |" * 4000 + "\n").encode() * 4
    assert _seconds(intel._sniff_markdown, many) < 1.0
    assert intel._sniff_markdown(b"| Minimum  Version | x | SEAMLDR |") is SourceKind.README_TABLE
    assert intel._sniff_markdown(b"| minimum version\n| seamldr |") is None


def test_readme_notes_and_mrseam_footnotes_are_linear_and_unchanged() -> None:
    note = "- " + "1.2 versions " * 20000 + "\n"
    rows = ["| 2.0.02 | 2.0.00 | 2.0.00 |\n"]
    t = _seconds(intel.parse_readme_table, _readme(rows) + "\n" + note, "R.md")
    assert t < 2.0
    doc = intel.parse_readme_table(
        _readme(rows) + "\n- Intel TDX module 2.0 versions are currently not supported.\n", "R.md")
    assert doc.releases[0].facts.status is not None
    doc = intel.parse_readme_table(_readme(rows) + "\n- " + "9" * 5000 + ".0 versions not supported\n",
                                   "R.md")  # no int() of 5000 digits
    assert doc.releases[0].facts.status is None
    mrseam = "| Version | MRSEAM |\n|---|---|\n| 1.5.28** | 0x" + "A" * 96 + " |\n"
    (rel,) = intel.parse_mrseam_table(mrseam, "m.md").releases
    assert rel.version == V("1.5.28")
    stars = "| Version | MRSEAM |\n|---|---|\n| 1" + "*" * 30000 + "x | 0x" + "A" * 96 + " |\n"
    assert _seconds(intel.parse_mrseam_table, stars, "m.md") < 2.0


def test_many_problems_on_one_long_line_render_in_linear_time() -> None:
    # before: Problem.render expanded tabs over the whole line once per problem (8,000 bad
    # releases of a one-line mapping: 5.6 s), and each problem copied the line
    rel = ('{"version":"x","min_module_version_for_td_preserving":"1.5.01",'
           '"min_seamldr_versions":["1.5.00"],"tdx_feature0":"0x1"}')
    text = '{"Header":{"Version":"1.0"},\n"tdx_module_releases":[' + ",".join([rel] * 2000) + "]}"
    with pytest.raises(InputError) as exc:
        intel.parse_mapping_json(text.encode(), "m.json")
    problems = exc.value.problems
    assert len(problems) == 2000
    # every problem quotes the same string object, not its own copy of the line
    assert len({id(p.source_line) for p in problems}) == 1
    t0 = time.perf_counter()
    rendered = exc.value.render()
    assert time.perf_counter() - t0 < 1.0
    assert max(len(x) for x in rendered.splitlines()) < 400


def test_host_facts_with_20000_bad_cpuid_entries_are_fast() -> None:
    # before: each problem rescanned and re-split the whole text (10 s)
    text = '{\n"cpuid": [\n' + ",\n".join('"zz"' for _ in range(20000)) + "]}"
    with pytest.raises(InputError) as exc:
        t0 = time.perf_counter()
        parse_facts_text(text, "f.json")
    assert time.perf_counter() - t0 < 3.0
    assert len(exc.value.problems) == 20000
    assert str(exc.value.problems[-1].location) == "f.json:2:1 ($.cpuid[19999])"


# --- bounded memory: host facts and fleet lines -------------------------------------------------


def _run_limited(args: list[str], stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child with 1 GiB of address space: reading /dev/zero whole would die."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from tdxpolicy.cli import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60, stdin=stdin, env=env, cwd=REPO)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_facts_from_dev_zero_stop_at_the_limit() -> None:
    # before: --facts /dev/zero grew to 7.7 GB in 4 s
    p = _run_limited(["can-upgrade", "--to", "1.5.16", "--facts", "/dev/zero"])
    assert p.returncode == 2, p.stderr
    assert "1024 KiB" in p.stderr and "Traceback" not in p.stderr
    with open("/dev/zero", "rb") as zero:
        p = _run_limited(["can-upgrade", "--to", "1.5.16", "--facts", "-"], stdin=zero.fileno())
    assert p.returncode == 2 and "1024 KiB" in p.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_fleet_from_dev_zero_stops_at_the_limit() -> None:
    # before: fleet /dev/zero grew to 3 GB
    for args, stdin in ((["/dev/zero"], None), (["-"], "/dev/zero")):
        if stdin is None:
            p = _run_limited(["fleet", "--to", "1.5.16", *args])
        else:
            with open(stdin, "rb") as zero:
                p = _run_limited(["fleet", "--to", "1.5.16", *args], stdin=zero.fileno())
        assert p.returncode == 2, p.stderr
        (line,) = p.stdout.splitlines()
        err = json.loads(line)["error"]
        assert err["code"] == "invalid-host-facts" and "1024 KiB" in err["message"]
        assert "stopped at line 1" in p.stderr


def test_fleet_lines_up_to_the_limit_pass_and_one_past_it_stops_the_run() -> None:
    cat = catalogue(*_two_releases())
    good = json.dumps({"module_version": "9.1.00", "seamldr_version": "9.0.00",
                       "cpuid": ["0x806F8"], "num_remaining_updates": 3})
    pad = MAX_FACTS_BYTES - len(good) - len(', "host": ""')
    exact = good[:-1] + ', "host": "' + "h" * pad + '"}'
    assert len(exact) == MAX_FACTS_BYTES
    over = exact[:-2] + 'hh"}'
    stream = io.BytesIO(f"{good}\n{exact}\n{over}\n{good}\n".encode())
    out = io.BytesIO()
    summary = run_fleet(stream, out, cat, options(), target=V("9.1.02"), file="h.jsonl")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["line"] for x in lines] == [1, 2, 3]
    assert lines[0]["allowed"] and lines[1]["allowed"]
    assert lines[2]["error"]["message"].startswith("h.jsonl:3: the line is larger than 1024 KiB")
    assert summary.exit_code == 2 and summary.stopped_at == 3


def test_facts_file_one_byte_over_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "f.json"
    f.write_text('{"host": "' + "h" * (MAX_FACTS_BYTES - 11) + '"}')
    assert f.stat().st_size == MAX_FACTS_BYTES + 1
    assert main(["can-upgrade", "--to", "1.5.16", "--facts", str(f)]) == 2
    assert "larger than 1024 KiB" in capsys.readouterr().err


# --- terminal safety ------------------------------------------------------------------------------


def test_quoted_source_line_escapes_control_characters_and_keeps_the_caret() -> None:
    # before: the raw line was printed: ESC ] 0 ; title BEL retitled the terminal
    src = "  bogus \x1b]0;pwned\x07 \x1b[2J \u202e x\tX\n"
    p = Problem("unknown statement", Location("a.tdxpolicy", 4, src.index("X") + 1), src)
    head, shown, caret = p.render().split("\n")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown + caret)
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202e" in shown
    assert shown[len(caret) - 1] == "X" and caret.strip() == "^"


def test_quote_window_follows_the_column_on_a_long_line() -> None:
    line = "a" * 5000 + "\x1bB" + "c" * 5000
    shown, caret = quote_source(line, 5002)
    assert shown.startswith("...") and shown.endswith("...") and len(shown) < 260
    assert shown[len(caret) - 1] == "B"
    shown, caret = quote_source("abc", 99)  # past the end: just after the last character
    assert (shown, caret) == ("abc", "   ^")
    assert printable("tab\there") == "tab here" and printable("\x00\x9b\ud800") == "\\x00\\x9b\\ud800"


def test_lint_of_a_binary_or_escape_laden_file_prints_no_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blob = tmp_path / "blob.tdxpolicy"
    blob.write_bytes(bytes(range(256)) * 4)
    esc = tmp_path / "esc.tdxpolicy"
    esc.write_bytes(b"format 1\nrelease 1.5.06 {\n  \x1b]0;pwned\x07 \x1b[2J\n}\n")
    for f in (blob, esc):
        assert main(["lint", str(f)]) == 2
        err = capsys.readouterr().err
        assert err.strip()
        assert not [c for c in err if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)], err
