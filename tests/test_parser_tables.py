"""The shipped LALR tables (tdxpolicy/data/policy-parser.tables) against the grammar.

The document parser is lark alone, one parser, one set of rules (grammars/policy.lark). The
only speed device is that its tables are built ahead of time and loaded: the oracle here is a
parser built from the grammar in this process. Both must give the same tree (rule names,
tokens, lines, columns) or refuse the same text with the same error, on the fixtures, the
embedded documents and thousands of mutated documents; tables written for another grammar or
another lark must be ignored, never trusted.
"""

from __future__ import annotations

import gc
import io
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from tdxpolicy.errors import InputError
from tdxpolicy.resources import grammar_path, package_data
from tdxpolicy.sources import document as D

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "tests" / "data" / "document"
sys.path.insert(0, str(ROOT / "bench"))


def _norm(node: Any) -> Any:
    if hasattr(node, "data"):
        return (str(node.data), [_norm(c) for c in node.children])
    return (str(node), node.type, node.line, node.column)


@pytest.fixture(scope="module")
def built() -> Any:
    """The oracle: a parser built from the grammar now, as when the tables are stale."""
    from lark import Lark

    return Lark(grammar_path("policy.lark").read_text(encoding="utf-8"), **D._PARSER_OPTIONS)


def _tree(parser: Any, source: str) -> Any:
    from lark.exceptions import UnexpectedInput

    try:
        return _norm(parser.parse(source))
    except UnexpectedInput as e:
        return ("refused", type(e).__name__, e.line, e.column)


def _check(text: str, built: Any) -> bool:
    """The parser in use gives the oracle's tree; returns whether the text was accepted."""
    source = text if text.endswith("\n") else text + "\n"
    got = _tree(D._parser(), source)
    assert got == _tree(built, source), text
    return got[0] != "refused"


def test_the_shipped_tables_are_for_this_grammar() -> None:
    """Fails when grammars/policy.lark changed without `python scripts/make_parser_tables.py`."""
    import hashlib

    head = package_data(D.PARSER_TABLES).read_bytes().split(b"\n", 1)[0].split(b" ")
    digest = hashlib.sha256(grammar_path("policy.lark").read_bytes()).hexdigest()
    assert head[:2] == [b"tdxpolicy-parser-tables/1", digest.encode()], (
        "run: python scripts/make_parser_tables.py")


def test_the_shipped_tables_are_used_when_they_match_this_lark() -> None:
    import lark

    stamped = package_data(D.PARSER_TABLES).read_bytes().split(b"\n", 1)[0].split(b" ")[2]
    if stamped.decode() != lark.__version__:
        pytest.skip(f"tables written by lark {stamped.decode()}, lark {lark.__version__} "
                    "installed: the parser is built from the grammar (correct, slower)")
    D._parser.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as m:
            def no_build(*a: Any, **k: Any) -> Any:
                raise AssertionError("built from the grammar although the tables match")
            m.setattr(lark.Lark, "__init__", no_build)
            D._parser()
    finally:
        D._parser.cache_clear()


@pytest.mark.parametrize("header", [
    b"tdxpolicy-parser-tables/1 " + b"0" * 64 + b" 1.3.1\n",  # another grammar
    b"tdxpolicy-parser-tables/1 {digest} 0.0.1\n",  # another lark
    b"something else entirely\n",
])
def test_stale_or_foreign_tables_are_ignored(header: bytes, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, built: Any) -> None:
    import hashlib

    digest = hashlib.sha256(grammar_path("policy.lark").read_bytes()).hexdigest()
    bad = tmp_path / "tables"
    # A payload that would break the parser if it were loaded: it must not even be read.
    bad.write_bytes(header.replace(b"{digest}", digest.encode()) + b"not a pickle")
    monkeypatch.setattr("tdxpolicy.resources.package_data", lambda name: bad)
    D._parser.cache_clear()
    try:
        text = (DOCS.parent.parent.parent / "tdxpolicy" / "data" / "releases"
                / "tdx_module_1.5.16.tdxpolicy").read_text(encoding="utf-8")
        assert _check(text, built)
    finally:
        D._parser.cache_clear()


def test_missing_tables_build_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tdxpolicy.resources.package_data", lambda name: tmp_path / "absent")
    D._parser.cache_clear()
    try:
        assert D.parse_document("format 1\n", "x").releases == ()
    finally:
        D._parser.cache_clear()


def test_build_parser_tables_round_trips(built: Any) -> None:
    from lark import Lark

    data = D.build_parser_tables()
    head, payload = data.split(b"\n", 1)
    assert head.startswith(b"tdxpolicy-parser-tables/1 ")
    loaded = Lark.load(io.BytesIO(payload))
    text = "format 1\nrelease 1.5.01 {\n    update from >= 1.5.00, != 1.5.03\n}\n"
    assert _tree(loaded, text) == _tree(built, text)


