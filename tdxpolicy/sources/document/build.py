"""A policy document's parse tree -> :class:`~tdxpolicy.model.PolicyDocument`, with the checks
the grammar cannot make: the grammar lexes values loosely, so each value's exact shape and
range is checked here, on typed values, and every problem of the document is collected
before one :class:`~tdxpolicy.errors.InputError` is raised."""

from __future__ import annotations

import datetime as _dt
import re
from typing import TYPE_CHECKING, Any, NoReturn

from ...errors import InputError, Problem
from ...model import (
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
from ...version import Clause, Op, Version, VersionError, VersionSet, parse_version
from .syntax import shown

if TYPE_CHECKING:  # pragma: no cover
    from lark import Token

__all__ = ["FORMAT_VERSION", "Builder"]

FORMAT_VERSION = 1

_HEX_RE = re.compile(r"\A0[xX]([0-9A-Fa-f]+)\Z")
_SVN_RE = re.compile(r"\A([0-9]{1,10})\.([0-9]{1,10})\Z")
_DATE_RE = re.compile(r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_WILDCARD_RE = re.compile(r"\A([0-9]{1,10})\.([0-9]{1,10})\.\*\Z")
_SHA384_HEX_DIGITS = 96


class _Invalid(Exception):
    """A value that failed its check; recorded as a problem, parsing continues."""


class Builder:
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
            self.invalid(f"expected a date like 2026-02-10 (YYYY-MM-DD), got {shown(str(tok))}", tok)
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as e:
            self.invalid(f"invalid date {str(tok)!r}: {e}", tok)

    def hex(self, tok: Token, what: str, bits: int | None = None) -> tuple[int, str]:
        m = _HEX_RE.match(str(tok))
        if m is None:
            self.invalid(f"expected a hex number like 0x806F8 for {what}, got {shown(str(tok))}", tok)
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
            self.invalid(f"{what} {shown(text)} is out of range (0..{maximum})", tok)
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
                            f"unsupported format {shown(digits)} (out of range); this "
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
                self.invalid(f"expected an SVN like 1.11 (major.minor), got {shown(str(tok))}", tok)
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
