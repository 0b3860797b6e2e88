"""Policy documents (``.tdxpolicy``): bytes -> text -> parse tree -> :class:`PolicyDocument`.

The syntax is ``grammars/policy.lark`` (lark, LALR, positions propagated), built once, lazily:
lark is imported only inside :func:`_parser`, so importing this module costs nothing at CLI
start-up. The grammar lexes values loosely; this module checks their exact shape after the
parse, on typed values, and says what is wrong in words (policy-format.md, "Errors").

Errors are :class:`~tdxpolicy.errors.InputError` with one :class:`~tdxpolicy.errors.Problem`
per mistake, each located (``file:line:column``) and carrying the offending line for the
caret. A document either parses completely or raises: nothing is half-loaded.

What this module leaves to others: merging documents (:mod:`tdxpolicy.catalogue`), Intel's JSON
and Markdown sources (:mod:`tdxpolicy.sources.intel`), finding files (:mod:`tdxpolicy.sources`),
and warnings that do not make a document invalid (:mod:`tdxpolicy.lint`).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import gc as _gc
import re
from functools import cache
from typing import TYPE_CHECKING, Any, Iterable, NoReturn

from ..errors import InputError, Problem
from ..model import (
    FACT_NAMES,
    Advisory,
    DenyFrom,
    DenyTo,
    DocumentMeta,
    Handoff,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    RollbackTo,
    SourceKind,
    Sourced,
    Status,
    StatusKind,
    Svn,
    UpdateFrom,
)
from ..version import Clause, Op, Version, VersionError, VersionSet, parse_version

if TYPE_CHECKING:  # pragma: no cover
    from lark import Lark, Token

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "FORMAT_VERSION",
    "DOCUMENT_KEYWORDS",
    "RELEASE_KEYWORDS",
    "decode_document",
    "parse_document",
    "read_document",
    "looks_like_document",
]

#: Documents larger than this are refused before decoding: Intel's whole catalogue is ~20 KiB,
#: so a bigger file is a mistake (or hostile), not a policy.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
FORMAT_VERSION = 1

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

_HEX_RE = re.compile(r"\A0[xX]([0-9A-Fa-f]+)\Z")
_SVN_RE = re.compile(r"\A([0-9]{1,10})\.([0-9]{1,10})\Z")
_DATE_RE = re.compile(r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_WILDCARD_RE = re.compile(r"\A([0-9]{1,10})\.([0-9]{1,10})\.\*\Z")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_STRING_OR_COMMENT_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')
_SHA384_HEX_DIGITS = 96


# --- bytes -> text -----------------------------------------------------------------------------


def _line_col_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1


def _byte_line(data: bytes, offset: int) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    raw = data[start : end if end >= 0 else len(data)]
    return raw.decode("utf-8", errors="replace")


def decode_document(data: bytes, file: str) -> str:
    """Decode a document's bytes: strict UTF-8, LF line ends, no BOM, no NUL, at most 16 MiB.

    Each refusal says where and what to do about it; all are :class:`InputError` (exit 2).
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError.at(
            f"file is {len(data) / (1024 * 1024):.1f} MiB; a policy document may be at most "
            f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB (is this the right file?)",
            Location(file),
        )
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError.at(
            "file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without a BOM",
            Location(file, 1, 1),
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # Before the NUL check: "NUL byte ... binary file?" misleads for a UTF-16 text file.
        raise InputError.at(
            "file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8",
            Location(file, 1, 1, offset=0),
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col_of_offset(data, nul)
        raise InputError.at(
            "NUL byte in a text document; is this a binary file?",
            Location(file, line, col),
            _byte_line(data, nul).replace("\x00", " "),
        )
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        line, col = _line_col_of_offset(data, e.start)
        raise InputError.at(
            f"byte 0x{data[e.start]:02X} is not valid UTF-8; save the file as UTF-8",
            Location(file, line, col, offset=e.start),
            _byte_line(data, e.start),
        ) from None
    _check_text(text, file)
    return text


def _check_text(text: str, file: str) -> None:
    """Checks that apply to text however it was obtained (``parse_document`` takes text)."""
    if text.startswith("\ufeff"):
        raise InputError.at(
            "file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without a BOM",
            Location(file, 1, 1),
        )
    cr = text.find("\r")
    if cr >= 0:
        line = text.count("\n", 0, cr) + 1
        col = cr - (text.rfind("\n", 0, cr) + 1) + 1
        what = "CRLF line ends" if text.startswith("\n", cr + 1) else "a carriage return (CR)"
        raise InputError.at(
            f"{what} found; save the file with LF line ends",
            Location(file, line, col),
            _text_line(text, line),
        )
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise InputError.at(
            "NUL character in a text document; is this a binary file?",
            Location(file, line, col),
            _text_line(text, line).replace("\x00", " "),
        )


def _text_line(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


def looks_like_document(head: bytes) -> bool:
    """Content sniffing: does this start (after comments/blank lines) with ``format``?"""
    for raw in head.splitlines():
        s = raw.strip()
        if not s or s.startswith(b"#"):
            continue
        return s.startswith(b"format") and (len(s) == 6 or s[6:7] in (b" ", b"\t"))
    return False


# --- the parser --------------------------------------------------------------------------------


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
    from ..resources import grammar_path

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

    from ..resources import package_data

    grammar = _grammar_text()
    try:
        shipped = package_data(PARSER_TABLES).read_bytes()
    except OSError:
        shipped = b""
    header = _tables_header(grammar)
    if shipped.startswith(header):
        return Lark.load(io.BytesIO(shipped[len(header):]))
    return Lark(grammar, **_PARSER_OPTIONS)


def read_document(data: bytes, file: str, *, embedded: bool = False) -> PolicyDocument:
    """Decode and parse a document's bytes."""
    # decode_document has made every check parse_document makes on text.
    return _parse_checked(decode_document(data, file), file, embedded)


def parse_document(text: str, file: str, *, embedded: bool = False) -> PolicyDocument:
    """Parse one policy document; raise :class:`InputError` with every located problem."""
    _check_text(text, file)
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        decode_document(text.encode("utf-8"), file)  # raises the size error
    return _parse_checked(text, file, embedded)


def _parse_checked(text: str, file: str, embedded: bool) -> PolicyDocument:
    lines = text.split("\n")
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        what = "empty file" if not text.strip() else "no statements, only comments"
        raise InputError.at(
            f"{what}: a policy document starts with 'format {FORMAT_VERSION}'",
            Location(file, 1, 1),
            lines[0] if text.strip() else None,
        )
    # The grammar ends every statement with a newline; a last line without one is fine.
    source = text if text.endswith("\n") else text + "\n"
    # Parsing allocates hundreds of thousands of small objects and frees none of them until
    # the end: the cyclic GC would run dozens of full collections over the growing tree for
    # nothing (about half the time of a large document). Paused here, restored on the way out.
    gc_was_enabled = _gc.isenabled()
    _gc.disable()
    try:
        from lark.exceptions import UnexpectedInput

        try:
            tree = _parser().parse(source)
        except UnexpectedInput as e:
            _raise_syntax_error(e, text, lines, file)
        builder = _Builder(file, lines, embedded)
        return builder.build(tree)
    finally:
        if gc_was_enabled:
            _gc.enable()


# --- syntax errors -----------------------------------------------------------------------------


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


def _shown(s: str) -> str:
    s = s.split("\n", 1)[0]
    return repr(s if len(s) <= 24 else s[:21] + "...")


def _raise_syntax_error(e: Any, text: str, lines: list[str], file: str) -> NoReturn:
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
    src = _text_line(text, line)
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
    found = _shown(token.value) if token is not None else _shown(here) if here else "nothing"
    fail(f"expected {_expected_phrase(expected)}, got {found}")


def _last_open_block(lines: list[str], upto: int) -> int | None:
    for i in range(min(upto, len(lines)) - 1, -1, -1):
        if re.match(r"\s*release\b", lines[i]):
            return i + 1
    return None


# --- tree -> model, with the semantic checks --------------------------------------------------


class _Invalid(Exception):
    """A value that failed its check; recorded as a problem, parsing continues."""


class _Builder:
    """Walk the parse tree into model values, collecting every semantic problem.

    A plain walk rather than a lark Transformer: statements need the enclosing block (for the
    per-block duplicate check) and the document's first statement (``format 1`` first), which
    is easier to keep as state than to thread through bottom-up callbacks.
    """

    def __init__(self, file: str, lines: list[str], embedded: bool) -> None:
        self.file = file
        self.lines = lines
        self.embedded = embedded
        self.problems: list[Problem] = []
        self._versions: dict[str, Version] = {}

    # helpers ----------------------------------------------------------------------------------

    def loc(self, tok: Token) -> Location:
        return Location(self.file, tok.line, tok.column)

    def problem(self, message: str, tok: Token) -> None:
        line = tok.line or 1
        src = self.lines[line - 1] if line <= len(self.lines) else ""
        self.problems.append(Problem(message, self.loc(tok), src))

    def invalid(self, message: str, tok: Token) -> NoReturn:
        self.problem(message, tok)
        raise _Invalid

    def version(self, tok: Token) -> Version:
        # Versions are immutable values and documents repeat the same few texts ("seamldr
        # 1.5.00 2.0.00" in every block): parse each text once per document.
        text = str(tok)
        v = self._versions.get(text)
        if v is not None:
            return v
        try:
            v = self._versions[text] = parse_version(text)
        except VersionError as e:
            self.invalid(str(e), tok)
        return v

    def date(self, tok: Token) -> _dt.date:
        m = _DATE_RE.match(str(tok))
        if m is None:
            self.invalid(f"expected a date like 2026-02-10 (YYYY-MM-DD), got {_shown(str(tok))}", tok)
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as e:
            self.invalid(f"invalid date {str(tok)!r}: {e}", tok)

    def hex(self, tok: Token, what: str, bits: int | None = None) -> tuple[int, str]:
        m = _HEX_RE.match(str(tok))
        if m is None:
            self.invalid(f"expected a hex number like 0x806F8 for {what}, got {_shown(str(tok))}", tok)
        digits = m.group(1)
        value = int(digits, 16)
        if bits is not None and value >= 1 << bits:
            self.invalid(f"{what} {str(tok)} does not fit in {bits} bits", tok)
        return value, digits

    def integer(self, tok: Token, what: str, maximum: int) -> int:
        text = str(tok)
        # int() refuses more than 4,300 digits (sys.get_int_max_str_digits) with a ValueError:
        # a number with more digits than the maximum is out of range without converting it.
        if len(text.lstrip("0")) > len(str(maximum)):
            self.invalid(f"{what} {_shown(text)} is out of range (0..{maximum})", tok)
        value = int(text)
        if value > maximum:
            self.invalid(f"{what} {value} is out of range (0..{maximum})", tok)
        return value

    def string(self, tok: Token) -> str:
        raw = str(tok)[1:-1]
        if "\\" not in raw:
            return raw  # no escapes (the usual case): the loop below would copy it unchanged
        out: list[str] = []
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == "\\":
                nxt = raw[i + 1]
                if nxt not in ('"', "\\"):
                    self.invalid(
                        f"unknown escape '\\{nxt}' in a string; only \\\" and \\\\ are allowed", tok
                    )
                out.append(nxt)
                i += 2
                continue
            out.append(c)
            i += 1
        return "".join(out)

    def verset(self, tree: Any) -> VersionSet:
        clauses: list[Clause] = []
        for child in tree.children:
            if not hasattr(child, "data"):
                continue  # COMMA
            kind = child.data
            toks = child.children
            if kind == "any_clause":
                clauses.append(Clause(Op.ANY))
            elif kind == "op_clause":
                op_tok, ver_tok = toks
                if _WILDCARD_RE.match(str(ver_tok)):
                    self.invalid(
                        f"a series wildcard like {str(ver_tok)} takes no operator; write "
                        f"'{str(ver_tok)}' alone",
                        op_tok,
                    )
                clauses.append(Clause(Op(str(op_tok)), self.version(ver_tok)))
            else:
                (ver_tok,) = toks
                m = _WILDCARD_RE.match(str(ver_tok))
                if m:
                    major, minor = int(m.group(1)), int(m.group(2))
                    if max(major, minor) > 0xFFFF_FFFF:
                        self.invalid(f"version field out of range in {str(ver_tok)!r}", ver_tok)
                    clauses.append(Clause(Op.SERIES, Version(major, minor, 0)))
                else:
                    clauses.append(Clause(Op.EQ, self.version(ver_tok)))
        return VersionSet(tuple(clauses))

    # the walk -----------------------------------------------------------------------------------

    def build(self, tree: Any) -> PolicyDocument:
        meta: dict[str, Sourced[Any]] = {}
        first_at: dict[str, Location] = {}
        deny_to: list[DenyTo] = []
        blocks: list[ReleaseBlock] = []
        for i, stmt in enumerate(tree.children):
            kw: Token = stmt.children[0]
            name = str(stmt.data)
            if i == 0 and name != "format_stmt":
                self.problem(
                    f"a policy document must start with 'format {FORMAT_VERSION}' "
                    f"(found '{str(kw)}' first)",
                    kw,
                )
            try:
                if name == "release_block":
                    blocks.append(self.release_block(stmt))
                    continue
                if name == "deny_to_stmt":
                    _, _, vs, reason = stmt.children
                    deny_to.append(DenyTo(self.verset(vs), self.string(reason), self.loc(kw)))
                    continue
                key = {"format_stmt": "format", "issued_stmt": "issued",
                       "expires_stmt": "expires", "source_stmt": "origin"}[name]
                if key in first_at:
                    self.problem(
                        f"'{str(kw)}' may appear only once in a document "
                        f"(first at {first_at[key]})",
                        kw,
                    )
                    continue
                first_at[key] = self.loc(kw)
                val_tok = stmt.children[1]
                value: Any
                if key == "format":
                    digits = str(val_tok)
                    if len(digits.lstrip("0")) > 9:  # never int() 4,300+ digits (ValueError)
                        self.invalid(
                            f"unsupported format {_shown(digits)} (out of range); this "
                            f"tdxpolicy reads format {FORMAT_VERSION}",
                            val_tok,
                        )
                    value = int(digits)
                    if value != FORMAT_VERSION:
                        self.invalid(
                            f"unsupported format {value}; this tdxpolicy reads format "
                            f"{FORMAT_VERSION}",
                            val_tok,
                        )
                elif key in ("issued", "expires"):
                    value = self.date(val_tok)
                else:
                    value = self.string(val_tok)
                meta[key] = Sourced(value, self.loc(kw))
            except _Invalid:
                continue
        issued, expires = meta.get("issued"), meta.get("expires")
        if issued is not None and expires is not None and expires.value <= issued.value:
            line = expires.source.line or 1
            self.problems.append(
                Problem(
                    f"expires {expires.value} is not after issued {issued.value} "
                    f"(at {issued.source})",
                    expires.source,
                    self.lines[line - 1],
                )
            )
        if self.problems:
            raise InputError(self.problems, code="invalid-document")
        return PolicyDocument(
            file=self.file,
            kind=SourceKind.DOCUMENT,
            meta=DocumentMeta(**meta),
            deny_to=tuple(deny_to),
            releases=tuple(blocks),
            embedded=self.embedded,
        )

    def release_block(self, tree: Any) -> ReleaseBlock:
        kw, ver_tok = tree.children[0], tree.children[1]
        version = self.version(ver_tok)
        facts: dict[str, Sourced[Any]] = {}
        rules: dict[str, list[Any]] = {"update": [], "deny": [], "rollback": [], "advisory": []}
        for stmt in tree.children[2:]:
            if not hasattr(stmt, "data"):
                continue  # braces
            skw: Token = stmt.children[0]
            args = stmt.children[1:]
            name = str(stmt.data)
            loc = self.loc(skw)
            try:
                if name in FACT_NAMES:
                    if name in facts:
                        self.problem(
                            f"duplicate '{name}' in release {ver_tok}: already declared at "
                            f"{facts[name].source}; each fact may be declared once per block",
                            skw,
                        )
                        continue
                    facts[name] = Sourced(self.fact(name, args, skw), loc)
                elif name == "update_from":
                    rules["update"].append(UpdateFrom(self.verset(args[1]), loc))
                elif name == "deny_from":
                    rules["deny"].append(DenyFrom(self.verset(args[1]), self.string(args[2]), loc))
                elif name == "rollback_to":
                    rules["rollback"].append(RollbackTo(self.verset(args[1]), loc))
                elif name == "advisory":
                    rules["advisory"].append(Advisory(str(args[0]), self.string(args[1]), loc))
            except _Invalid:
                continue
        return ReleaseBlock(
            version=version,
            source=self.loc(kw),
            facts=ReleaseFacts(**facts),
            update_from=tuple(rules["update"]),
            deny_from=tuple(rules["deny"]),
            rollback_to=tuple(rules["rollback"]),
            advisories=tuple(rules["advisory"]),
        )

    def fact(self, name: str, args: list[Any], kw: Token) -> Any:
        if name == "published":
            return self.date(args[0])
        if name in ("mrseam", "seamhash"):
            _, digits = self.hex(args[0], name)
            if len(digits) != _SHA384_HEX_DIGITS:
                self.invalid(
                    f"{name} must be {_SHA384_HEX_DIGITS} hex digits (a SHA-384), got {len(digits)}",
                    args[0],
                )
            return digits.upper()
        if name == "svn":
            tok = args[0]
            m = _SVN_RE.match(str(tok))
            if m is None:
                self.invalid(f"expected an SVN like 1.11 (major.minor), got {_shown(str(tok))}", tok)
            major, minor = int(m.group(1)), int(m.group(2))
            # SEAM SVN is a u16 in the sigstruct: high byte major, low byte minor
            # (docs/domain.md#svn).
            if major > 255:
                self.invalid(f"SVN major {major} is out of range (0..255)", tok)
            if minor > 255:
                self.invalid(f"SVN minor {minor} is out of range (0..255)", tok)
            return Svn(major, minor)
        if name == "platforms":
            # CPUID.1.EAX values: 32 bits (docs/domain.md#cpu).
            return tuple(self.hex(t, "platform", 32)[0] for t in args)
        if name == "seamldr":
            return tuple(self.version(t) for t in args)
        if name == "features0":
            return self.hex(args[0], "features0", 64)[0]
        if name == "handoff":
            # module_hv and min_update_hv are u16 sigstruct fields (docs/domain.md#image-formats).
            module = self.integer(args[1], "handoff module", 0xFFFF)
            minimum = self.integer(args[3], "handoff min", 0xFFFF)
            if minimum > module:
                # P-SEAMLDR rejects min_update_hv > module_hv (EBADSIG),
                # docs/domain.md#sigstruct-checks.
                self.invalid(
                    f"handoff min {minimum} is greater than module {module}; P-SEAMLDR "
                    "requires min_update_hv <= module_hv",
                    args[3],
                )
            return Handoff(module, minimum, len(args) > 4)
        if name == "debug":
            return True
        if name == "status":
            return Status(StatusKind(str(args[0])), self.string(args[1]))
        raise AssertionError(name)  # pragma: no cover - the grammar has no other fact
