"""The per-user cache of parsed documents (tdxpolicy/sources/document_cache.py).

The cache may only ever save time: a cached document equals the parse of the same bytes under
the same name, an entry that cannot be trusted or read is parsed around, an erroneous document
is never stored, and the cache can be turned off. conftest.py points XDG_CACHE_HOME at a
directory of the test session; each test here uses one of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tdxpolicy.errors import InputError
from tdxpolicy.sources import document_cache, load_document
from tdxpolicy.sources.document import read_document

REPO = Path(__file__).resolve().parent.parent
GOOD = sorted((REPO / "tests" / "data").rglob("*.tdxpolicy"))
SITE = REPO / "docs" / "examples" / "site.tdxpolicy"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(document_cache.NO_CACHE_ENV, raising=False)
    return home / "tdxpolicy" / "documents"


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.doc")) if directory.is_dir() else []


def test_second_read_comes_from_the_cache_and_equals_the_parse(cache_home: Path) -> None:
    first = load_document(SITE)
    (entry,) = _entries(cache_home)
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    assert oct(cache_home.stat().st_mode & 0o777) == "0o700"
    cached = document_cache.load(str(SITE), SITE.read_bytes())
    assert cached == first == read_document(SITE.read_bytes(), str(SITE))


def test_every_fixture_document_reads_back_equal(cache_home: Path) -> None:
    """The oracle: for every document of the test data that parses, the cached form is the
    same value as the parse (facts, rules, every location)."""
    checked = 0
    for path in GOOD:
        data = path.read_bytes()
        try:
            parsed = read_document(data, str(path))
        except InputError:
            continue
        document_cache.store(str(path), data, parsed)
        assert document_cache.load(str(path), data) == parsed, path
        checked += 1
    assert checked >= 20


def test_a_cached_run_does_not_import_lark(cache_home: Path) -> None:
    code = ("import sys; from pathlib import Path; from tdxpolicy.sources import load_document;"
            f" load_document(Path({str(SITE)!r})); print('lark' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["True", "False"]


def test_the_key_is_the_bytes_the_name_and_the_code(cache_home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = SITE.read_bytes()
    one = document_cache.entry_path("site.tdxpolicy", data)
    assert one == document_cache.entry_path("site.tdxpolicy", data)
    assert one != document_cache.entry_path("other.tdxpolicy", data)
    assert one != document_cache.entry_path("site.tdxpolicy", data + b"\n")
    assert one != document_cache.entry_path("site.tdxpolicy", data, embedded=True)
    monkeypatch.setattr(document_cache, "_code_digest", b"another parser")
    assert one != document_cache.entry_path("site.tdxpolicy", data)


def test_an_edited_document_is_parsed_again(cache_home: Path, tmp_path: Path) -> None:
    doc = tmp_path / "site.tdxpolicy"
    doc.write_bytes(SITE.read_bytes())
    before = load_document(doc)
    doc.write_text(doc.read_text().replace("1.5.06", "1.5.08"))
    after = load_document(doc)
    assert after != before and after == read_document(doc.read_bytes(), str(doc))
    assert len(_entries(cache_home)) == 2


def test_erroneous_documents_are_never_stored(cache_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tdxpolicy"
    bad.write_text("format 1\nrelease 1.5.x {\n}\n")
    for _ in range(2):
        with pytest.raises(InputError):
            load_document(bad)
    assert _entries(cache_home) == []


@pytest.mark.parametrize("damage", [
    b"", b"garbage", b"tdxpolicy-document-cache/1\n", b"tdxpolicy-document-cache/1\n\x00\x01",
    b"tdxpolicy-document-cache/1\n" + __import__("marshal").dumps({"file": "x"}),
    b"tdxpolicy-document-cache/1\n" + __import__("marshal").dumps([1, 2, 3]),
])
def test_a_damaged_entry_is_parsed_around(cache_home: Path, damage: bytes) -> None:
    good = load_document(SITE)
    (entry,) = _entries(cache_home)
    entry.write_bytes(damage)
    assert document_cache.load(str(SITE), SITE.read_bytes()) is None
    assert load_document(SITE) == good


def test_an_entry_for_another_name_is_not_served(cache_home: Path) -> None:
    """An entry renamed to another document's key (the recorded name disagrees) is ignored."""
    load_document(SITE)
    (entry,) = _entries(cache_home)
    data = SITE.read_bytes()
    other = document_cache.entry_path("elsewhere.tdxpolicy", data)
    assert other is not None
    entry.rename(other)
    assert document_cache.load("elsewhere.tdxpolicy", data) is None


