"""Issue #2, "done when": Intel's mapping JSON, its README table and the embedded documents
give identical rules for the releases they share, and merging all of Intel's sources with
the embedded catalogue raises no conflict.

Proved twice: on Intel's real files (``intel_dir``), and on files generated here from one
Python table (so the proof runs without ../shared too).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tdxpolicy.catalogue import merge
from tdxpolicy.errors import ConflictError
from tdxpolicy.model import PolicyDocument, ReleaseBlock
from tdxpolicy.sources import embedded_documents, load_catalogue, load_documents
from tdxpolicy.sources.document import parse_document
from tdxpolicy.sources.intel import (
    load_intel_file,
    parse_mapping_json,
    parse_mrseam_table,
    parse_readme_table,
)
from tdxpolicy.version import Version, VersionSet


def rules(doc: PolicyDocument | list[PolicyDocument]) -> dict[Version, dict[str, Any]]:
    """Per release: the update-from version sets and the P-SEAMLDR set (the rules that decide
    a move), plus features0 where the source gives it."""
    docs = doc if isinstance(doc, list) else [doc]
    out: dict[Version, dict[str, Any]] = {}
    for d in docs:
        for b in d.releases:
            out[b.version] = _block_rules(b)
    return out


def _block_rules(b: ReleaseBlock) -> dict[str, Any]:
    return {
        "update_from": frozenset(u.versions for u in b.update_from),
        "seamldr": frozenset(v.key for v in b.facts.seamldr.value) if b.facts.seamldr else None,
        "features0": b.facts.features0.value if b.facts.features0 else None,
    }


def _without_features(r: dict[Version, dict[str, Any]]) -> dict[Version, dict[str, Any]]:
    return {v: {k: x for k, x in d.items() if k != "features0"} for v, d in r.items()}


# --- Intel's real files ---------------------------------------------------------------------


def test_intel_sources_and_embedded_documents_agree(intel_dir: Path) -> None:
    mapping = rules(load_intel_file(intel_dir / "mapping_file.json"))
    readme = rules(load_intel_file(intel_dir / "README.md"))
    embedded = rules(list(embedded_documents()))
    shared = set(mapping) & set(readme) & set(embedded)
    assert len(shared) == 11 and shared == set(mapping) == set(readme)
    for v in sorted(shared):
        assert mapping[v]["update_from"], v  # there is a rule to compare
        assert mapping[v]["update_from"] == readme[v]["update_from"] == embedded[v]["update_from"], v
        assert mapping[v]["seamldr"] == readme[v]["seamldr"] == embedded[v]["seamldr"], v
        assert mapping[v]["features0"] == embedded[v]["features0"], v
    # Releases Intel gives no update policy for have none in the embedded catalogue.
    for v in set(embedded) - shared:
        assert embedded[v]["update_from"] == frozenset(), v


def test_merging_every_intel_source_with_the_embedded_catalogue(intel_dir: Path) -> None:
    paths = [
        intel_dir / "mapping_file.json",
        intel_dir / "README.md",
        intel_dir / "tdx-module-releases.md",
        intel_dir / "history" / "mapping_file_2025-04.json",
    ]
    cat = load_catalogue(paths)  # raises ConflictError on any disagreement
    assert len(cat) == 18
    r = cat.get(Version.parse("2.0.05"))
    assert r is not None
    # rules accumulate: the embedded document, the README and the mapping each say it
    assert {u.source.file.rsplit("/", 1)[-1] for u in r.update_from} == {
        "tdx_module_2.0.05.tdxpolicy",
        "README.md",
        "mapping_file.json",
    }
    assert r.facts.status is not None  # agreed between the README and the embedded document
    # The whole directory (mixed kinds; release-facts.json is not a source and is skipped).
    assert len(load_catalogue([intel_dir])) == 18
    kinds = sorted(d.kind.value for d in load_documents([intel_dir]))
    assert kinds == ["mapping-json", "mapping-json", "mrseam-table", "readme-table"]


# --- generated: one Python table, three renderings ------------------------------------------

RELEASES = [
    # version, min running, seamldr, features0
    ("1.5.01", "1.5.01", ["1.5.00"], 0xF0FBF),
    ("1.5.06", "1.5.01", ["1.5.00", "2.0.00"], 0x2E1F0FBF),
    ("1.5.16", "1.5.06", ["1.5.00", "2.0.00"], 0x226F3F0FBF),
    ("1.5.100", "1.5.16", ["1.5.03"], 0x1),
    ("2.0.04", "2.0.04", ["2.0.00"], 0x12AF1F0FBF),
    ("2.0.08", "2.0.04", ["2.0.00", "2.0.01"], 0x32A71F0FBF),
]
MRSEAM = {v: f"{i:02X}" * 48 for i, (v, *_rest) in enumerate(RELEASES)}


def _write_sources(tmp: Path) -> dict[str, Path]:
    mapping = {
        "Header": {"Copyright": "generated", "Info": "test", "Version": "1.0"},
        "tdx_module_releases": [
            {
                "version": v,
                "min_module_version_for_td_preserving": m,
                "min_seamldr_versions": s,
                "tdx_feature0": f"0x{f:X}",
            }
            for v, m, s, f in RELEASES
        ],
    }
    (tmp / "mapping_file.json").write_text(json.dumps(mapping, indent="\t"), encoding="utf-8")
    rows = "\n".join(f"  | {v} | {m} | {', '.join(s)} |" for v, m, s, _ in RELEASES)
    (tmp / "README.md").write_text(
        "## Important Notes\n\n- Intel TDX module limitations for TD-Preserving update:\n\n"
        "  | Intel TDX Module to be Updated | Minimum Version of Existing Running Intel TDX "
        "Module | Supported SEAMLDR Versions |\n  |---|---|---|\n" + rows + "\n",
        encoding="utf-8",
    )
    mrows = "\n".join(f"| [{v}](https://example.invalid/{v}) | 0x{h} |" for v, h in MRSEAM.items())
    (tmp / "tdx-module-releases.md").write_text(
        "| Version | MRSEAM |\n|---|---|\n" + mrows + "\n", encoding="utf-8"
    )
    docs = tmp / "docs"
    docs.mkdir()
    for v, m, s, f in RELEASES:
        (docs / f"tdx_module_{v}.tdxpolicy").write_text(
            f"format 1\nrelease {v} {{\n    mrseam 0x{MRSEAM[v].lower()}\n"
            f"    seamldr {' '.join(s)}\n    features0 0x{f:X}\n    update from >= {m}\n}}\n",
            encoding="utf-8",
        )
    return {"mapping": tmp / "mapping_file.json", "readme": tmp / "README.md",
            "mrseam": tmp / "tdx-module-releases.md", "docs": docs}


def test_generated_sources_give_identical_rules(tmp_path: Path) -> None:
    p = _write_sources(tmp_path)
    mapping = rules(parse_mapping_json(p["mapping"].read_bytes(), "mapping_file.json"))
    readme = rules(parse_readme_table(p["readme"].read_text(), "README.md"))
    documents = rules(
        [parse_document(f.read_text(), f.name) for f in sorted(p["docs"].iterdir())]
    )
    expected = {
        Version.parse(v): {
            "update_from": frozenset({VersionSet.at_least(Version.parse(m))}),
            "seamldr": frozenset(Version.parse(x).key for x in s),
            "features0": f,
        }
        for v, m, s, f in RELEASES
    }
    assert mapping == documents == expected
    assert _without_features(readme) == _without_features(expected)
    mrseam = parse_mrseam_table(p["mrseam"].read_text(), "tdx-module-releases.md")
    assert {b.version.text: b.facts.mrseam.value for b in mrseam.releases if b.facts.mrseam} == MRSEAM


def test_generated_sources_merge_without_conflict(tmp_path: Path) -> None:
    p = _write_sources(tmp_path)
    cat = load_catalogue([p["mapping"], p["readme"], p["mrseam"], p["docs"]], include_default=False)
    assert [r.version.text for r in cat] == [v for v, *_ in RELEASES]
    for r in cat:
        assert len(r.update_from) == 3  # mapping, README, document: rules accumulate
        assert r.facts.mrseam is not None and r.facts.features0 is not None


def test_a_disagreeing_source_is_a_conflict(tmp_path: Path) -> None:
    """The other side of the proof: a README that differs in a fact does not merge."""
    p = _write_sources(tmp_path)
    text = p["readme"].read_text().replace("| 1.5.00, 2.0.00 |", "| 1.5.00 |", 1)
    readme = parse_readme_table(text, "README.md")
    mapping = parse_mapping_json(p["mapping"].read_bytes(), "mapping_file.json")
    with pytest.raises(ConflictError) as info:
        merge([mapping, readme])
    assert info.value.problems[0].message == (
        "release 1.5.06: fact 'seamldr' is declared with different values: "
        "1.5.00 2.0.00 at mapping_file.json:19:28 ($.tdx_module_releases[1].min_seamldr_versions), "
        "1.5.00 at README.md:8:23"
    )
