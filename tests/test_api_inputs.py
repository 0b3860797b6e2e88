"""The public API checks what it is given (issue 15): a value of the wrong type or out of range
raises ``tdxpolicy.InvalidArgument`` where it is given, with a message naming the field or
argument, instead of an AttributeError or TypeError deep inside the engine."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tdxpolicy
from tdxpolicy import HostFacts, InvalidArgument, MoveOptions, Version
from tdxpolicy.host.probe import facts_to_json


@functools.lru_cache(maxsize=None)
def _catalogue() -> tdxpolicy.Catalogue:
    return tdxpolicy.load_catalogue()


def _host() -> HostFacts:
    return HostFacts(module_version=Version.parse("1.5.06"),
                     seamldr_version=Version.parse("2.0.00"), cpuid=(0x806F8,),
                     num_remaining_updates=5)


OPTS = MoveOptions(acknowledged=frozenset({"all"}))
T = Version.parse("1.5.16")


def test_the_error_is_one_documented_type() -> None:
    assert issubclass(InvalidArgument, tdxpolicy.InputError)
    assert issubclass(InvalidArgument, tdxpolicy.TdxPolicyError)
    assert issubclass(InvalidArgument, TypeError) and issubclass(InvalidArgument, ValueError)
    assert InvalidArgument.code == "invalid-argument"
    # Version parsing is part of the API: its error is the same type.
    from tdxpolicy.version import VersionError

    assert issubclass(VersionError, InvalidArgument)
    with pytest.raises(InvalidArgument, match="expected a version like 1.5.06, got '1.5'"):
        Version.parse("1.5")
    with pytest.raises(InvalidArgument, match="got int"):
        tdxpolicy.parse_version(156)  # type: ignore[arg-type]
    # Documented where users look.
    for doc in (tdxpolicy.__doc__, tdxpolicy.api.__doc__, tdxpolicy.errors.__doc__):
        assert doc is not None and "InvalidArgument" in doc


def test_the_issue_examples_fail_where_given() -> None:
    # Before: accepted here, then AttributeError / TypeError inside decide.
    with pytest.raises(InvalidArgument) as e:
        HostFacts(module_version="1.5.06")  # type: ignore[arg-type]
    assert str(e.value) == ("HostFacts.module_version: expected a Version or None "
                            "(Version.parse('1.5.06') reads text), got str '1.5.06'")
    with pytest.raises(InvalidArgument) as e:
        HostFacts(num_remaining_updates="3")  # type: ignore[arg-type]
    assert str(e.value) == ("HostFacts.num_remaining_updates: expected None or an int >= 0, "
                            "got str '3'")


BAD: list[tuple[str, Callable[[], object]]] = [
    ("HostFacts.seamldr_version", lambda: HostFacts(seamldr_version=(2, 0, 0))),  # type: ignore[arg-type]
    ("HostFacts.cpuid", lambda: HostFacts(cpuid=[0x806F8])),  # type: ignore[arg-type]
    ("HostFacts.cpuid", lambda: HostFacts(cpuid=())),
    ("HostFacts.cpuid", lambda: HostFacts(cpuid=(0x1_0000_0000,))),
    ("HostFacts.cpuid", lambda: HostFacts(cpuid=("0x806F8",))),  # type: ignore[arg-type]
    ("HostFacts.cpuid", lambda: HostFacts(cpuid=(True,))),
    ("HostFacts.num_remaining_updates", lambda: HostFacts(num_remaining_updates=-1)),
    ("HostFacts.num_remaining_updates", lambda: HostFacts(num_remaining_updates=2.0)),  # type: ignore[arg-type]
    ("HostFacts.num_remaining_updates", lambda: HostFacts(num_remaining_updates=True)),
    ("HostFacts.host", lambda: HostFacts(host=b"h1")),  # type: ignore[arg-type]
    ("HostFacts.origin", lambda: HostFacts(origin=None)),  # type: ignore[arg-type]
    ("Version.major", lambda: Version("1", 5, 6)),  # type: ignore[arg-type]
    ("Version.update", lambda: Version(1, 5, -6)),
    ("Version.minor", lambda: Version(1, 0x1_0000_0000, 6)),
    ("Version.text", lambda: Version(1, 5, 6, None)),  # type: ignore[arg-type]
    ("MoveOptions.strict", lambda: MoveOptions(strict="yes")),  # type: ignore[arg-type]
    ("MoveOptions.allow_rollback", lambda: MoveOptions(allow_rollback=1)),  # type: ignore[arg-type]
    ("MoveOptions.today", lambda: MoveOptions(today="2026-01-01")),  # type: ignore[arg-type]
    ("MoveOptions.today", lambda: MoveOptions(today=dt.datetime(2026, 1, 1))),
    ("MoveOptions.acknowledged", lambda: MoveOptions(acknowledged="td-build")),  # type: ignore[arg-type]
    ("MoveOptions.acknowledged", lambda: MoveOptions(acknowledged=frozenset({1}))),  # type: ignore[arg-type]
    ("Catalogue.releases", lambda: tdxpolicy.Catalogue(list(_catalogue().releases), (), ())),  # type: ignore[arg-type]
    ("Catalogue.releases", lambda: tdxpolicy.Catalogue(_catalogue().newest_first(), (), ())),
    ("Catalogue.releases", lambda: tdxpolicy.Catalogue(_catalogue().releases[:1] * 2, (), ())),
    ("Catalogue.releases", lambda: tdxpolicy.Catalogue(("1.5.06",), (), ())),  # type: ignore[arg-type]
    ("Catalogue.deny_to", lambda: tdxpolicy.Catalogue(_catalogue().releases, [], ())),  # type: ignore[arg-type]
    ("decide() argument 'target'", lambda: tdxpolicy.decide(_catalogue(), _host(), "1.5.16", OPTS)),  # type: ignore[arg-type]
    ("decide() argument 'facts'", lambda: tdxpolicy.decide(_catalogue(), {"module_version": "1.5.06"}, T, OPTS)),  # type: ignore[arg-type]
    ("decide() argument 'catalogue'", lambda: tdxpolicy.decide(None, _host(), T, OPTS)),  # type: ignore[arg-type]
    ("decide() argument 'options'", lambda: tdxpolicy.decide(_catalogue(), _host(), T, None)),  # type: ignore[arg-type]
    ("plan() argument 'target'", lambda: tdxpolicy.plan(_catalogue(), _host(), (1, 5, 16), OPTS)),  # type: ignore[arg-type]
    ("plan() argument 'max_hops'", lambda: tdxpolicy.plan(_catalogue(), _host(), T, OPTS, 0)),
    ("plan() argument 'max_hops'", lambda: tdxpolicy.plan(_catalogue(), _host(), T, OPTS, "2")),  # type: ignore[arg-type]
    ("select() argument 'options'", lambda: tdxpolicy.select(_catalogue(), _host(), {})),  # type: ignore[arg-type]
    ("select() argument 'max_hops'", lambda: tdxpolicy.select(_catalogue(), _host(), OPTS, 0)),
    ("load_catalogue() argument 'paths'", lambda: tdxpolicy.load_catalogue("site.tdxpolicy")),
    ("load_catalogue() argument 'paths'", lambda: tdxpolicy.load_catalogue([3])),  # type: ignore[list-item]
    ("load_catalogue() argument 'include_default'", lambda: tdxpolicy.load_catalogue((), 0)),  # type: ignore[arg-type]
    ("host_facts_from_json() argument 'text'", lambda: tdxpolicy.host_facts_from_json({"cpuid": None})),  # type: ignore[arg-type]
    ("host_facts_from_json() argument 'file'", lambda: tdxpolicy.host_facts_from_json("{}", None)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("where,call", BAD, ids=[f"{i}-{w}" for i, (w, _) in enumerate(BAD)])
def test_wrong_type_or_value_names_the_field(where: str, call: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgument) as e:
        call()
    message = str(e.value)
    assert message.startswith(f"{where}: expected "), message
    assert ", got " in message
    # The CLI's JSON error shape works for it too (it is a TdxPolicyError).
    assert e.value.to_json()["error"]["code"] == "invalid-argument"


def test_valid_calls_still_answer() -> None:
    # The checks reject only what is wrong: the documented forms keep working.
    cat = _catalogue()
    assert tdxpolicy.decide(cat, _host(), T, OPTS).allowed
    assert tdxpolicy.plan(cat, _host(), T, OPTS, max_hops=None).found
    assert tdxpolicy.select(cat, _host(), OPTS, max_hops=2).selected == T
    assert MoveOptions(today=dt.date(2026, 1, 1)).today == dt.date(2026, 1, 1)
    assert Version(1, 5, 6) == Version.parse("1.5.06") and Version(1, 5, 6).text == "1.5.06"
    again = tdxpolicy.Catalogue(cat.releases, cat.deny_to, cat.documents)
    assert again.get(T) is cat.get(T) and len(again) == len(cat)
    assert HostFacts(cpuid=(0, 0xFFFF_FFFF)).cpuid == (0, 0xFFFF_FFFF)


# --- a property over every field of HostFacts ------------------------------------------------

_versions = st.builds(Version, st.integers(0, 999_999_999), st.integers(0, 999_999_999),
                      st.integers(0, 999_999_999))
_junk = st.one_of(st.text(max_size=8), st.binary(max_size=4), st.floats(allow_nan=False),
                  st.booleans(), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))

# field -> (valid values, invalid values); None is valid for every field but origin.
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "module_version": (st.none() | _versions,
                       _junk | st.integers() | st.tuples(st.integers(), st.integers())),
    "seamldr_version": (st.none() | _versions, _junk | st.integers()),
    "cpuid": (st.none() | st.lists(st.integers(0, 0xFFFF_FFFF), min_size=1, max_size=4).map(tuple),
              _junk | st.just(()) | st.lists(st.integers(0, 0xFFFF_FFFF), min_size=1).map(list)
              | st.tuples(st.integers(0, 0xFFFF_FFFF), st.one_of(
                  st.integers(max_value=-1), st.integers(min_value=0x1_0000_0000),
                  st.booleans(), st.text(max_size=3)))),
    "num_remaining_updates": (st.none() | st.integers(0, 10**12),
                              _junk | st.integers(max_value=-1)),
    "host": (st.none() | st.text(max_size=12), st.integers() | st.binary(max_size=3)),
    "origin": (st.text(max_size=8), st.none() | st.integers()),
}


@st.composite
def _field_values(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    invalid: list[str] = []
    for name, (good, bad) in FIELDS.items():
        if draw(st.booleans()) and draw(st.booleans()):  # about one field in four is wrong
            candidate = draw(bad)
            values[name] = candidate
            invalid.append(name)
        else:
            values[name] = draw(good)
    return values, invalid


@settings(max_examples=300, deadline=None)
@given(_field_values())
def test_hostfacts_accepts_exactly_the_valid_values(case: tuple[dict[str, Any], list[str]]) -> None:
    values, invalid = case
    if invalid:
        # The first wrong field in declaration order is the one named.
        with pytest.raises(InvalidArgument, match=rf"^HostFacts\.{invalid[0]}: expected "):
            HostFacts(**values)
        return
    facts = HostFacts(**values)
    # A valid HostFacts never breaks the engine: decide answers (fail closed on the unknown),
    # and the facts survive the contract's JSON form.
    verdict = tdxpolicy.decide(_catalogue(), facts, T, OPTS)
    assert isinstance(verdict, tdxpolicy.Verdict)
    if facts.module_version is None or facts.seamldr_version is None or facts.cpuid is None \
            or facts.num_remaining_updates is None:
        assert not verdict.allowed
    again = tdxpolicy.host_facts_from_json(json.dumps(facts_to_json(facts)))
    assert again == facts

