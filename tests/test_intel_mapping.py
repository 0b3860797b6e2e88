"""Intel's mapping_file.json: the schema, the fast path, positions, real data, hostile input.

The schema (schemas/intel-mapping.schema.json) is the contract; ``_fast_valid`` is only an
accelerator and must never accept what the schema refuses. Positions come from a token scan
of the text, checked here against ``json``'s own decoder at every recorded offset.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdxpolicy.errors import InputError
from tdxpolicy.model import SourceKind
from tdxpolicy.resources import schema_path
from tdxpolicy.sources.intel import (
    MAX_SOURCE_BYTES,
    _fast_valid,
    _Positions,
    load_intel_file,
    mapping_schema_errors,
    parse_mapping_json,
)
from tdxpolicy.version import Version, VersionSet, parse_version

DATA = Path(__file__).parent / "data" / "intel"
SCHEMA = json.loads(schema_path("intel-mapping.schema.json").read_text(encoding="utf-8"))


def _release(v: str, m: str, s: list[str], f: str) -> dict[str, Any]:
    return {
        "version": v,
        "min_module_version_for_td_preserving": m,
        "min_seamldr_versions": s,
        "tdx_feature0": f,
    }


VALID: dict[str, Any] = {
    "Header": {"Copyright": "c", "Info": "i", "Version": "1.0"},
    "tdx_module_releases": [
        _release("1.5.01", "1.5.01", ["1.5.00"], "0xF0FBF"),
        _release("1.5.06", "1.5.01", ["1.5.00", "2.0.00"], "0x2E1F0FBF"),
        _release("2.0.04", "2.0.04", ["2.0.00"], "0x12AF1F0FBF"),
    ],
}


def _schema_errors(obj: Any) -> list[Any]:
    return list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(obj))


# --- the schema as a contract ---------------------------------------------------------------


def test_schema_is_draft_2020_12_with_id() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].endswith("/intel-mapping.schema.json")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_accepts_the_good_fixtures() -> None:
    for p in sorted((DATA / "good").glob("*.json")):
        if p.name.endswith(".expected.json"):
            continue
        obj = json.loads(p.read_bytes().decode("utf-8-sig"))
        assert _schema_errors(obj) == [], p.name
        assert _fast_valid(obj), p.name


def test_schema_accepts_intels_files(intel_dir: Path) -> None:
    for name in ("mapping_file.json", "history/mapping_file_2025-04.json"):
        obj = json.loads((intel_dir / name).read_text(encoding="utf-8"))
        assert _schema_errors(obj) == []
        assert _fast_valid(obj)


def test_fast_path_and_schema_give_the_same_document() -> None:
    data = json.dumps(VALID).encode()
    assert parse_mapping_json(data, "m.json") == parse_mapping_json(data, "m.json", use_schema=True)


# --- real data ------------------------------------------------------------------------------


def test_intel_mapping_all_releases(intel_dir: Path) -> None:
    """Every release of Intel's mapping file, checked against release-facts.json (gathered
    independently from the same repository)."""
    doc = load_intel_file(intel_dir / "mapping_file.json")
    assert doc.kind is SourceKind.MAPPING_JSON
    facts = json.loads((intel_dir / "release-facts.json").read_text())["releases"]
    expected = {r["version"]: r for r in facts if "min_module_version_for_td_preserving" in r}
    assert [b.version.text for b in doc.releases] == list(expected)
    assert len(doc.releases) == 11
    text = (intel_dir / "mapping_file.json").read_text().split("\n")
    for i, b in enumerate(doc.releases):
        e = expected[b.version.text]
        (rule,) = b.update_from
        assert rule.versions == VersionSet.at_least(
            parse_version(e["min_module_version_for_td_preserving"])
        )
        assert rule.source.path == f"$.tdx_module_releases[{i}].min_module_version_for_td_preserving"
        assert b.facts.seamldr is not None and b.facts.features0 is not None
        assert [v.text for v in b.facts.seamldr.value] == e["min_seamldr_versions"]
        assert b.facts.features0.value == int(e["tdx_feature0"], 16)
        assert b.facts.features0.source.path == f"$.tdx_module_releases[{i}].tdx_feature0"
        # The line:column of each rule points at the value in the file.
        loc = rule.source
        assert loc.line is not None and loc.column is not None
        cited = text[loc.line - 1][loc.column - 1 :]
        assert cited.startswith(f'"{e["min_module_version_for_td_preserving"]}"')
        assert b.source.path == f"$.tdx_module_releases[{i}]"


def test_intel_first_mapping_file_loads(intel_dir: Path) -> None:
    old = load_intel_file(intel_dir / "history" / "mapping_file_2025-04.json")
    new = load_intel_file(intel_dir / "mapping_file.json")
    assert [b.version.text for b in old.releases] == ["1.5.01", "1.5.05", "1.5.06"]
    for a, b in zip(old.releases, new.releases):
        assert a.version == b.version
        assert a.update_from[0].versions == b.update_from[0].versions
        assert a.facts.seamldr and b.facts.seamldr
        assert a.facts.seamldr.value == b.facts.seamldr.value
        assert a.facts.features0 and b.facts.features0
        assert a.facts.features0.value == b.facts.features0.value


# --- bad input beyond the fixtures ----------------------------------------------------------


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "mapping_file.json"
    with big.open("wb") as fh:  # sparse: 50 MB without writing them
        fh.write(b'{"Header": {"Version": "1.0"}, "tdx_module_releases": [')
        fh.truncate(50 * 1000 * 1000)
    with pytest.raises(InputError) as info:
        load_intel_file(big)
    assert info.value.message == (
        f"{big}: file is too large (47.7 MiB): Intel's files are a few KiB, the limit is 16 MiB"
    )


def test_huge_bytes_are_refused() -> None:
    data = b" " * (MAX_SOURCE_BYTES + 1)
    with pytest.raises(InputError) as info:
        parse_mapping_json(data, "big.json")
    assert info.value.message == (
        "big.json: file is too large (16.0 MiB): Intel's files are a few KiB, the limit is 16 MiB"
    )


def test_deep_nesting_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        parse_mapping_json(b"[" * 200_000, "deep.json")
    assert info.value.message == "deep.json:1:1: the JSON is nested too deeply to be a mapping file"


def test_all_errors_are_reported_at_once() -> None:
    obj = json.loads(json.dumps(VALID))
    for r in obj["tdx_module_releases"]:
        r["tdx_feature0"] = 1
    with pytest.raises(InputError) as info:
        parse_mapping_json(json.dumps(obj, indent=1).encode(), "m.json")
    paths = [p.location.path for p in info.value.problems if p.location]
    assert paths == [f"$.tdx_module_releases[{i}].tdx_feature0" for i in range(3)]
    j = info.value.to_json()["error"]["problems"][0]
    assert j["location"] == {
        "file": "m.json",
        "line": 14,  # '   "tdx_feature0": 1': the value starts in column 20
        "column": 20,
        "path": "$.tdx_module_releases[0].tdx_feature0",
    }


def test_lone_surrogate_in_a_value_is_reported_printably() -> None:
    obj = json.loads(json.dumps(VALID))
    text = json.dumps(obj).replace('"1.5.06"', '"\\ud800"', 1)
    with pytest.raises(InputError) as info:
        parse_mapping_json(text.encode(), "s.json")
    rendered = info.value.render()
    rendered.encode("utf-8")  # printable: no lone surrogate reaches the terminal
    assert 'got "\\ud800"' in rendered


# --- positions ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def _walk(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_walk(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_walk(v, path + (i,)))
    return out


@given(json_values, st.sampled_from([None, 0, 2, "\t"]), st.booleans())
def test_positions_point_at_every_value(value: Any, indent: Any, ascii_only: bool) -> None:
    """The token scan finds each value where json's decoder finds it."""
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    pos = _Positions(text)
    decoder = json.JSONDecoder()
    for path, v in _walk(value):
        off = pos.offset(path)
        assert off is not None
        assert decoder.raw_decode(text, off)[0] == v
        line, col = pos.line_col(off)
        assert text.split("\n")[line - 1][col - 1 :] == text[off:].split("\n")[0]
    assert pos.duplicate_keys == []


