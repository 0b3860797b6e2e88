"""The policy-document fast path (tdxpolicy.sources.document._fast_tree) against lark.

The fast path must be exact or give up: when it returns a tree, lark parses the same text to
the same tree (rule names, tokens, lines, columns); when lark refuses a text, the fast path
returns None (so lark words the error). parse_document's outcome (the document, or every
error message and location) must not depend on which path ran.
"""

from __future__ import annotations

import gc
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from tdxpolicy.errors import InputError
from tdxpolicy.sources import document as D

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "tests" / "data" / "document"
sys.path.insert(0, str(ROOT / "bench"))

_DROPPED = {"LBRACE", "RBRACE", "COMMA"}  # tokens the builder skips; the fast path omits them


def _norm(node: Any) -> Any:
    if hasattr(node, "data"):
        kids = [
            _norm(c)
            for c in node.children
            if hasattr(c, "data") or getattr(c, "type", None) not in _DROPPED
        ]
        return (str(node.data), kids)
    return (str(node), node.line, node.column)


def _lark_tree(source: str) -> Any:
    from lark.exceptions import UnexpectedInput

    try:
        return _norm(D._parser().parse(source))
    except UnexpectedInput:
        return None


def _outcome(text: str, monkeypatch: pytest.MonkeyPatch | None = None) -> Any:
    try:
        return D.parse_document(text, "t.tdxpolicy")
    except InputError as e:
        return ("error", e.code, [(p.message, p.location, p.source_line) for p in e.problems])


def _check(text: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Fast tree == lark tree when the fast path accepts; same parse_document outcome."""
    source = text if text.endswith("\n") else text + "\n"
    fast = D._fast_tree(source)
    lark = _lark_tree(source)
    if fast is not None:
        assert lark is not None, f"fast path accepted what lark refuses: {text!r}"
        assert _norm(fast) == lark, text
    with_fast = _outcome(text)
    with monkeypatch.context() as m:
        m.setattr(D, "_fast_tree", lambda source: None)
        without = _outcome(text)
    assert with_fast == without, text
    return fast is not None


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
def test_fixtures_and_embedded_documents_parse_the_same_both_ways(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(text, monkeypatch)


def test_the_embedded_documents_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    releases = sorted((ROOT / "tdxpolicy" / "data" / "releases").glob("*.tdxpolicy"))
    assert releases
    for p in releases:
        assert _check(p.read_text(encoding="utf-8"), monkeypatch), p.name


def test_the_benchmark_documents_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench_catalogue
    import bench_sources

    a = bench_catalogue.generate(30).decode()
    b = bench_sources.documents(bench_sources.generate(40)).decode()
    assert _check(a, monkeypatch) and _check(b, monkeypatch)


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


def test_mutated_documents_parse_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20261126)
    fast = 0
    for k in range(3000):
        text = _random_document(rng)
        if k % 4:
            text = _mutate(rng, text)
        fast += _check(text, monkeypatch)
    # Both kinds were exercised: the fast path accepted many, and gave many to lark.
    assert 500 < fast < 2500, fast


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
def test_edge_layouts_parse_the_same_both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(text, monkeypatch)


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
