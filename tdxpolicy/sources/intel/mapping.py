"""Intel's ``mapping_file.json`` (format 1.0) as a policy document.

Per release: ``update from >= <min_module_version_for_td_preserving>``, the ``seamldr`` and
``features0`` facts. Checked against ``schemas/intel-mapping.schema.json`` (a fast check
first, jsonschema when it fails); every schema error is reported with its JSON path and
line:column, found by :class:`tdxpolicy.sources.jsontext.Positions`. JSON syntax errors are
worded by :func:`tdxpolicy.sources.json_errors.invalid_json`. jsonschema is imported only
when needed (CLI start-up cost).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from ...errors import InputError, Problem
from ...model import (
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    SourceKind,
    Sourced,
    UpdateFrom,
)
from ...version import Version, VersionError, VersionSet, parse_version
from ..json_errors import invalid_json
from ..jsontext import PathT, Positions, int_digit_limit, overlong_integer
from .common import check_release_versions, decode_utf8, in_file_order, show_value

__all__ = ["MAPPING_SCHEMA", "parse_mapping_json", "mapping_schema_errors"]

MAPPING_SCHEMA = "intel-mapping.schema.json"


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

    from ...resources import schema_path

    schema = json.loads(schema_path(MAPPING_SCHEMA).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _schema_problem(err: Any, pos: Positions, file: str) -> list[Problem]:
    path: PathT = tuple(err.absolute_path)
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
                    f"unknown key {show_value(k)}{hint}: {where} has only {', '.join(known)} "
                    "(unknown keys are refused: they may carry a rule tdxpolicy would ignore)",
                    file,
                    path + (k,),
                    key=True,
                )
            )
        return out
    if kind == "type":
        msg = f"expected {expected}, got {_json_type(inst)} {show_value(inst)}"
        if isinstance(inst, (dict, list)) or inst is None:
            msg = f"expected {expected}, got {show_value(inst)}"
        return [pos.problem(msg, file, path)]
    if kind == "const" and path == ("Header", "Version"):
        return [
            pos.problem(
                f"unsupported mapping format version {show_value(inst)}: tdxpolicy reads Intel's "
                'format "1.0"',
                file,
                path,
            )
        ]
    if kind in ("pattern", "const", "minItems"):
        return [pos.problem(f"expected {expected}, got {show_value(inst)}", file, path)]
    return [pos.problem(f"{err.message}", file, path)]


def mapping_schema_errors(obj: Any, text: str, file: str) -> list[Problem]:
    """Every violation of ``schemas/intel-mapping.schema.json`` in ``obj`` (parsed from
    ``text``), located, in file order. Used when the fast check fails, and by tests."""
    pos = Positions(text)
    out: list[Problem] = []
    for err in _mapping_validator().iter_errors(obj):
        out.extend(_schema_problem(err, pos, file))
    return in_file_order(out)


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
        raise invalid_json(e, text, file) from None
    except RecursionError:
        raise InputError.at(
            "the JSON is nested too deeply to be a mapping file", Location(file, 1, 1)
        ) from None
    except ValueError:
        # Not a JSONDecodeError: json refuses an integer of more digits than int() converts
        # (sys.get_int_max_str_digits(), 4,300), without a position. No value of a mapping
        # file is a number at all.
        raise _overlong_integer_error(text, file) from None

    pos = Positions(text)
    problems: list[Problem] = [
        pos.problem(
            f"duplicate key {show_value(p[-1])}: JSON keeps only the last one, which would hide "
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
        raise InputError(in_file_order(problems))

    # The schema holds: build the blocks, checking what a schema cannot say.
    releases = _build_releases(obj["tdx_module_releases"], pos, file, problems)
    if problems:
        raise InputError(in_file_order(problems))
    return PolicyDocument(file=file, kind=SourceKind.MAPPING_JSON, releases=tuple(releases))


def _build_releases(
    entries: list[dict[str, Any]], pos: Positions, file: str, problems: list[Problem]
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
        base: PathT = ("tdx_module_releases", i)
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
        bad = check_release_versions(
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