def test_positions_find_duplicate_keys() -> None:
    pos = _Positions('{"a": {"b": 1, "c": 2, "b": 3}, "a": []}')
    assert [(p, off) for p, off in pos.duplicate_keys] == [(("a", "b"), 23), (("a",), 32)]


# --- Hypothesis: hostile mutations never escape as anything but InputError -------------------

VALID_TEXT = json.dumps(VALID, indent=2).encode()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_byte_mutations_raise_only_input_error(data: st.DataObject) -> None:
    raw = bytearray(VALID_TEXT)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "delete" and raw:
            del raw[i : i + data.draw(st.integers(1, 8))]
        elif op == "insert":
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[i:]
    try:
        doc = parse_mapping_json(bytes(raw), "m.json")
    except InputError as e:
        assert e.problems and all(p.location is not None for p in e.problems)
        e.render().encode("utf-8")
    else:
        assert doc.kind is SourceKind.MAPPING_JSON


def _mutate(obj: Any, draw: Any) -> Any:
    """Replace, delete or add one thing somewhere in a JSON value."""
    paths = [p for p, _ in _walk(obj)]
    path = draw(st.sampled_from(paths))
    replacement = draw(json_values | st.sampled_from(["1.5.06", "0xFF", "1.0", "2.0.100", "x"]))
    if not path:
        return replacement
    parent = obj
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[key] = replacement
    elif action == "delete":
        del parent[key]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["version", "x", "Version", "tdx_feature0"]))] = replacement
    else:
        parent.insert(key, replacement)
    return obj


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_structural_mutations_fast_path_is_sound(data: st.DataObject) -> None:
    """Whatever the mutation: only InputError escapes, the fast path never accepts what the
    schema refuses, and forcing the schema gives the same outcome."""
    obj = json.loads(json.dumps(VALID))
    for _ in range(data.draw(st.integers(1, 3))):
        obj = _mutate(obj, data.draw)
    if _fast_valid(obj):
        assert _schema_errors(obj) == []
    raw = json.dumps(obj, indent=1).encode()
    outcomes = []
    for use_schema in (False, True):
        try:
            outcomes.append(parse_mapping_json(raw, "m.json", use_schema=use_schema))
        except InputError as e:
            assert all(p.location is not None for p in e.problems)
            outcomes.append(e.render())
    assert outcomes[0] == outcomes[1]


