"""Host facts from JSON (``--facts FILE``, fleet lines): the hand-written validator of
tdxpolicy.codecs.hostfacts must agree exactly with schemas/host-facts.schema.json, and every
bad document must be refused with its JSON path, line and what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdxpolicy.errors import InputError
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.resources import schema_path
from tdxpolicy.codecs.hostfacts import facts_from_obj, parse_facts_text, validate_facts_obj
from tdxpolicy.version import Version

DATA = Path(__file__).parent / "data" / "move"
SCHEMA = json.loads(schema_path("host-facts.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"].endswith("host-facts.schema.json")


def test_good_file_parses() -> None:
    facts = parse_facts_text((DATA / "facts_good.json").read_bytes(), "facts_good.json")
    assert facts == HostFacts(
        module_version=Version(1, 5, 6),
        seamldr_version=Version(2, 0, 0),
        cpuid=(0x806F8, 0x806F8),
        num_remaining_updates=12,
        host="node-17",
    )
    assert facts.module_version is not None and facts.module_version.text == "1.5.06"


def test_null_and_absent_mean_unknown() -> None:
    a = facts_from_obj({}, "x")
    b = facts_from_obj(
        {"module_version": None, "seamldr_version": None, "cpuid": None,
         "num_remaining_updates": None}, "x")
    assert a == b == HostFacts()


def test_probe_interface_object_is_accepted() -> None:
    f = facts_from_obj({"module_version": "1.5.06", "interface": {"generation": "merged"}}, "p")
    assert f.module_version == Version(1, 5, 6)


def test_integer_valued_float_budget_is_an_integer() -> None:
    # JSON Schema counts 5.0 as an integer; so do we.
    assert facts_from_obj({"num_remaining_updates": 5.0}, "x").num_remaining_updates == 5


CASES = json.loads((DATA / "facts_bad" / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_facts_documents(case: dict[str, Any]) -> None:
    with pytest.raises(InputError) as exc:
        parse_facts_text(case["text"], "f.json")
    got = [
        f"{p.location}: {p.message}" if p.location else p.message for p in exc.value.problems
    ]
    assert got == case["problems"]
    # and each bad document is also refused by the schema itself (when it is JSON)
    try:
        obj = json.loads(case["text"])
    except ValueError:
        return
    assert not VALIDATOR.is_valid(obj)


def test_fleet_line_errors_carry_the_line_number() -> None:
    with pytest.raises(InputError) as exc:
        facts_from_obj({"cpuid": ["0xZZ"]}, "fleet.jsonl", line=7)
    (p,) = exc.value.problems
    assert str(p.location) == "fleet.jsonl:7 ($.cpuid[0])"


# --- agreement with jsonschema on generated objects ------------------------------------------

_versionish = st.one_of(
    st.from_regex(r"\A[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}\Z"),
    st.from_regex(r"\A[0-9]{0,11}\.[0-9]{0,11}(\.[0-9]{0,11})?\n?\Z"),
    st.text(max_size=8),
    st.integers(), st.floats(allow_nan=False), st.none(), st.booleans(),
)
_cpuid_item = st.one_of(
    st.from_regex(r"\A(0[xX])?[0-9a-fA-F]{1,8}\Z"),
    st.from_regex(r"\A(0[xX])?[0-9a-fA-FgG]{0,10}\n?\Z"),
    st.integers(), st.none(), st.text(max_size=4),
)
_budget = st.one_of(
    st.integers(min_value=-3, max_value=2**40), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(), st.text(max_size=3), st.just(3.0), st.just(-0.0),
)
_facts_obj = st.fixed_dictionaries(
    {},
    optional={
        "module_version": _versionish,
        "seamldr_version": _versionish,
        "cpuid": st.one_of(st.lists(_cpuid_item, max_size=4), st.none(), _cpuid_item),
        "num_remaining_updates": _budget,
        "host": st.one_of(st.text(max_size=6), st.integers(), st.none()),
        "interface": st.one_of(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                               st.integers(), st.lists(st.integers(), max_size=1)),
        "extra": st.integers(),
    },
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(_facts_obj, st.lists(st.integers(), max_size=2), st.text(max_size=5),
                 st.integers(), st.none()))
def test_validator_agrees_with_jsonschema(obj: Any) -> None:
    ours = not validate_facts_obj(obj)
    theirs = VALIDATOR.is_valid(obj)
    assert ours == theirs, (obj, validate_facts_obj(obj), [e.message for e in VALIDATOR.iter_errors(obj)])
    if ours:
        facts = facts_from_obj(obj, "gen")  # valid -> always converts, keeping every fact
        for key in ("module_version", "seamldr_version"):
            given, got = obj.get(key), getattr(facts, key)
            assert (got is None) if given is None else (got.text == given.rstrip("\n")), key
        cpuid, rem = obj.get("cpuid"), obj.get("num_remaining_updates")
        assert facts.cpuid == (None if cpuid is None else
                               tuple(int(c.rstrip("\n"), 16) for c in cpuid))
        assert facts.num_remaining_updates == (None if rem is None else int(rem))
        assert facts.host == obj.get("host")


@given(st.text(alphabet="0xX123abcdefABCDEFgG\n \u0663", max_size=12))
def test_cpuid_field_parser_equals_the_schema_pattern(text: str) -> None:
    # The CLI's --cpuid parser tests strings without a regular expression (start-up budget);
    # it accepts exactly what the schema's CPUID pattern accepts.
    import re

    from tdxpolicy.codecs.hostfacts import CPUID_PATTERN
    from tdxpolicy.hostfacts import parse_cpuid_field

    m = re.search(CPUID_PATTERN, text)
    assert parse_cpuid_field(text) == (None if m is None else int(m.group(1), 16))