def test_entries_others_can_write_are_ignored(cache_home: Path) -> None:
    load_document(SITE)
    (entry,) = _entries(cache_home)
    entry.chmod(0o666)
    assert document_cache.load(str(SITE), SITE.read_bytes()) is None
    entry.chmod(0o600)
    assert document_cache.load(str(SITE), SITE.read_bytes()) is not None
    cache_home.chmod(0o777)
    assert document_cache.load(str(SITE), SITE.read_bytes()) is None
    entry.unlink()
    load_document(SITE)  # a shared directory is not written either
    assert _entries(cache_home) == []
    cache_home.chmod(0o700)


def test_the_cache_can_be_turned_off(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(document_cache.NO_CACHE_ENV, "1")
    load_document(SITE)
    assert document_cache.cache_dir() is None and not cache_home.exists()
    monkeypatch.setenv(document_cache.NO_CACHE_ENV, "0")
    assert document_cache.cache_dir() == cache_home


def test_an_unwritable_cache_is_not_an_error(cache_home: Path) -> None:
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text("a file where the directory should be")
    assert load_document(SITE) == read_document(SITE.read_bytes(), str(SITE))


def test_a_relative_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert document_cache.cache_dir() == tmp_path / ".cache" / "tdxpolicy" / "documents"


def test_the_directory_keeps_the_newest_entries(cache_home: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_cache, "KEEP", 3)
    for i in range(5):
        doc = tmp_path / f"d{i}.tdxpolicy"
        doc.write_text(f"format 1\nrelease 1.5.{i + 10} {{\n}}\n")
        load_document(doc)
    assert len(_entries(cache_home)) == 3


def test_reading_a_file_is_bounded_by_the_larger_limit() -> None:
    # sources.load_document reads at most MAX_SOURCE_BYTES without importing the document
    # parser; the document's own limit must not be the larger one.
    from tdxpolicy.sources import MAX_SOURCE_BYTES
    from tdxpolicy.sources.document import MAX_DOCUMENT_BYTES

    assert MAX_DOCUMENT_BYTES <= MAX_SOURCE_BYTES


def test_a_cached_run_imports_no_parsing_code(cache_home: Path) -> None:
    code = ("import sys; from pathlib import Path; from tdxpolicy.sources import load_document;"
            f" load_document(Path({str(SITE)!r}));"
            " print(sorted(m for m in sys.modules if m.startswith(('lark', 'hashlib',"
            " 'tdxpolicy.sources.document.', 'tdxpolicy.sources.images', 'tdxpolicy.error_codes'))"
            " or m == 'tdxpolicy.sources.document'))")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    first, second = (subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                     text=True, check=True).stdout.strip() for _ in range(2))
    assert "lark" in first
    assert second == "[]"


def test_editing_the_parsing_code_changes_every_key(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "build.py"
    module.write_text("x = 1\n")
    # an absolute name: os.path.join keeps it whatever the package directory
    monkeypatch.setattr(document_cache, "_PARSING_CODE", (str(module),))

    def digest() -> bytes:
        monkeypatch.setattr(document_cache, "_code_digest", None)
        return document_cache._parsing_code_digest()

    before = digest()
    assert digest() == before
    module.write_text("x = 2\n")  # same size: the modification time still tells
    os.utime(module, ns=(0, 10**18))
    assert digest() != before
