"""Intel's published files as policy sources: the same model as a policy document.

Three files Intel publishes say something about runtime (TD-preserving) updates
(docs/domain.md#intel-data); each becomes a :class:`~tdxpolicy.model.PolicyDocument`:

- ``mapping_file.json`` (:func:`parse_mapping_json`): per release, ``update from >=
  <min_module_version_for_td_preserving>``, the ``seamldr`` and ``features0`` facts. Checked
  against ``schemas/intel-mapping.schema.json``; every schema error is reported with its JSON
  path and line:column.
- the binaries README (:func:`parse_readme_table`): the table "Intel TDX module limitations
  for TD-Preserving update" (``update from`` and ``seamldr``), and two of its "Important
  Notes": the TD-build caution (``advisory td-build``) and "2.0 versions ... currently not
  supported" (``status preview`` on the 2.0.x releases of the table).
- ``tdx-module-releases.md`` (:func:`parse_mrseam_table`): the ``mrseam`` fact.

Markdown tables are parsed with ``grammars/markdown_table.lark``. :func:`sniff_kind` tells the
kinds apart by content so ``--policy`` can take a directory of mixed files;
:func:`load_intel_file` reads one file. Merging the documents is
:func:`tdxpolicy.catalogue.merge`'s job, deciding moves the engine's.

Errors are :class:`~tdxpolicy.errors.InputError` with one located
:class:`~tdxpolicy.errors.Problem` per fault, all of them at once; nothing is half-loaded.
lark and jsonschema are imported only inside the functions that need them (CLI start-up cost).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Callable, Sequence

from .json_errors import classic
from .._value import value
from ..errors import InputError, Problem
from ..model import (
    Advisory,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    SourceKind,
    Sourced,
    Status,
    StatusKind,
    UpdateFrom,
)
from ..version import Version, VersionError, VersionSet, parse_version
from .jsontext import PathT as _PathT
from .jsontext import Positions as _Positions
from .jsontext import int_digit_limit, overlong_integer
from .jsontext import json_path as _json_path

__all__ = [
    "MAX_SOURCE_BYTES",
    "SNIFF_BYTES",
    "MAPPING_SCHEMA",
    "README_TABLE_TITLE",
    "decode_utf8",
    "parse_mapping_json",
    "parse_readme_table",
    "parse_mrseam_table",
    "sniff_kind",
    "load_intel_file",
    "mapping_schema_errors",
]

# Intel's files are a few KiB; 16 MiB leaves room for generated catalogues of 50,000+
# releases while refusing to read a wrong file (a disk image, a log) into memory.
MAX_SOURCE_BYTES = 16 * 1024 * 1024
# How much of a file sniff_kind needs to see: the README's table starts ~5 KiB in.
SNIFF_BYTES = 64 * 1024
MAPPING_SCHEMA = "intel-mapping.schema.json"
README_TABLE_TITLE = "Intel TDX module limitations for TD-Preserving update"

_BOM = b"\xef\xbb\xbf"
_MIB = 1024 * 1024


# ============================================================================================
# Shared helpers
# ============================================================================================


def _too_large(file: str, size: int) -> InputError:
    return InputError.at(
        f"file is too large ({size / _MIB:.1f} MiB): Intel's files are a few KiB, "
        f"the limit is {MAX_SOURCE_BYTES // _MIB} MiB",
        Location(file),
    )


def decode_utf8(data: bytes, file: str) -> str:
    """Decode an Intel source file. UTF-8 only; a leading UTF-8 BOM is accepted and dropped
    (RFC 8259 section 8.1 lets parsers ignore it; Windows editors add it). UTF-16/32 and
    invalid bytes are located errors."""
    if len(data) > MAX_SOURCE_BYTES:
        raise _too_large(file, len(data))
    skip = 3 if data.startswith(_BOM) else 0
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError.at(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark): expected UTF-8",
            Location(file, 1, 1, offset=0),
        )
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = skip + e.start
        line_start = data.rfind(b"\n", 0, off) + 1
        line_no = data.count(b"\n", 0, off) + 1
        col = len(data[max(line_start, skip) : off].decode("utf-8", "replace")) + 1
        line_end = data.find(b"\n", off)
        src = data[line_start : line_end if line_end >= 0 else len(data)]
        raise InputError(
            [
                Problem(
                    f"not UTF-8: byte 0x{data[off]:02X} is not valid here "
                    "(save the file as UTF-8)",
                    Location(file, line_no, col, offset=off),
                    src.decode("utf-8", "replace"),
                )
            ]
        ) from None


def _show(value: Any) -> str:
    """A short, printable rendering of a JSON value for messages (never the whole value)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + '..."' if isinstance(value, str) else text[:57] + "..."
    # Lone surrogates from \\ud800 escapes cannot be printed: escape them.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def _check_release_versions(
    version: Version, minimum: Version, min_loc: Location, what_min: str
) -> Problem | None:
    """Intel's ``min_module_version_for_td_preserving`` compares update numbers within the
    release's own series (docs/domain.md#update-rule)."""
    if minimum.series != version.series:
        return Problem(
            f"{what_min} {minimum} is in series {minimum.series_text}, but release {version} "
            f"is in series {version.series_text}: Intel's rule compares update numbers within "
            "one series",
            min_loc,
        )
    if minimum > version:
        return Problem(
            f"{what_min} {minimum} is newer than the release {version} itself: "
            "no running version could be updated to it",
            min_loc,
        )
    return None


