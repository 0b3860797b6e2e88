"""The document parser on inputs built in the test: values, locations, the ugly inputs the
issue lists (BOM, CRLF, non-UTF-8, empty, 50 MB), and the CLI never showing a traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tdxpolicy.cli import main
from tdxpolicy.errors import InputError
from tdxpolicy.model import Handoff, Location, StatusKind, Svn
from tdxpolicy.sources import load_documents
from tdxpolicy.sources.document import (
    MAX_DOCUMENT_BYTES,
    decode_document,
    looks_like_document,
    parse_document,
)
from tdxpolicy.version import Op, Version

EXAMPLE = """\
# Intel TDX module 1.5.16
format 1
issued  2026-02-10
expires 2027-02-10
source  "https://github.com/intel/confidential-computing.tdx.tdx-module.binaries"

release 1.5.16 {
    published   2025-02-19
    mrseam      0x7BF063280E94FB051F5DD7B1FC59CE9AAC42BB961DF8D44B709C9B0FF87A7B4DF648657BA6D1189589FEAB1D5A3C9A9D
    svn         1.11
    platforms   0x806F8 0xC06F0 0xA06F0     # CPUID.1.EAX values; stepping is ignored
    seamldr     1.5.00 2.0.00               # each: same major.minor, update >= this
    features0   0x226F3F0FBF
    handoff     module 0 min 0              # module_hv, min_update_hv; may add: no-downgrade

    update from >= 1.5.01
    advisory td-build "Do not update while a TD build is in progress: the TD's measurement may be corrupted."
}
"""


def test_format_example_parses_with_every_location() -> None:
    """The example of policy-format.md, verbatim."""
    doc = parse_document(EXAMPLE, "ex.tdxpolicy")
    assert doc.meta.issued is not None and doc.meta.issued.value == dt.date(2026, 2, 10)
    assert doc.meta.issued.source == Location("ex.tdxpolicy", 3, 1)
    (b,) = doc.releases
    assert b.version == Version(1, 5, 16) and b.source == Location("ex.tdxpolicy", 7, 1)
    f = b.facts
    assert f.published is not None and f.published.value == dt.date(2025, 2, 19)
    assert f.mrseam is not None and f.mrseam.value.startswith("7BF06328") and len(f.mrseam.value) == 96
    assert f.svn is not None and f.svn.value == Svn(1, 11)
    assert f.platforms is not None and f.platforms.value == (0x806F8, 0xC06F0, 0xA06F0)
    assert f.seamldr is not None and [v.text for v in f.seamldr.value] == ["1.5.00", "2.0.00"]
    assert f.features0 is not None and f.features0.value == 0x226F3F0FBF
    assert f.handoff is not None and f.handoff.value == Handoff(0, 0, False)
    assert f.debug is None and f.status is None and f.seamhash is None
    lines = {name: s.source.line for name, s in f.items()}
    assert lines == {"published": 8, "mrseam": 9, "svn": 10, "platforms": 11, "seamldr": 12,
                     "features0": 13, "handoff": 14}
    assert all(s.source.column == 5 for _, s in f.items())
    (u,) = b.update_from
    assert u.source == Location("ex.tdxpolicy", 16, 5)
    assert [(c.op, c.version) for c in u.versions.clauses] == [(Op.GE, Version(1, 5, 1))]
    (a,) = b.advisories
    assert a.word == "td-build" and a.text.endswith("may be corrupted.")


def test_extensions_and_rules() -> None:
    text = (
        "format 1\n"
        'deny to >= 1.5.13, <= 1.5.14 "site blocklist"\n'
        "release 2.0.05 {\n"
        "  seamhash 0x" + "ab" * 48 + "\n"
        "  debug\n"
        '  status preview "pre-production"\n'
        "  handoff module 2 min 1 no-downgrade\n"
        '  deny from <= 2.0.02 "too old"\n'
        "  rollback to 2.0.04\n"
        "  update from 2.0.*\n"
        "  update from any\n"
        "}\n"
    )
    doc = parse_document(text, "x")
    (d,) = doc.deny_to
    assert d.reason == "site blocklist" and Version(1, 5, 14) in d.versions
    assert Version(1, 5, 15) not in d.versions  # clauses joined by ',' must ALL hold
    assert Version(1, 5, 12) not in d.versions
    b = doc.releases[0]
    assert b.facts.seamhash is not None and b.facts.seamhash.value == "AB" * 48
    assert b.facts.debug is not None and b.facts.debug.value is True
    assert b.facts.status is not None and b.facts.status.value.kind is StatusKind.PREVIEW
    assert b.facts.handoff is not None and b.facts.handoff.value == Handoff(2, 1, True)
    assert len(b.update_from) == 2 and b.deny_from[0].reason == "too old"
    assert Version(2, 0, 4) in b.rollback_to[0].versions
    assert Version(2, 0, 99) in b.update_from[0].versions
    assert Version(1, 5, 99) not in b.update_from[0].versions


def test_string_escapes() -> None:
    doc = parse_document('format 1\nsource "a \\"b\\" c \\\\ d"\n', "x")
    assert doc.meta.origin is not None and doc.meta.origin.value == 'a "b" c \\ d'


def test_version_text_kept_but_compared_as_integers() -> None:
    doc = parse_document("format 1\nrelease 1.5.6 {\n}\nrelease 1.5.006 {\n}\n", "x")
    a, b = doc.releases
    assert a.version == b.version and (a.version.text, b.version.text) == ("1.5.6", "1.5.006")


def test_parse_document_refuses_crlf_and_bom_text_too() -> None:
    with pytest.raises(InputError, match=r"^x:1:9: CRLF line ends found; save the file with LF"):
        parse_document("format 1\r\n", "x")
    with pytest.raises(InputError, match="byte-order mark"):
        parse_document("\ufeffformat 1\n", "x")
    with pytest.raises(InputError, match=r"^x:2:1: a carriage return \(CR\) found"):
        parse_document("format 1\n\rrelease 1.5.01 {}\n", "x")


def test_decode_reports_the_byte_location() -> None:
    with pytest.raises(InputError) as ei:
        decode_document(b"format 1\nsource \"\xc3\x28\"\n", "f")
    (p,) = ei.value.problems
    assert p.location == Location("f", 2, 9, offset=17)
    assert p.message == "byte 0xC3 is not valid UTF-8; save the file as UTF-8"


def test_fifty_megabyte_file_refused_without_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.tdxpolicy"
    with big.open("wb") as fh:
        fh.write(b"format 1\n")
        fh.write((b"# padding" + b" " * 90 + b"\n") * (50 * 1024 * 1024 // 100))
    assert big.stat().st_size > 50 * 1000 * 1000
    with pytest.raises(InputError) as ei:
        load_documents([big])
    assert ei.value.message == (
        f"{big}: file is 50.0 MiB; a policy source may be at most 16 MiB (is this the right file?)"
    )
    with pytest.raises(InputError, match=r"file is 50\.0 MiB; a policy document may be at most 16"):
        decode_document(big.read_bytes(), "big.tdxpolicy")
    assert MAX_DOCUMENT_BYTES == 16 * 1024 * 1024


def test_fifty_megabyte_file_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.tdxpolicy"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    assert main(["show", "1.5.16", "--policy", str(big)]) == 2
    out, err = capsys.readouterr()
    assert "at most 16 MiB" in err and "Traceback" not in out + err


def test_just_under_the_limit_is_read(tmp_path: Path) -> None:
    ok = tmp_path / "ok.tdxpolicy"
    body = b"format 1\n" + b"#" * 1000 + b"\n"
    ok.write_bytes(body)
    (doc,) = load_documents([ok])
    assert doc.releases == ()


def test_sniffing() -> None:
    assert looks_like_document(b"# c\n\nformat 1\n")
    assert looks_like_document(b"format\t1")
    assert not looks_like_document(b"formatting\n")
    assert not looks_like_document(b'{"Header": {}}')


def test_load_documents_by_content_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a.tdxpolicy").write_text("format 1\nrelease 1.5.01 {\n}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.policy.md").write_text("format 1\nrelease 1.5.05 {\n}\n")
    (tmp_path / "notes.txt").write_text("not a source")
    (tmp_path / ".hidden.tdxpolicy").write_text("garbage")
    docs = load_documents([tmp_path])
    assert [Path(d.file).name for d in docs] == ["a.tdxpolicy", "b.policy.md"]
    # named explicitly, a file is sniffed by content whatever its name
    plain = tmp_path / "site.txt"
    plain.write_text("format 1\n")
    assert load_documents([plain])[0].file == str(plain)


def test_unreadable_and_unsupported(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        load_documents([tmp_path / "missing.tdxpolicy"])
    assert ei.value.message == f"{tmp_path / 'missing.tdxpolicy'}: cannot read " \
        f"{tmp_path / 'missing.tdxpolicy'}: no such file or directory"
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(InputError, match="no policy sources in directory"):
        load_documents([empty_dir])
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(InputError, match="unsupported file kind"):
        load_documents([other])


def test_nothing_half_loaded(tmp_path: Path) -> None:
    (tmp_path / "a.tdxpolicy").write_text("format 1\nrelease 1.5.01 {\n}\n")
    (tmp_path / "b.tdxpolicy").write_text("format 1\nrelease 1.5.01 {\n  svn 1\n}\n")
    with pytest.raises(InputError, match=r"b\.tdxpolicy:3:7: expected an SVN like 1\.11"):
        load_documents([tmp_path])


@pytest.mark.parametrize(
    "argv",
    [
        ["show"],
        ["show", "not-a-version"],
        ["show", "9.9.99"],
        ["show", "1.5.16", "--policy", "/nonexistent/x.tdxpolicy"],
        ["graph", "--format", "png"],
        ["lint"],
        ["lint", "/nonexistent"],
    ],
)
def test_cli_bad_input_exit_2_no_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.startswith("tdxpolicy: ") or "Usage" in err or "Missing" in err


def test_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.tdxpolicy"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as ei:
        load_documents([fifo])
    assert ei.value.message == f"{fifo}: cannot read {fifo}: not a regular file"
    (tmp_path / "a.tdxpolicy").write_text("format 1\n")
    assert [Path(d.file).name for d in load_documents([tmp_path])] == ["a.tdxpolicy"]
