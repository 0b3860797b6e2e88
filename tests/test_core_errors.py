"""Error rendering: file:line:column, the offending line, a caret under the column."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tdxpolicy.errors import ConflictError, ErrorCode, HostError, InputError, Problem
from tdxpolicy.model import Location


def test_problem_renders_location_line_and_caret() -> None:
    p = Problem(
        "expected a version like 1.5.06",
        Location("site.tdxpolicy", 4, 17),
        "    update from >= 1.5\n",
    )
    assert p.render() == (
        "site.tdxpolicy:4:17: expected a version like 1.5.06\n"
        "        update from >= 1.5\n"
        "                    ^"
    )


def test_caret_is_clamped_to_end_of_line() -> None:
    p = Problem("expected end of line", Location("f", 1, 99), "abc")
    assert p.render().splitlines()[-1] == "    " + "   ^"


def test_location_forms() -> None:
    assert str(Location("a.json", path="$.x[1]")) == "a.json ($.x[1])"
    assert str(Location("a.json", 3, 5, path="$.x")) == "a.json:3:5 ($.x)"
    assert str(Location("img.blob", offset=948)) == "img.blob (byte offset 0x3b4)"
    assert Location.from_json(Location("f", 1, 2, "$", 3).to_json()) == Location("f", 1, 2, "$", 3)


def test_error_json_and_exit_codes() -> None:
    e = InputError.at("bad", Location("f", 1, 1))
    assert e.exit_code == 2
    assert e.to_json() == {
        "error": {
            "code": "invalid-input",
            "message": "f:1:1: bad",
            "problems": [{"message": "bad", "location": {"file": "f", "line": 1, "column": 1}}],
        }
    }
    assert HostError("no TDX").exit_code == 3
    c = ConflictError([Problem("x", Location("a", 1)), Problem("y", Location("b", 2))])
    assert c.code == "conflicting-facts"
    assert c.message == "a:1: x; b:2: y"


def test_conflict_messages_spell_values_as_documents_do() -> None:
    """catalogue.show_fact is the one spelling of fact values in conflicts and audit findings."""
    from tdxpolicy.catalogue import show_fact
    from tdxpolicy.version import parse_version

    assert show_fact("features0", 0x226F3F0FBF) == "0x226F3F0FBF"
    assert show_fact("platforms", (0x806F8, 0xC06F0)) == "0x806F8 0xC06F0"
    assert show_fact("seamldr", (parse_version("1.5.00"), parse_version("2.0.00"))) == "1.5.00 2.0.00"
    assert show_fact("mrseam", "0xab" + "0" * 94) == "0xAB" + "0" * 94
    assert show_fact("debug", True) == "yes"


# --- error codes: one closed set, in the code and in the schema ---------------------------------

REPO = Path(__file__).resolve().parent.parent


def test_error_code_enum_and_schema_enum_are_the_same_set() -> None:
    schema = json.loads((REPO / "schemas" / "error.schema.json").read_text())
    enum = schema["properties"]["error"]["properties"]["code"]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == {c.value for c in ErrorCode}


def _codes_written_in_the_package() -> dict[str, list[str]]:
    """Every error code spelled as a literal in tdxpolicy/: ``code="..."`` arguments,
    positional arguments in a ``code`` parameter's place, ``code: str = "..."`` defaults, and
    the constants returned by the functions that pick a code (``*_code``)."""
    found: dict[str, list[str]] = {}

    def note(value: object, where: str) -> None:
        if isinstance(value, str):
            found.setdefault(value, []).append(where)

    trees = {path: ast.parse(path.read_text(), str(path))
             for path in sorted((REPO / "tdxpolicy").rglob("*.py"))}
    # Functions of the package that build or emit an error and take a `code` parameter, by
    # name: the position of that parameter, so that a positional code
    # (`_fail(path, message, "bad-host-data")`) is seen. (Functions building a *check* also
    # take a `code`, a check code: they return no error and are left out.)
    code_position = {
        node.name: [a.arg for a in node.args.args].index("code")
        for tree in trees.values() for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and "code" in [a.arg for a in node.args.args]
        and ("Error" in ast.unparse(node.returns or ast.Constant(None))
             or node.name == "_emit_error")
    }
    assert {"_fail", "_emit_error"} <= set(code_position), code_position
    for path, tree in trees.items():
        for node in ast.walk(tree):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                        note(kw.value.value, where)
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                pos = code_position.get(name)
                if name in code_position and isinstance(node.func, ast.Attribute):
                    pos = None if pos is None else pos - 1  # a method: `self` is not passed
                if pos is not None and len(node.args) > pos \
                        and isinstance(node.args[pos], ast.Constant):
                    note(node.args[pos].value, where)
            elif isinstance(node, ast.FunctionDef):
                args = node.args.args + node.args.kwonlyargs
                defaults = ([None] * (len(node.args.args) - len(node.args.defaults))
                            + list(node.args.defaults) + list(node.args.kw_defaults))
                for arg, default in zip(args, defaults):
                    if arg.arg == "code" and isinstance(default, ast.Constant):
                        note(default.value, where)
                if node.name.endswith("_code"):
                    for ret in ast.walk(node):
                        if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                            note(ret.value.value, where)
    return found


def test_every_error_code_the_package_raises_is_in_the_enum() -> None:
    found = _codes_written_in_the_package()
    # The scan itself must see the codes spread over the package, or it proves nothing.
    assert {"usage", "invalid-flag", "not-tdx-host", "module-lost", "truncated-image",
            "permission", "bad-host-data"} <= set(found)
    unknown = {code: where for code, where in found.items() if code not in set(ErrorCode)}
    assert not unknown, unknown


def test_a_code_outside_the_enum_is_refused_where_it_is_raised() -> None:
    with pytest.raises(ValueError):
        InputError.at("bad", code="no-such-code")
    e = HostError("gone", code="module-lost")
    assert e.code is ErrorCode.MODULE_LOST and e.exit_code == 3
    assert json.dumps(e.to_json()["error"]["code"]) == '"module-lost"'