def test_schema_errors_are_all_located_with_paths() -> None:
    obj: Any = {"Header": {"Version": 2}, "tdx_module_releases": [{"version": 3}, 7]}
    text = json.dumps(obj, indent=2)
    problems = mapping_schema_errors(obj, text, "m.json")
    got = [(p.location.path, p.location.line, p.message) for p in problems if p.location]
    assert got == [
        ("$.Header.Version", 3, 'unsupported mapping format version 2: tdxpolicy reads Intel\'s format "1.0"'),
        ("$.tdx_module_releases[0]", 6, "missing key 'min_module_version_for_td_preserving': a release needs version, min_module_version_for_td_preserving, min_seamldr_versions, tdx_feature0"),
        ("$.tdx_module_releases[0]", 6, "missing key 'min_seamldr_versions': a release needs version, min_module_version_for_td_preserving, min_seamldr_versions, tdx_feature0"),
        ("$.tdx_module_releases[0]", 6, "missing key 'tdx_feature0': a release needs version, min_module_version_for_td_preserving, min_seamldr_versions, tdx_feature0"),
        ("$.tdx_module_releases[0].version", 7, 'expected a version like "1.5.06", got number 3'),
        ("$.tdx_module_releases[1]", 9, "expected a release object with version, min_module_version_for_td_preserving, min_seamldr_versions and tdx_feature0, got number 7"),
    ]


def test_generated_mapping_round_trip() -> None:
    """Random valid mappings give exactly the releases they were written from."""
    rng = random.Random(7)
    rels = []
    seen: set[tuple[int, int, int]] = set()
    while len(rels) < 200:
        major, minor, upd = rng.choice([(1, 5), (2, 0), (3, 1)]) + (rng.randrange(0, 300),)
        if (major, minor, upd) in seen:
            continue
        seen.add((major, minor, upd))
        v = f"{major}.{minor}.{upd:02d}"
        m = f"{major}.{minor}.{rng.randrange(0, upd + 1):02d}"
        s = sorted({f"{a}.{b}.{rng.randrange(0, 9):02d}" for a, b in rng.sample([(1, 5), (2, 0)], 2)})
        f = hex(rng.getrandbits(64))
        rels.append((v, m, s, f))
    obj = {"Header": {"Version": "1.0"}, "tdx_module_releases": [_release(*r) for r in rels]}
    doc = parse_mapping_json(json.dumps(obj).encode(), "gen.json")
    for (v, m, s, f), b in zip(rels, doc.releases, strict=True):
        assert b.version == parse_version(v)
        assert b.update_from[0].versions == VersionSet.at_least(parse_version(m))
        assert b.facts.seamldr and tuple(b.facts.seamldr.value) == tuple(Version.parse(x) for x in s)
        assert b.facts.features0 and b.facts.features0.value == int(f, 16)
