"""Intel's Markdown tables (README TD-preserving limitations, MRSEAM releases), sniffing and
loading of every Intel kind."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdxpolicy.errors import InputError
from tdxpolicy.model import SourceKind, StatusKind
from tdxpolicy.sources import intel_notes
from tdxpolicy.sources.intel import (
    SNIFF_BYTES,
    load_intel_file,
    parse_mrseam_table,
    parse_readme_table,
    sniff_kind,
)
from tdxpolicy.version import VersionSet, parse_version

DATA = Path(__file__).parent / "data" / "intel"


def _cited(text: str, line: int | None, column: int | None) -> str:
    assert line is not None and column is not None
    return text.split("\n")[line - 1][column - 1 :]


# --- real data ------------------------------------------------------------------------------


def test_intel_readme_table(intel_dir: Path) -> None:
    """The README's 11 rows agree with release-facts.json; the two notes become the status
    and the advisory with exactly the text the embedded documents quote."""
    text = (intel_dir / "README.md").read_text(encoding="utf-8")
    doc = parse_readme_table(text, "README.md")
    facts = json.loads((intel_dir / "release-facts.json").read_text())["releases"]
    expected = {r["version"]: r for r in facts if "min_module_version_for_td_preserving" in r}
    assert [b.version.text for b in doc.releases] == list(expected)
    assert len(doc.releases) == 11
    for b in doc.releases:
        e = expected[b.version.text]
        (rule,) = b.update_from
        assert rule.versions == VersionSet.at_least(
            parse_version(e["min_module_version_for_td_preserving"])
        )
        assert b.facts.seamldr is not None
        assert [v.text for v in b.facts.seamldr.value] == e["min_seamldr_versions"]
        # every location points at its cell's text
        assert _cited(text, b.source.line, b.source.column).startswith(b.version.text + " ")
        assert _cited(text, rule.source.line, rule.source.column).startswith(
            e["min_module_version_for_td_preserving"]
        )
        assert _cited(text, b.facts.seamldr.source.line, b.facts.seamldr.source.column).startswith(
            ", ".join(e["min_seamldr_versions"])
        )
        (adv,) = b.advisories
        assert (adv.word, adv.text) == ("td-build", intel_notes.TD_BUILD_ADVISORY)
        assert _cited(text, adv.source.line, adv.source.column).startswith("Performing TD Preserving")
        if b.version.series == (2, 0):
            assert b.facts.status is not None
            assert b.facts.status.value.kind is StatusKind.PREVIEW
            assert b.facts.status.value.reason == intel_notes.SERIES_2_0_STATUS
        else:
            assert b.facts.status is None


def test_intel_mrseam_table(intel_dir: Path) -> None:
    text = (intel_dir / "tdx-module-releases.md").read_text(encoding="utf-8")
    doc = parse_mrseam_table(text, "tdx-module-releases.md")
    facts = json.loads((intel_dir / "release-facts.json").read_text())["releases"]
    expected = {r["version"]: r["mrseam_published"] for r in facts if "mrseam_published" in r}
    assert len(doc.releases) == 17
    assert {b.version.text: b.facts.mrseam.value for b in doc.releases if b.facts.mrseam} == {
        v: m[2:].upper() for v, m in expected.items()
    }
    assert "2.0.05" not in {b.version.text for b in doc.releases}  # a known gap in Intel's data
    for b in doc.releases:
        assert b.update_from == () and b.advisories == ()
        assert b.facts.mrseam is not None
        assert _cited(text, b.source.line, b.source.column).startswith(b.version.text)
        hexcell = _cited(text, b.facts.mrseam.source.line, b.facts.mrseam.source.column)
        assert hexcell.startswith("0x" + b.facts.mrseam.value)


@pytest.mark.parametrize(
    "name,kind,count",
    [
        ("mapping_file.json", SourceKind.MAPPING_JSON, 11),
        ("history/mapping_file_2025-04.json", SourceKind.MAPPING_JSON, 3),
        ("README.md", SourceKind.README_TABLE, 11),
        ("tdx-module-releases.md", SourceKind.MRSEAM_TABLE, 17),
    ],
)
def test_intel_files_are_recognised_and_loaded(
    intel_dir: Path, name: str, kind: SourceKind, count: int
) -> None:
    path = intel_dir / name
    head = path.read_bytes()
    assert sniff_kind(path, head[:SNIFF_BYTES]) is kind
    # A caller that passes only 4 KiB still gets the README recognised (its table is further in).
    assert sniff_kind(path, head[:4096]) is kind
    doc = load_intel_file(path)
    assert (doc.kind, len(doc.releases), doc.file) == (kind, count, str(path))


def test_release_facts_json_is_not_a_mapping(intel_dir: Path) -> None:
    path = intel_dir / "release-facts.json"
    assert sniff_kind(path, path.read_bytes()) is None


# --- sniffing on generated files ------------------------------------------------------------


@pytest.mark.parametrize(
    "name,head,kind",
    [
        ("a.tdxpolicy", b"", SourceKind.DOCUMENT),
        ("site.txt", b"# my site\n\n  format 1\nrelease 1.5.06 {}\n", SourceKind.DOCUMENT),
        ("site.txt", b"\xef\xbb\xbfformat 1\n", SourceKind.DOCUMENT),
        ("site.txt", b"formatting 1\n", None),
        ("m.json", b'{"Header": {}, "tdx_module_releases": []}', SourceKind.MAPPING_JSON),
        ("m.json", b'{"Header": {', SourceKind.MAPPING_JSON),  # truncated: gets JSON errors
        ("mapping", b'  {"tdx_module_releases": []}', SourceKind.MAPPING_JSON),
        ("facts.json", b'{"module_version": "1.5.06"}', None),
        ("x.json", b"[1, 2]", None),
        ("r.md", b"| Intel TDX Module to be Updated | Minimum Version of Existing Running "
         b"Intel TDX Module | Supported SEAMLDR Versions |\n", SourceKind.README_TABLE),
        ("r.txt", b"| a | Minimum Version | SEAMLDR |\n", SourceKind.README_TABLE),
        ("m.md", b"| Version | MRSEAM |\n|---|---|\n", SourceKind.MRSEAM_TABLE),
        ("notes.md", b"# Notes\n\n| a | b |\n|---|---|\n", None),
        ("blob.bin", b"\x00\x01TDX-BLOB", None),
    ],
)
def test_sniff_kind(tmp_path: Path, name: str, head: bytes, kind: SourceKind | None) -> None:
    path = tmp_path / name
    path.write_bytes(head)
    assert sniff_kind(path, head) is kind


def test_sniff_reads_further_into_long_markdown(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    table = (DATA / "good" / "readme.md").read_bytes()
    path.write_bytes(b"filler line\n" * 2000 + table)
    assert sniff_kind(path, path.read_bytes()[:4096]) is SourceKind.README_TABLE


def test_load_unknown_and_unreadable(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n")
    with pytest.raises(InputError) as info:
        load_intel_file(notes)
    assert info.value.message == (
        f"{notes}:1:1: not a policy source: expected a policy document (.tdxpolicy, 'format 1'), "
        "Intel's mapping_file.json, Intel's binaries README (TD-preserving table) or "
        "tdx-module-releases.md (MRSEAM table)"
    )
    with pytest.raises(InputError) as info:
        load_intel_file(tmp_path / "missing.json")
    assert info.value.message == (
        f"{tmp_path / 'missing.json'}: cannot read the file: No such file or directory"
    )


def test_load_document_kind_goes_to_the_document_parser(tmp_path: Path) -> None:
    p = tmp_path / "site.tdxpolicy"
    p.write_text('format 1\nrelease 1.5.06 {\n    update from >= 1.5.01\n}\n')
    doc = load_intel_file(p)
    assert doc.kind is SourceKind.DOCUMENT
    assert [str(u.versions) for u in doc.releases[0].update_from] == [">= 1.5.01"]


# --- generated tables -----------------------------------------------------------------------


def _readme(rows: list[tuple[str, str, str]], rng: random.Random) -> str:
    def cell(s: str) -> str:
        return " " * rng.randrange(0, 4) + s + " " * rng.randrange(0, 6)

    indent = " " * rng.randrange(0, 4)
    out = [f"{indent}|{cell('Intel TDX Module to be Updated')}|{cell('Minimum Version')}|"
           f"{cell('Supported SEAMLDR Versions')}|",
           f"{indent}|---|:---:|---|"]
    for v, m, s in rows:
        out.append(f"{indent}|{cell(v)}|{cell(m)}|{cell(s)}|")
    return "# t\n\n" + "\n".join(out) + "\n"


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.booleans())
def test_generated_readme_positions(rng: random.Random, crlf: bool) -> None:
    """Random padding and indentation: every location still points at its cell's text."""
    rows = []
    for upd in rng.sample(range(1, 200), 5):
        minimum = rng.randrange(0, upd + 1)
        ldr = ", ".join(rng.sample(["1.5.00", "2.0.00", "1.5.03"], rng.randrange(1, 4)))
        rows.append((f"1.5.{upd:02d}", f"1.5.{minimum:02d}", ldr))
    text = _readme(rows, rng)
    if crlf:
        text = text.replace("\n", "\r\n")
    doc = parse_readme_table(text, "g.md")
    assert len(doc.releases) == 5
    for (v, m, s), b in zip(rows, doc.releases):
        assert b.version.text == v
        assert _cited(text, b.source.line, b.source.column).startswith(v)
        u = b.update_from[0]
        assert u.versions == VersionSet.at_least(parse_version(m))
        assert _cited(text, u.source.line, u.source.column).startswith(m)
        assert b.facts.seamldr is not None
        assert [x.text for x in b.facts.seamldr.value] == s.split(", ")


README_TEXT = (DATA / "good" / "readme.md").read_text(encoding="utf-8")
MRSEAM_TEXT = (DATA / "good" / "releases.mrseam.md").read_text(encoding="utf-8")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(["readme", "mrseam"]), st.data())
def test_text_mutations_raise_only_input_error(which: str, data: st.DataObject) -> None:
    text = README_TEXT if which == "readme" else MRSEAM_TEXT
    parse = parse_readme_table if which == "readme" else parse_mrseam_table
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(chars) - 1))
        op = data.draw(st.sampled_from(["set", "delete", "insert"]))
        piece = data.draw(st.sampled_from(["|", "-", "\n", " ", "1", ".", "*", "x", "\r", "[", ":"]))
        if op == "set":
            chars[i] = piece
        elif op == "delete":
            del chars[i]
        else:
            chars.insert(i, piece)
    try:
        parse("".join(chars), "t.md")
    except InputError as e:
        assert e.problems and all(p.location is not None for p in e.problems)
