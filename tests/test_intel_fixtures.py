"""Data-driven tests of Intel's three source kinds: every file under tests/data/intel/.

- ``good/<name>`` parses; ``good/<name>.expected.json`` is the document it must give (every
  fact and rule with its value and location).
- ``bad/<name>`` is refused with an :class:`InputError`; ``bad/<name>.err`` is the exact
  rendered error (every problem: ``file:line:column (json path): message``, source line, caret).

The parser is chosen by name: ``*.json`` mapping JSON, ``*.mrseam.md`` MRSEAM table, other
``*.md`` README table. To regenerate the golden files after a deliberate change, run with
``TDXPOLICY_REGEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tdxpolicy.errors import InputError
from tdxpolicy.model import Location, PolicyDocument
from tdxpolicy.sources.intel import (
    decode_utf8,
    parse_mapping_json,
    parse_mrseam_table,
    parse_readme_table,
)

DATA = Path(__file__).parent / "data" / "intel"
REGEN = os.environ.get("TDXPOLICY_REGEN") == "1"


def _inputs(kind: str) -> list[Path]:
    return sorted(
        p
        for p in (DATA / kind).iterdir()
        if p.suffix in (".json", ".md") and not p.name.endswith(".expected.json")
    )


def parse_fixture(path: Path) -> PolicyDocument:
    name = f"{path.parent.name}/{path.name}"
    data = path.read_bytes()
    if path.suffix == ".json":
        return parse_mapping_json(data, name)
    text = decode_utf8(data, name)
    if path.name.endswith(".mrseam.md"):
        return parse_mrseam_table(text, name)
    return parse_readme_table(text, name)


def _loc(loc: Location) -> str:
    return str(loc)


def dump_document(doc: PolicyDocument) -> dict[str, Any]:
    """Everything a document says, as plain JSON (values as their policy-format text)."""

    def fact_value(name: str, value: Any) -> Any:
        if name == "seamldr":
            return [v.text for v in value]
        if name == "features0":
            return hex(value)
        if name == "status":
            return {"kind": value.kind.value, "reason": value.reason}
        return value

    return {
        "file": doc.file,
        "kind": doc.kind.value,
        "releases": [
            {
                "version": b.version.text,
                "source": _loc(b.source),
                "facts": {
                    name: {"value": fact_value(name, f.value), "source": _loc(f.source)}
                    for name, f in b.facts.items()
                },
                "update_from": [
                    {"versions": str(u.versions), "source": _loc(u.source)} for u in b.update_from
                ],
                "advisories": [
                    {"word": a.word, "text": a.text, "source": _loc(a.source)}
                    for a in b.advisories
                ],
            }
            for b in doc.releases
        ],
    }


@pytest.mark.parametrize("path", _inputs("good"), ids=lambda p: p.name)
def test_good_fixture(path: Path) -> None:
    got = dump_document(parse_fixture(path))
    golden = path.with_name(path.name + ".expected.json")
    if REGEN:
        golden.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", _inputs("bad"), ids=lambda p: p.name)
def test_bad_fixture(path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_fixture(path)
    err = info.value
    golden = path.with_name(path.name + ".err")
    if REGEN:
        golden.write_text(err.render() + "\n", encoding="utf-8")
    assert err.render() + "\n" == golden.read_text(encoding="utf-8")
    # Every problem is located (file and at least a line or a JSON path) and the error is
    # usable as the CLI's JSON error object.
    for p in err.problems:
        assert p.location is not None
        assert p.location.file == f"bad/{path.name}"
        assert p.location.line is not None or p.location.path is not None
    assert err.to_json()["error"]["code"] == "invalid-input"
    assert err.exit_code == 2


def test_every_bad_fixture_has_a_golden_error() -> None:
    missing = [p.name for p in _inputs("bad") if not p.with_name(p.name + ".err").exists()]
    assert missing == []