def _samples() -> list[str]:
    files = sorted(DOCS.glob("*/*.tdxpolicy")) + sorted(
        (ROOT / "tdxpolicy" / "data" / "releases").glob("*.tdxpolicy")
    )
    out = []
    for p in files:
        try:
            out.append(p.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return out


@pytest.mark.parametrize("text", _samples())
def test_fixtures_and_embedded_documents_parse_the_same_both_ways(text: str, built: Any) -> None:
    _check(text, built)


def test_the_benchmark_documents_parse_the_same_both_ways(built: Any) -> None:
    import bench_catalogue
    import bench_sources

    a = bench_catalogue.generate(30).decode()
    b = bench_sources.documents(bench_sources.generate(40)).decode()
    assert _check(a, built) and _check(b, built)


LINES = [
    "format 1",
    "issued 2025-01-02",
    "expires 2026-01-02",
    'source "intel \\"x\\""',
    'deny to >= 1.5.01, < 2.0.00 "no"',
    "release 1.5.06 {",
    "    published 2025-01-01",
    "    mrseam 0x" + "A" * 96,
    "    seamhash 0x" + "b" * 96,
    "    svn 1.11",
    "    platforms 0x806F8 0xC06F0",
    "    seamldr 1.5.00 2.0.00",
    "    features0 0x226F3F0FBF",
    "    handoff module 3 min 1 no-downgrade",
    "    handoff module 3 min 1",
    "    debug",
    '    status withdrawn "gone"',
    "    update from >= 1.5.01, != 1.5.03",
    "    update from 1.5.*",
    "    update from any",
    '    deny from == 1.5.02 "bad"',
    "    rollback to 1.5.05",
    '    advisory td-build "wait"',
    "}",
    "",
    "# comment",
    "  \t ",
]
# Characters that matter to the lexer: separators, token starts, token-ending characters.
CHARS = list(" \t#\"\\{},.*-_=<>!0123456789xXaAzZ") + ["\u00a0", "\x0b", "é", "any", "from", "to"]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        if not text:
            break
        i = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.35:
            text = text[:i] + rng.choice(CHARS) + text[i:]
        elif op < 0.6:
            text = text[:i] + text[i + 1 :]
        elif op < 0.75:
            # drop the white space around a position (adjacent tokens)
            j = i
            while j < len(text) and text[j] in " \t":
                j += 1
            text = text[:i] + text[j:]
        elif op < 0.9:
            text = text[:i] + "\n" + text[i:]
        else:
            j = rng.randrange(len(text) + 1)
            text = text[:i] + text[min(i, j) : max(i, j)] + text[i:]
    return text


def _random_document(rng: random.Random) -> str:
    top = [ln for ln in LINES[:5] + LINES[-3:]]
    items = [ln for ln in LINES[6:23] + LINES[-3:]]
    lines = ["format 1"]
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.3:
            lines.append(rng.choice(top))
        else:
            lines.append(f"release 1.5.{rng.randint(0, 30):02d} {{")
            lines += [rng.choice(items) for _ in range(rng.randint(0, 8))]
            lines.append("}")
    return "\n".join(lines) + rng.choice(["\n", "", "\n\n# end"])


def test_mutated_documents_parse_the_same_both_ways(built: Any) -> None:
    rng = random.Random(20261126)
    accepted = 0
    for k in range(2000):
        text = _random_document(rng)
        if k % 4:
            text = _mutate(rng, text)
        accepted += _check(text, built)
    # Both kinds were exercised: many accepted, many refused.
    assert 300 < accepted < 1800, accepted


@pytest.mark.parametrize(
    "text",
    [
        "format 1\nrelease 1.5.01 {}\n",  # a one-line block: lark's
        "format 1\nrelease 1.5.01 { published 2025-01-01\n}\n",
        "format 1\nrelease 1.5.01\n{\n}\n",
        "format 1\nrelease 1.5.01 {\n    svn 1.2 }\n",
        "format1\n",
        "format 1\nrelease 1.5.01 {\n    svnn 1.9\n}\n",
        "format 1\nrelease 1.5.01 {\n    svn1.9\n}\n",
        "format 1\nrelease 1.5.01 {\n    seamldr 1.5.002.0.00\n}\n",
        "format 1\nrelease 1.5.01 {\n    update from>=1.5.00,<1.5.01\n}\n",
        'format 1\nrelease 1.5.01 {\n    deny from any"x"\n}\n',
        'format 1\nrelease 1.5.01 {\n    deny from anyx "x"\n}\n',
        "format 1\nrelease 1.5.01 {\n    handoff module 0min 0no-downgrade\n}\n",
        "format 1\nrelease 1.5.01 {\n    handoff module 0x1 min 0\n}\n",
        "format 1\nrelease 1.5.01 {\n    platforms 0x10x2\n}\n",
        "format 1\nrelease 1.5.01 {\n    published 2025-1-123\n}\n",
        'format 1\nsource"x"#c\n',
        "format 1\nrelease 1.5.01 {\n    debug\n",
        "format 1\n}\n",
        "format 1\nrelease 1.5.01 {\n    format 1\n}\n",
        "format 1\nrelease 1.5.01 {\n    update from\n}\n",
        "format 1\nrelease_x 1.5.01 {\n}\n",
        "format 1\nrelease 1.5.01 {\n    features0_ 0x1\n}\n",
    ],
)
def test_edge_layouts_parse_the_same_both_ways(text: str, built: Any) -> None:
    _check(text, built)


@pytest.mark.parametrize("text", [
    "format 1\nrelease 1.5.01 {\n    update from >= 1.5.01,\n}\n",  # trailing comma
    "format 1\nrelease 1.5.01 {\n    update from , >= 1.5.01\n}\n",
    "format 1\nrelease 1.5.01 {\n    update from >= 1.5.01,, 1.5.02\n}\n",
])
def test_a_malformed_version_set_is_refused_on_every_python(text: str) -> None:
    # Python 3.11.2's regex engine let the former hand-written scanner accept these.
    with pytest.raises(InputError) as e:
        D.parse_document(text, "t.tdxpolicy")
    assert e.value.problems[0].location.line == 3


def test_parse_document_restores_the_garbage_collector() -> None:
    assert gc.isenabled()
    D.parse_document("format 1\n", "x")
    assert gc.isenabled()
    with pytest.raises(InputError):
        D.parse_document("format 1\nbogus\n", "x")
    assert gc.isenabled()
    gc.disable()
    try:
        D.parse_document("format 1\n", "x")
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