# ============================================================================================
# mapping_file.json
# ============================================================================================

# json's syntax-error messages, in words (the position is added by the caller).
_JSON_SYNTAX_PHRASES = {
    "Expecting value": "expected a JSON value (an object, list, string, number, true, false or null)",
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Expecting ':' delimiter": "expected ':' after the key",
    "Expecting ',' delimiter": "expected ',' or a closing bracket",
    "Unterminated string starting at": "unterminated string: expected a closing '\"' on this line",
    "Invalid control character at": (
        "control character inside a string (strings end on the same line; write \\n for a "
        "line break)"
    ),
    "Invalid \\escape": "invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
    "Invalid \\uXXXX escape": "invalid \\uXXXX escape in a string",
    "Extra data": "unexpected text after the end of the JSON object",
}


def _syntax_error(e: json.JSONDecodeError, text: str, file: str) -> InputError:
    e = classic(e)
    words = _JSON_SYNTAX_PHRASES.get(e.msg, e.msg)
    rest = text[e.pos :]
    if not rest.strip() and e.msg != "Extra data":
        words = f"the JSON ends too early (is the file truncated?): {words}"
    elif e.msg == "Expecting property name enclosed in double quotes":
        before = text[: e.pos].rstrip()
        if before.endswith(","):
            words += " (JSON does not allow a comma before '}')"
    elif e.msg == "Expecting value":
        before = text[: e.pos].rstrip()
        if before.endswith(",") and rest.lstrip().startswith("]"):
            words += " (JSON does not allow a comma before ']')"
    lines = text.split("\n")
    src = lines[e.lineno - 1] if e.lineno - 1 < len(lines) else None
    return InputError(
        [Problem(f"invalid JSON: {words}", Location(file, e.lineno, e.colno), src)]
    )


def _overlong_integer_error(text: str, file: str) -> InputError:
    found = overlong_integer(text)
    if found is None:  # pragma: no cover - json raises this ValueError only for such a number
        return InputError.at("invalid JSON: a number is out of range", Location(file))
    offset, digits = found
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return InputError(
        [
            Problem(
                f"number out of range: {digits} digits (JSON numbers are read with at most "
                f"{int_digit_limit()} digits; Intel's mapping file holds no numbers, only "
                "strings)",
                Location(file, line, offset - start + 1),
                text[start : end if end >= 0 else len(text)],
            )
        ]
    )


_VERSION_FULL = re.compile(r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}")
_HEX64_FULL = re.compile(r"0x[0-9A-Fa-f]{1,16}")
_RELEASE_KEYS = frozenset(
    ("version", "min_module_version_for_td_preserving", "min_seamldr_versions", "tdx_feature0")
)
_TOP_KEYS = frozenset(("Header", "tdx_module_releases"))


def _fast_valid(obj: Any) -> bool:
    """True only when ``obj`` certainly satisfies ``schemas/intel-mapping.schema.json``.

    jsonschema needs ~0.9 s for 10,000 releases; this check needs a few milliseconds. It is
    at least as strict as the schema (a property test holds it to that), so when it says
    False the schema is consulted and reports every error with its path.
    """
    if type(obj) is not dict or obj.keys() != _TOP_KEYS:
        return False
    header = obj["Header"]
    if type(header) is not dict or header.get("Version") != "1.0":
        return False
    if type(header["Version"]) is not str:
        return False
    for k in ("Copyright", "Info"):
        if k in header and type(header[k]) is not str:
            return False
    releases = obj["tdx_module_releases"]
    if type(releases) is not list or not releases:
        return False
    vfull = _VERSION_FULL.fullmatch
    for r in releases:
        if type(r) is not dict or r.keys() != _RELEASE_KEYS:
            return False
        v, m, s, f = (
            r["version"],
            r["min_module_version_for_td_preserving"],
            r["min_seamldr_versions"],
            r["tdx_feature0"],
        )
        if type(v) is not str or not vfull(v) or type(m) is not str or not vfull(m):
            return False
        if type(s) is not list or not s:
            return False
        for x in s:
            if type(x) is not str or not vfull(x):
                return False
        if type(f) is not str or not _HEX64_FULL.fullmatch(f):
            return False
    return True


