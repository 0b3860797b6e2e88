"""Policy-document fixtures, discovered automatically.

- ``tests/data/document/good/*.tdxpolicy`` must parse, and survive a JSON round trip
  (``tdxpolicy.serialize``) unchanged.
- ``tests/data/document/bad/*.tdxpolicy`` must be refused with exactly the rendered error
  stored beside it in ``*.expected`` (``file:line:column: message``, the line, a caret), both by
  the library and by ``tdxpolicy lint`` (exit 2, no traceback).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tdxpolicy.cli import main
from tdxpolicy.errors import InputError
from tdxpolicy.serialize import document_from_json, document_to_json
from tdxpolicy.sources.document import read_document

DATA = Path(__file__).parent / "data" / "document"
GOOD = sorted((DATA / "good").glob("*.tdxpolicy"))
BAD = sorted((DATA / "bad").glob("*.tdxpolicy"))


def test_fixture_sets_are_not_empty() -> None:
    assert len(GOOD) >= 5 and len(BAD) >= 40
    for p in BAD:
        assert p.with_suffix(".expected").is_file(), f"{p.name} has no .expected beside it"


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_document_parses_and_round_trips(path: Path) -> None:
    doc = read_document(path.read_bytes(), path.name)
    assert doc.meta.format is not None and doc.meta.format.value == 1
    assert document_from_json(document_to_json(doc)) == doc


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_document_exact_error(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
    with pytest.raises(InputError) as ei:
        read_document(path.read_bytes(), path.name)
    assert ei.value.render() == expected
    assert ei.value.exit_code == 2


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_document_cli_exit_2_without_traceback(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(path.parent)
    rc = main(["lint", path.name])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "Traceback" not in out + err
    first = path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()[0]
    assert err.startswith("tdxpolicy: " + first)
