"""The syntax of policy documents: the lark parser of ``grammars/policy.lark`` and syntax errors
in words.

The parser is built once per process, lazily (lark is imported only inside :func:`_parser`,
so importing this module costs nothing at CLI start-up), from LALR tables shipped in the
package when they match the grammar and the installed lark (:data:`PARSER_TABLES`). Every
terminal has a phrase, and a syntax error says what was expected where
(:func:`raise_syntax_error`): one located problem, exit 2.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import TYPE_CHECKING, Any, Iterable, NoReturn

from ...errors import InputError, Problem
from ...model import Location
from .decode import text_line

if TYPE_CHECKING:  # pragma: no cover
    from lark import Lark, Token

__all__ = [
    "DOCUMENT_KEYWORDS",
    "RELEASE_KEYWORDS",
    "PARSER_TABLES",
    "build_parser_tables",
    "raise_syntax_error",
    "shown",
]


#: Statements allowed outside release blocks, and inside them (for "did you mean").
DOCUMENT_KEYWORDS = ("format", "issued", "expires", "source", "deny", "release")
RELEASE_KEYWORDS = (
    "published",
    "mrseam",
    "seamhash",
    "svn",
    "platforms",
    "seamldr",
    "features0",
    "handoff",
    "debug",
    "status",
    "update",
    "deny",
    "rollback",
    "advisory",
)

# Every terminal of grammars/policy.lark, in words (house-style: "every terminal has a human
# phrase"). Keywords are shown quoted.
_PHRASES: dict[str, str] = {
    "VERSION": "a version like 1.5.06",
    "INT": "a whole number like 0",
    "HEX": "a hex number like 0x806F8",
    "DATE": "a date like 2026-02-10",
    "STRING": 'a quoted string like "reason"',
    "WORD": "a word like td-build",
    "OP": "an operator (>=, <=, >, <, ==, !=)",
    "LBRACE": "'{'",
    "RBRACE": "'}' to close the release block",
    "COMMA": "','",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "COMMENT": "a comment",
    "WS": "a space",
}
_KEYWORD_TERMINALS = {
    "FORMAT": "format",
    "ISSUED": "issued",
    "EXPIRES": "expires",
    "SOURCE": "source",
    "RELEASE": "release",
    "DENY": "deny",
    "TO": "to",
    "FROM": "from",
    "PUBLISHED": "published",
    "MRSEAM": "mrseam",
    "SEAMHASH": "seamhash",
    "SVN": "svn",
    "PLATFORMS": "platforms",
    "SEAMLDR": "seamldr",
    "FEATURES0": "features0",
    "HANDOFF": "handoff",
    "MODULE": "module",
    "MIN": "min",
    "NO_DOWNGRADE": "no-downgrade",
    "DEBUG": "debug",
    "STATUS": "status",
    "PREVIEW": "preview",
    "WITHDRAWN": "withdrawn",
    "UPDATE": "update",
    "ROLLBACK": "rollback",
    "ADVISORY": "advisory",
    "ANY": "any",
}
for _t, _k in _KEYWORD_TERMINALS.items():
    _PHRASES[_t] = f"'{_k}'"


_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_STRING_OR_COMMENT_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


#: The LALR tables of grammars/policy.lark, built ahead of time (scripts/make_parser_tables.py)
#: and shipped in the package: building them costs ~140 ms per process, loading ~3 ms. The
#: first line names the grammar's SHA-256 and the lark version that wrote them; tables for
#: another grammar or another lark are never used (docs/performance.md, "Parser tables").
PARSER_TABLES = "policy-parser.tables"
_TABLES_MAGIC = b"tdxpolicy-parser-tables/1"
_PARSER_OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": "contextual",
    "propagate_positions": True,
    "maybe_placeholders": False,
}


def _grammar_text() -> str:
    from ...resources import grammar_path

    return grammar_path("policy.lark").read_text(encoding="utf-8")


def _tables_header(grammar: str) -> bytes:
    import hashlib

    import lark

    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()
    return b" ".join((_TABLES_MAGIC, digest.encode(), lark.__version__.encode())) + b"\n"


def build_parser_tables() -> bytes:
    """The bytes of :data:`PARSER_TABLES` for the grammar and lark installed now."""
    import io

    from lark import Lark

    grammar = _grammar_text()
    out = io.BytesIO()
    out.write(_tables_header(grammar))
    Lark(grammar, **_PARSER_OPTIONS).save(out)
    return out.getvalue()


@cache
def _parser() -> Lark:
    """The LALR parser, once per process: from the shipped tables when they were built from
    this grammar by this lark, else built from the grammar (same parser, ~140 ms slower).
    Nothing is ever written: a stale or missing table file only costs time."""
    import io

    from lark import Lark

    from ...resources import package_data

    grammar = _grammar_text()
    try:
        shipped = package_data(PARSER_TABLES).read_bytes()
    except OSError:
        shipped = b""
    header = _tables_header(grammar)
    if shipped.startswith(header):
        return Lark.load(io.BytesIO(shipped[len(header):]))
    return Lark(grammar, **_PARSER_OPTIONS)


def _depth_before(text: str, line: int, column: int) -> int:
    """How many release blocks are open before (line, column): for context-aware messages."""
    lines = text.split("\n")
    before = "\n".join(lines[: line - 1] + [lines[line - 1][: column - 1] if line <= len(lines) else ""])
    stripped = _STRING_OR_COMMENT_RE.sub("", before)
    return stripped.count("{") - stripped.count("}")


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _expected_phrase(expected: Iterable[str]) -> str:
    exp = {e for e in expected if not e.startswith("__") and e not in ("COMMENT", "WS")}
    if {"OP", "VERSION", "ANY"} <= exp:
        exp -= {"OP", "VERSION", "ANY"}
        head = ["a version set like '>= 1.5.01', '1.5.*' or 'any'"]
    else:
        head = []
    block = {"PUBLISHED", "UPDATE", "ADVISORY", "RBRACE"}
    doc = {"FORMAT", "RELEASE", "ISSUED"}
    if block <= exp:
        return "a release statement (" + ", ".join(RELEASE_KEYWORDS) + ") or '}'"
    if doc <= exp:
        return "a statement (" + ", ".join(DOCUMENT_KEYWORDS) + ")"
    if "STRING" in exp and "_NL" not in exp and "COMMA" in exp:
        # after a version set that needs a reason: "deny from >= 1.5.01 "reason""
        exp.discard("COMMA")
        head.append("',' and another clause")
    phrases = head + sorted(_PHRASES.get(e, e) for e in exp)
    if not phrases:
        return "something else"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def shown(s: str) -> str:
    s = s.split("\n", 1)[0]
    return repr(s if len(s) <= 24 else s[:21] + "...")


def raise_syntax_error(e: Any, text: str, lines: list[str], file: str) -> NoReturn:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    token: Token | None = None
    if isinstance(e, UnexpectedToken):
        token = e.token
        expected = set(e.expected)
        if token.type == "$END":
            line, col = len(lines), len(lines[-1]) + 1
            if not lines[-1] and len(lines) > 1:
                line, col = len(lines) - 1, len(lines[-2]) + 1
        else:
            line, col = token.line or 1, token.column or 1
    elif isinstance(e, UnexpectedCharacters):
        expected = set(e.allowed or ())
        line, col = e.line, e.column
    elif isinstance(e, UnexpectedEOF):
        expected = set(e.expected)
        line, col = len(lines), len(lines[-1]) + 1
    else:  # pragma: no cover - lark has no other UnexpectedInput
        expected, line, col = set(), 1, 1
    src = text_line(text, line)
    here = src[col - 1 :] if col - 1 <= len(src) else ""
    loc = Location(file, line, col)

    def fail(message: str) -> NoReturn:
        raise InputError([Problem(message, loc, src)], code="syntax-error") from None

    if (token is not None and token.type == "$END") or isinstance(e, UnexpectedEOF):
        if "RBRACE" in expected and _depth_before(text, line, col) > 0:
            opened = _last_open_block(lines, line)
            where = f" opened at line {opened}" if opened else ""
            fail(f"unexpected end of file: expected '}}' to close the release block{where}")
        fail(f"unexpected end of file: expected {_expected_phrase(expected)}")
    if here.startswith('"') and ("STRING" in expected or not re.match(r'"(?:[^"\\\n]|\\.)*"', here)):
        if not re.match(r'"(?:[^"\\\n]|\\.)*"', here):
            fail("unterminated string: add the closing '\"' on the same line")
    ident = _IDENT_RE.match(here)
    statement_start = bool(expected & {"RELEASE", "PUBLISHED", "RBRACE", "FORMAT"}) and (
        not src[: col - 1].strip()
    )
    if ident and statement_start:
        word = ident.group(0)
        inside = _depth_before(text, line, col) > 0
        if inside and word in DOCUMENT_KEYWORDS and word not in RELEASE_KEYWORDS:
            fail(f"'{word}' is not allowed inside a release block; close the block with '}}' first")
        if not inside and word in RELEASE_KEYWORDS and word not in DOCUMENT_KEYWORDS:
            fail(f"'{word}' is only allowed inside a release block (release VERSION {{ ... }})")
        choices = RELEASE_KEYWORDS if inside else DOCUMENT_KEYWORDS
        best = _suggest(word, choices)
        if best is not None:
            fail(f"unknown statement '{word}'; did you mean '{best}'?")
        fail(f"unknown statement '{word}'; expected one of: {', '.join(choices)}")
    if token is not None and token.type == "_NL":
        fail(f"expected {_expected_phrase(expected)} before the end of the line")
    found = shown(token.value) if token is not None else shown(here) if here else "nothing"
    fail(f"expected {_expected_phrase(expected)}, got {found}")


def _last_open_block(lines: list[str], upto: int) -> int | None:
    for i in range(min(upto, len(lines)) - 1, -1, -1):
        if re.match(r"\s*release\b", lines[i]):
            return i + 1
    return None
