"""Error rendering: file:line:column, the offending line, a caret under the column."""

from __future__ import annotations

from tdxpolicy.errors import ConflictError, HostError, InputError, Problem
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