@cache
def _mapping_validator() -> Any:
    import jsonschema  # type: ignore[import-untyped]

    from ..resources import schema_path

    schema = json.loads(schema_path(MAPPING_SCHEMA).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _schema_problem(err: Any, pos: _Positions, file: str) -> list[Problem]:
    path: _PathT = tuple(err.absolute_path)
    expected = err.schema.get("x-expected", "a value allowed by the mapping schema")
    kind = err.validator
    inst = err.instance
    where = "a release" if len(path) == 2 and path[0] == "tdx_module_releases" else (
        "the header" if path == ("Header",) else "the file"
    )
    if kind == "required":
        allowed = list(err.validator_value)
        missing = [k for k in allowed if isinstance(inst, dict) and k not in inst]
        return [
            pos.problem(
                f"missing key '{k}': {where} needs {', '.join(allowed)}", file, path
            )
            for k in missing
        ]
    if kind == "additionalProperties":
        import difflib

        known = list(err.schema.get("properties", {}))
        out = []
        for k in inst:
            if k in known:
                continue
            near = difflib.get_close_matches(k, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            out.append(
                pos.problem(
                    f"unknown key {_show(k)}{hint}: {where} has only {', '.join(known)} "
                    "(unknown keys are refused: they may carry a rule tdxpolicy would ignore)",
                    file,
                    path + (k,),
                    key=True,
                )
            )
        return out
    if kind == "type":
        msg = f"expected {expected}, got {_json_type(inst)} {_show(inst)}"
        if isinstance(inst, (dict, list)) or inst is None:
            msg = f"expected {expected}, got {_show(inst)}"
        return [pos.problem(msg, file, path)]
    if kind == "const" and path == ("Header", "Version"):
        return [
            pos.problem(
                f"unsupported mapping format version {_show(inst)}: tdxpolicy reads Intel's "
                'format "1.0"',
                file,
                path,
            )
        ]
    if kind in ("pattern", "const", "minItems"):
        return [pos.problem(f"expected {expected}, got {_show(inst)}", file, path)]
    return [pos.problem(f"{err.message}", file, path)]


def mapping_schema_errors(obj: Any, text: str, file: str) -> list[Problem]:
    """Every violation of ``schemas/intel-mapping.schema.json`` in ``obj`` (parsed from
    ``text``), located, in file order. Used when the fast check fails, and by tests."""
    pos = _Positions(text)
    out: list[Problem] = []
    for err in _mapping_validator().iter_errors(obj):
        out.extend(_schema_problem(err, pos, file))
    return _sorted(out)


def _sorted(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple[int, int, str]:
        loc = p.location
        if loc is None:
            return (0, 0, p.message)
        return (loc.line or 0, loc.column or 0, p.message)

    unique = list(dict.fromkeys(problems))  # jsonschema may report one fault twice
    return sorted(unique, key=key)


def parse_mapping_json(data: bytes, file: str, *, use_schema: bool = False) -> PolicyDocument:
    """Intel's ``mapping_file.json`` (format 1.0) as a policy document.

    Per release: ``update from >= <min_module_version_for_td_preserving>`` (policy-format.md:
    Intel's X is ``update from >= X`` within the series), ``seamldr`` (the versions of
    ``min_seamldr_versions``) and ``features0`` (``tdx_feature0``). Every fact and rule is
    located by JSON path and line:column. ``use_schema`` forces jsonschema even when the fast
    check passes (tests, benchmarks).
    """
    text = decode_utf8(data, file)
    if not text.strip():
        raise InputError.at(
            "the file is empty: expected Intel's mapping JSON "
            "(an object with 'Header' and 'tdx_module_releases')",
            Location(file, 1, 1),
        )
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise _syntax_error(e, text, file) from None
    except RecursionError:
        raise InputError.at(
            "the JSON is nested too deeply to be a mapping file", Location(file, 1, 1)
        ) from None
    except ValueError:
        # Not a JSONDecodeError: json refuses an integer of more digits than int() converts
        # (sys.get_int_max_str_digits(), 4,300), without a position. No value of a mapping
        # file is a number at all.
        raise _overlong_integer_error(text, file) from None

    pos = _Positions(text)
    problems: list[Problem] = [
        pos.problem(
            f"duplicate key {_show(p[-1])}: JSON keeps only the last one, which would hide "
            "the first; remove one",
            file,
            p,
            key=True,
        )
        for p, _ in pos.duplicate_keys
    ]
    schema_ok = _fast_valid(obj) and not use_schema
    if not schema_ok:
        for err in _mapping_validator().iter_errors(obj):
            problems.extend(_schema_problem(err, pos, file))
    if problems:
        raise InputError(_sorted(problems))

    # The schema holds: build the blocks, checking what a schema cannot say.
    releases = _build_releases(obj["tdx_module_releases"], pos, file, problems)
    if problems:
        raise InputError(_sorted(problems))
    return PolicyDocument(file=file, kind=SourceKind.MAPPING_JSON, releases=tuple(releases))


def _build_releases(
    entries: list[dict[str, Any]], pos: _Positions, file: str, problems: list[Problem]
) -> list[ReleaseBlock]:
    """Schema-valid release entries -> blocks (the hot path: bench/bench_sources.py).

    Version texts repeat (P-SEAMLDR lines, minimums), so each distinct text is parsed once.
    """
    versions: dict[str, Version] = {}
    at_least: dict[str, VersionSet] = {}
    line_col = pos.line_col
    release_at = pos.children.get(("tdx_module_releases",), {})

    def ver(text: str) -> Version:
        v = versions.get(text)
        if v is None:
            v = versions[text] = parse_version(text)
        return v

    def loc(off: int | None, shown: str) -> Location:
        if off is None:
            return Location(file, path=shown)
        line, col = line_col(off)
        return Location(file, line, col, path=shown)

    releases: list[ReleaseBlock] = []
    first_seen: dict[Version, Location] = {}
    for i, r in enumerate(entries):
        base: _PathT = ("tdx_module_releases", i)
        vpath = base + ("version",)
        mpath = base + ("min_module_version_for_td_preserving",)
        spath = base + ("min_seamldr_versions",)
        shown = f"$.tdx_module_releases[{i}]"
        mtext = r["min_module_version_for_td_preserving"]
        # The schema's '$' admits a final newline ("1.5.06\n"); parse_version does not.
        try:
            version = ver(r["version"])
            minimum = ver(mtext)
        except VersionError as e:
            bad_path = vpath if not _VERSION_FULL.fullmatch(r["version"]) else mpath
            problems.append(pos.problem(str(e), file, bad_path))
            continue
        try:
            seamldr = tuple([ver(x) for x in r["min_seamldr_versions"]])
        except VersionError as e:
            j = next(
                j for j, x in enumerate(r["min_seamldr_versions"]) if not _VERSION_FULL.fullmatch(x)
            )
            problems.append(pos.problem(str(e), file, spath + (j,)))
            continue
        at = pos.children.get(base, {})
        vloc = loc(at.get("version"), shown + ".version")
        mloc = loc(
            at.get("min_module_version_for_td_preserving"),
            shown + ".min_module_version_for_td_preserving",
        )
        if version in first_seen:
            problems.append(
                pos.problem(
                    f"release {version} is listed twice (first at {first_seen[version]})",
                    file,
                    vpath,
                )
            )
        else:
            first_seen[version] = vloc
        # docs/domain.md#update-rule: Intel's minimum is compared within the series.
        bad = _check_release_versions(
            version, minimum, mloc, "min_module_version_for_td_preserving"
        )
        if bad is not None:
            problems.append(pos.problem(bad.message, file, mpath))
        vset = at_least.get(mtext)
        if vset is None:
            vset = at_least[mtext] = VersionSet.at_least(minimum)
        releases.append(
            ReleaseBlock(
                version=version,
                source=loc(release_at.get(i), shown),
                facts=ReleaseFacts(
                    seamldr=Sourced(
                        seamldr, loc(at.get("min_seamldr_versions"), shown + ".min_seamldr_versions")
                    ),
                    features0=Sourced(
                        int(r["tdx_feature0"], 16),
                        loc(at.get("tdx_feature0"), shown + ".tdx_feature0"),
                    ),
                ),
                update_from=(UpdateFrom(vset, mloc),),
            )
        )
    return releases


# ============================================================================================
# Markdown tables (grammars/markdown_table.lark)
# ============================================================================================


@value
class _Cell:
    text: str  # stripped
    line: int  # 1-based, in the file
    column: int  # 1-based, first non-blank character (or the closing '|' when empty)


@value
class _Row:
    line: int
    column: int
    cells: tuple[_Cell, ...]


@value
class _Table:
    header: _Row
    rows: tuple[_Row, ...]


_TERMINAL_PHRASES = {
    "PIPE": "'|'",
    "CELL": "a cell ending with '|'",
    "SEPCELL": "a separator cell like '---'",
    "_NL": "the end of the row",
    "_INDENT": "indentation",
    "$END": "the end of the table",
}


@cache
def _table_parser() -> Any:
    from lark import Lark

    from ..resources import grammar_path

    return Lark(
        grammar_path("markdown_table.lark").read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
    )


def _table_blocks(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(first, end) line indexes (0-based, end exclusive) of runs of lines starting with '|'."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(lines)
    while i < n:
        if lines[i].lstrip(" \t").startswith("|"):
            j = i
            while j < n and lines[j].lstrip(" \t").startswith("|"):
                j += 1
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def _pos(n: int | None) -> int:
    """lark's token positions are typed optional; with propagate_positions they are set."""
    return n if n is not None else 1


def _parse_table(lines: Sequence[str], first: int, end: int, file: str) -> _Table:
    """Parse lines[first:end] with the table grammar; positions are the file's."""
    from lark import Token, Tree
    from lark.exceptions import UnexpectedEOF, UnexpectedInput

    block = "\n".join(lines[first:end]) + "\n"
    try:
        tree = _table_parser().parse(block)
    except UnexpectedInput as e:
        line = getattr(e, "line", 0) or 0
        column = getattr(e, "column", 0) or 0
        if isinstance(e, UnexpectedEOF) or line <= 0:
            line, column = end - first, 1
        expected: set[str] = set(
            getattr(e, "allowed", None) or getattr(e, "expected", None) or ()
        )
        src = lines[first + line - 1]
        rest = src[column - 1 :]
        if "CELL" in expected and "|" not in rest:
            msg = "malformed table row: the row does not end with '|'"
        else:
            phrases = sorted({_TERMINAL_PHRASES.get(t, t) for t in expected})
            msg = "malformed table row: expected " + " or ".join(phrases)
        raise InputError([Problem(msg, Location(file, first + line, column), src)]) from None

    def row(t: Any) -> _Row:
        cells: list[_Cell] = []
        lead: Token | None = None
        for child in t.children:
            if isinstance(child, Token):  # the leading PIPE
                lead = lead or child
                continue
            assert isinstance(child, Tree)
            toks = [c for c in child.children if isinstance(c, Token)]
            text_tok = toks[0] if len(toks) == 2 else None
            pipe = toks[-1]
            if text_tok is None:
                cells.append(_Cell("", first + _pos(pipe.line), _pos(pipe.column)))
            else:
                raw = str(text_tok)
                stripped = raw.strip()
                lead_ws = len(raw) - len(raw.lstrip())
                cells.append(
                    _Cell(stripped, first + _pos(text_tok.line), _pos(text_tok.column) + lead_ws)
                )
        assert lead is not None
        return _Row(first + _pos(lead.line), _pos(lead.column), tuple(cells))

    header = row(tree.children[0])
    sep = tree.children[1]
    sep_pipe = sep.children[0]
    nsep = len(sep.children) - 1
    if nsep != len(header.cells):
        raise InputError.at(
            f"the separator row has {nsep} cells, the header has {len(header.cells)}",
            Location(file, first + _pos(sep_pipe.line), _pos(sep_pipe.column)),
            lines[first + _pos(sep_pipe.line) - 1],
        )
    body = tuple(row(t) for t in tree.children[2:])
    return _Table(header, body)


def _cell_problem(cell: _Cell, message: str, lines: Sequence[str], file: str) -> Problem:
    return Problem(message, Location(file, cell.line, cell.column), lines[cell.line - 1])


def _cell_version(
    cell: _Cell, column: str, lines: Sequence[str], file: str, problems: list[Problem]
) -> Version | None:
    try:
        return parse_version(cell.text)
    except VersionError as e:
        problems.append(_cell_problem(cell, f"column '{column}': {e}", lines, file))
        return None


def _check_row_width(
    row: _Row, want: int, what: str, lines: Sequence[str], file: str, problems: list[Problem]
) -> bool:
    if len(row.cells) == want:
        return True
    problems.append(
        Problem(
            f"the row has {len(row.cells)} cells, expected {want} ({what})",
            Location(file, row.line, row.column),
            lines[row.line - 1],
        )
    )
    return False


def _check_text(text: str, file: str) -> list[str]:
    if len(text) > MAX_SOURCE_BYTES:
        raise _too_large(file, len(text.encode("utf-8", "surrogatepass")))
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.split("\n")


# --- the TD-preserving limitations table (binaries README) ----------------------------------

_README_COLUMNS = (
    "Intel TDX Module to be Updated",
    "Minimum Version of Existing Running Intel TDX Module",
    "Supported SEAMLDR Versions",
)
# The README table's header: "minimum version", then a '|', then "seamldr", on one line. Not
# one expression like "minimum\s+version.*\|.*seamldr": its two ".*" try every '|' of the line
# against every later position (3.4 s for one line of 32,000 '|'). The first "minimum version"
# of a line decides for the whole line (a later one only sees less of it), so
# _has_readme_header looks at each line once.
_README_MINIMUM_RE = re.compile(r"minimum\s++version", re.IGNORECASE)
_SEAMLDR_RE = re.compile(r"seamldr", re.IGNORECASE)
_README_TITLE_RE = re.compile(r"limitations\s+for\s+TD[- ]Preserving\s+update", re.IGNORECASE)
_HEADING_RE = re.compile(r"\s{0,3}#{1,6}\s")
_LIST_ITEM_RE = re.compile(r"([ \t]*)[-*+][ \t]+(\S.*)")
# Intel: "Intel TDX module 2.0 versions include pre-production Connect interfaces and are
# currently not supported." (docs/domain.md#operational-cautions)
# Two steps rather than one "...versions\b.*\bnot\s+supported" (quadratic in a note repeating
# "1.2 versions"): the first "N.M versions" is the one such a search would report, and
# "not supported" must follow it. Fields have at most 10 digits (int() refuses 4,300).
_SERIES_VERSIONS_RE = re.compile(r"\b([0-9]{1,10})\.([0-9]{1,10})\s++versions\b", re.IGNORECASE)
_NOT_SUPPORTED_RE = re.compile(r"\bnot\s++supported\b", re.IGNORECASE)
# Intel: "Performing TD Preserving during a TD Build operation might result in a corrupted TD
# hash ..." (docs/domain.md#operational-cautions)
_TD_BUILD_RE = re.compile(r"\bTD\s+Build\b", re.IGNORECASE)
_TD_PRESERVING_RE = re.compile(r"\bTD[- ]Preserving\b", re.IGNORECASE)
_QUOTE_PREFIX = "Intel: "


def _has_readme_header(text: str) -> bool:
    """Does some line of ``text`` hold "minimum version", later a '|', later "seamldr"?
    Linear: each line is looked at from its first "minimum version" only."""
    pos = 0
    while True:
        m = _README_MINIMUM_RE.search(text, pos)
        if m is None:
            return False
        eol = text.find("\n", m.end())
        if eol < 0:
            eol = len(text)
        bar = text.find("|", m.end(), eol)
        if bar >= 0 and _SEAMLDR_RE.search(text, bar + 1, eol) is not None:
            return True
        pos = eol + 1


def _has_mrseam_header(text: str) -> bool:
    return _MRSEAM_HEADER_RE.search(text) is not None


def _find_block(
    lines: Sequence[str], is_header: Callable[[str], bool]
) -> tuple[int, int] | None:
    for first, end in _table_blocks(lines):
        if is_header(lines[first]):
            return first, end
    return None


@value
class _Note:
    text: str
    line: int
    column: int


def _section_notes(lines: Sequence[str], first: int, end: int) -> list[_Note]:
    """The list items of the Markdown section that holds the table (from the heading above
    it to the next heading), each with its continuation lines joined."""
    start = first
    while start > 0 and not _HEADING_RE.match(lines[start - 1]):
        start -= 1
    stop = end
    while stop < len(lines) and not _HEADING_RE.match(lines[stop]):
        stop += 1
    notes: list[_Note] = []
    i = start
    while i < stop:
        m = _LIST_ITEM_RE.fullmatch(lines[i].rstrip("\r \t"))
        if m is None:
            i += 1
            continue
        parts = [m.group(2).strip()]
        line, column = i + 1, m.start(2) + 1
        i += 1
        while i < stop:
            nxt = lines[i].rstrip("\r \t")
            if not nxt.strip() or _LIST_ITEM_RE.fullmatch(nxt) or nxt.lstrip().startswith("|"):
                break
            parts.append(nxt.strip())
            i += 1
        notes.append(_Note(" ".join(parts), line, column))
    return notes


def parse_readme_table(text: str, file: str) -> PolicyDocument:
    """Intel's binaries README: the table "Intel TDX module limitations for TD-Preserving
    update" and two of the notes beside it, as a policy document.

    Row ``| T | M | L1, L2 |`` -> ``release T { update from >= M; seamldr L1 L2 }``. The
    TD-build note -> ``advisory td-build "<Intel's text>"`` on every release of the table;
    "N.M versions ... currently not supported" -> ``status preview "<Intel's text>"`` on the
    table's N.M.x releases.
    """
    lines = _check_text(text, file)
    found = _find_block(lines, _has_readme_header)
    if found is None:
        raise InputError.at(
            f"no table '{README_TABLE_TITLE}' found: expected Intel's binaries README with a "
            f"Markdown table '| {' | '.join(_README_COLUMNS)} |'",
            Location(file, 1, 1),
        )
    first, end = found
    table = _parse_table(lines, first, end, file)
    problems: list[Problem] = []
    _check_row_width(table.header, 3, " | ".join(_README_COLUMNS), lines, file, problems)
    if problems:
        raise InputError(problems)

    parsed: list[tuple[_Row, Version, Version, tuple[Version, ...]]] = []
    first_seen: dict[Version, Location] = {}
    for row in table.rows:
        if not _check_row_width(
            row, 3, "version | minimum running version | SEAMLDR versions", lines, file, problems
        ):
            continue
        vcell, mcell, scell = row.cells
        version = _cell_version(vcell, _README_COLUMNS[0], lines, file, problems)
        minimum = _cell_version(mcell, _README_COLUMNS[1], lines, file, problems)
        seamldr = _seamldr_list(scell, lines, file, problems)
        if version is None or minimum is None or seamldr is None:
            continue
        vloc = Location(file, vcell.line, vcell.column)
        if version in first_seen:
            problems.append(
                _cell_problem(
                    vcell, f"release {version} is listed twice (first at {first_seen[version]})",
                    lines, file,
                )
            )
            continue
        first_seen[version] = vloc
        bad = _check_release_versions(
            version, minimum, Location(file, mcell.line, mcell.column),
            "the minimum running version",
        )
        if bad is not None:
            problems.append(_cell_problem(mcell, bad.message, lines, file))
            continue
        parsed.append((row, version, minimum, seamldr))
    if problems:
        raise InputError(_sorted(problems))

    advisories: list[Advisory] = []
    preview: list[tuple[tuple[int, int], Sourced[Status]]] = []
    for note in _section_notes(lines, first, end):
        loc = Location(file, note.line, note.column)
        # "Intel: " + the note verbatim, as the embedded documents quote it
        # (tdxpolicy.sources.intel_notes): a status is a fact, and facts must agree.
        quoted = _QUOTE_PREFIX + note.text
        if _TD_BUILD_RE.search(note.text) and _TD_PRESERVING_RE.search(note.text):
            advisories.append(Advisory("td-build", quoted, loc))
        m = _SERIES_VERSIONS_RE.search(note.text)
        if m is not None and _NOT_SUPPORTED_RE.search(note.text, m.end()) is not None:
            series = (int(m.group(1)), int(m.group(2)))
            preview.append((series, Sourced(Status(StatusKind.PREVIEW, quoted), loc)))

    blocks: list[ReleaseBlock] = []
    for row, version, minimum, seamldr in parsed:
        vcell, mcell, scell = row.cells
        status = next((s for series, s in preview if series == version.series), None)
        blocks.append(
            ReleaseBlock(
                version=version,
                source=Location(file, vcell.line, vcell.column),
                facts=ReleaseFacts(
                    seamldr=Sourced(seamldr, Location(file, scell.line, scell.column)),
                    status=status,
                ),
                update_from=(
                    UpdateFrom(
                        VersionSet.at_least(minimum), Location(file, mcell.line, mcell.column)
                    ),
                ),
                advisories=tuple(advisories),
            )
        )
    return PolicyDocument(file=file, kind=SourceKind.README_TABLE, releases=tuple(blocks))


def _seamldr_list(
    cell: _Cell, lines: Sequence[str], file: str, problems: list[Problem]
) -> tuple[Version, ...] | None:
    """``1.5.00, 2.0.00``: comma-separated versions, each located at its own column."""
    if not cell.text:
        problems.append(
            _cell_problem(
                cell,
                f"column '{_README_COLUMNS[2]}': expected P-SEAMLDR versions like "
                "'1.5.00, 2.0.00', got an empty cell",
                lines, file,
            )
        )
        return None
    out: list[Version] = []
    offset = 0
    ok = True
    for part in cell.text.split(","):
        stripped = part.strip()
        col = cell.column + offset + (len(part) - len(part.lstrip()))
        offset += len(part) + 1
        try:
            out.append(parse_version(stripped))
        except VersionError as e:
            ok = False
            problems.append(
                Problem(
                    f"column '{_README_COLUMNS[2]}': {e}",
                    Location(file, cell.line, col),
                    lines[cell.line - 1],
                )
            )
    return tuple(out) if ok else None


# --- the MRSEAM table (tdx-module-releases.md) ----------------------------------------------

_MRSEAM_HEADER_RE = re.compile(r"\|\s*Version\s*\|\s*MRSEAM\s*\|", re.IGNORECASE)
_LINKED_RE = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_MRSEAM_RE = re.compile(r"(?:0[xX])?([0-9A-Fa-f]+)")
_MRSEAM_DIGITS = 96  # SHA-384


def parse_mrseam_table(text: str, file: str) -> PolicyDocument:
    """Intel's release list with MRSEAM (``tdx-module-releases.md``): one ``mrseam`` fact per
    row, stored as 96 upper-case hex digits without ``0x``.

    The version cell is ``[1.5.01](link)``, ``1.5.28*`` (``*``: Intel's footnote "in the
    process of being integrated by our partners"; not a fact) or a bare version.
    """
    lines = _check_text(text, file)
    found = _find_block(lines, _has_mrseam_header)
    if found is None:
        raise InputError.at(
            "no release table found: expected Intel's tdx-module-releases.md with a Markdown "
            "table '| Version | MRSEAM |'",
            Location(file, 1, 1),
        )
    first, end = found
    table = _parse_table(lines, first, end, file)
    problems: list[Problem] = []
    first_seen: dict[Version, Location] = {}
    blocks: list[ReleaseBlock] = []
    for row in table.rows:
        if not _check_row_width(row, 2, "version | MRSEAM", lines, file, problems):
            continue
        vcell, hcell = row.cells
        vtext, vcol = vcell.text, vcell.column
        m = _LINKED_RE.fullmatch(vtext)
        if m is not None:
            vtext, vcol = m.group(1).strip(), vcol + 1 + (len(m.group(1)) - len(m.group(1).lstrip()))
        elif vtext.endswith("*"):
            # Intel's footnote mark (rstrip, not a "(.*?)\*+" expression: that one is
            # quadratic in a run of '*').
            vtext = vtext.rstrip("*").strip()
        version = _cell_version(_Cell(vtext, vcell.line, vcol), "Version", lines, file, problems)
        mrseam = _mrseam_cell(hcell, lines, file, problems)
        if version is None or mrseam is None:
            continue
        vloc = Location(file, vcell.line, vcol)
        if version in first_seen:
            problems.append(
                Problem(
                    f"release {version} is listed twice (first at {first_seen[version]})",
                    vloc, lines[vcell.line - 1],
                )
            )
            continue
        first_seen[version] = vloc
        blocks.append(
            ReleaseBlock(
                version=version,
                source=vloc,
                facts=ReleaseFacts(
                    mrseam=Sourced(mrseam, Location(file, hcell.line, hcell.column))
                ),
            )
        )
    if problems:
        raise InputError(_sorted(problems))
    return PolicyDocument(file=file, kind=SourceKind.MRSEAM_TABLE, releases=tuple(blocks))


def _mrseam_cell(
    cell: _Cell, lines: Sequence[str], file: str, problems: list[Problem]
) -> str | None:
    m = _MRSEAM_RE.fullmatch(cell.text)
    if m is None:
        problems.append(
            _cell_problem(
                cell,
                "column 'MRSEAM': expected 0x and 96 hex digits (SHA-384 of the module), "
                f"got {_show(cell.text)}",
                lines, file,
            )
        )
        return None
    digits = m.group(1)
    if len(digits) != _MRSEAM_DIGITS:
        problems.append(
            _cell_problem(
                cell,
                f"column 'MRSEAM': expected 96 hex digits (SHA-384 of the module), "
                f"got {len(digits)}",
                lines, file,
            )
        )
        return None
    return digits.upper()


# ============================================================================================
# Recognising and loading files
# ============================================================================================

# Possessive throughout: with "#[^\n]*" free to give back a '\r' that "\r?" could take
# instead, a failing match tried both ways on every "#\r\n" line (26 such lines: 7.7 s).
_FORMAT_LINE_RE = re.compile(rb"\A(?:[ \t]*+(?:#[^\n]*+)?+\r?\n)*+[ \t]*+format[ \t]++1\b")


def sniff_kind(path: Path, head: bytes) -> SourceKind | None:
    """What kind of policy source a file is, from its name and first bytes, or None.

    ``.tdxpolicy`` or a first statement ``format 1`` -> document; a JSON object naming
    ``tdx_module_releases`` (or ``Header``, so that
    a damaged mapping file gets the mapping file's errors) -> mapping JSON; Markdown with the
    TD-preserving table's header -> README table; with a ``| Version | MRSEAM |`` header ->
    MRSEAM table. Other JSON and Markdown files -> None: a policy directory may hold notes.

    Intel's README puts its table ~5 KiB in: when ``head`` is shorter than
    :data:`SNIFF_BYTES` and finds no table, up to :data:`SNIFF_BYTES` of ``path`` are read.
    """
    suffix = path.suffix.lower()
    if suffix == ".tdxpolicy":
        return SourceKind.DOCUMENT
    body = head[3:] if head.startswith(_BOM) else head
    if _FORMAT_LINE_RE.match(body):
        return SourceKind.DOCUMENT
    if body.lstrip().startswith(b"{") or suffix == ".json":
        if any(k in body for k in _MAPPING_MARKERS):
            return SourceKind.MAPPING_JSON
        return None
    kind = _sniff_markdown(body)
    if kind is None and len(head) < SNIFF_BYTES and suffix in (".md", ".markdown"):
        try:
            with path.open("rb") as fh:
                more = fh.read(SNIFF_BYTES)
        except OSError:
            return None
        if len(more) > len(head):
            kind = _sniff_markdown(more)
    return kind


_MAPPING_MARKERS = (b'"tdx_module_releases"', b'"Header"')


def no_table_error(text: str, file: str) -> InputError:
    """The error for a Markdown file named explicitly as a source that holds neither table.

    Located at ``file:1:1`` and naming both tables looked for, so that an operator who passed
    the wrong Markdown file (or a README whose table header was edited) sees what is missing.
    A file that has the README table's title but not its header gets the README's own error.
    """
    if _README_TITLE_RE.search(text):
        try:
            parse_readme_table(text, file)
        except InputError as e:
            return e
    what = "the file is empty" if not text.strip() else "no Intel table found"
    return InputError.at(
        f"{what}: expected Intel's binaries README with the table '{README_TABLE_TITLE}' "
        f"(header '| {' | '.join(_README_COLUMNS)} |') or Intel's tdx-module-releases.md "
        "with the table '| Version | MRSEAM |'",
        Location(file, 1, 1),
        code="unsupported-source",
    )


def _sniff_markdown(data: bytes) -> SourceKind | None:
    text = data.decode("utf-8", "replace")
    if _has_readme_header(text):
        return SourceKind.README_TABLE
    if _has_mrseam_header(text):
        return SourceKind.MRSEAM_TABLE
    return None


def parse_intel_bytes(data: bytes, file: str, kind: SourceKind) -> PolicyDocument:
    """Parse one of Intel's kinds (not a .tdxpolicy document) from raw bytes."""
    if kind is SourceKind.MAPPING_JSON:
        return parse_mapping_json(data, file)
    text = decode_utf8(data, file)
    if kind is SourceKind.README_TABLE:
        return parse_readme_table(text, file)
    if kind is SourceKind.MRSEAM_TABLE:
        return parse_mrseam_table(text, file)
    raise ValueError(f"not an Intel source kind: {kind}")


def load_intel_file(path: Path) -> PolicyDocument:
    """Read, recognise and parse one file (any kind; documents go to the document parser)."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise _too_large(file, size)
        data = path.read_bytes()
    except OSError as e:
        raise InputError.at(f"cannot read the file: {e.strerror or e}", Location(file)) from None
    kind = sniff_kind(path, data[:SNIFF_BYTES])
    if kind is None:
        raise InputError.at(
            "not a policy source: expected a policy document (.tdxpolicy, 'format 1'), Intel's "
            "mapping_file.json, Intel's binaries README (TD-preserving table) or "
            "tdx-module-releases.md (MRSEAM table)",
            Location(file, 1, 1),
        )
    if kind is SourceKind.DOCUMENT:
        from .document import parse_document

        return parse_document(decode_utf8(data, file), file)
    return parse_intel_bytes(data, file, kind)
