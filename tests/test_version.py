"""Versions and version sets (policy-format.md, "Lexical rules"; docs/domain.md#parts).

Edge cases first (zero padding, 3-digit updates, other series, huge fields), then Hypothesis
properties that use ``packaging.specifiers.SpecifierSet`` as an independent oracle for the
meaning of a VERSET: PEP 440 release versions with three components order exactly like
integer triples, and ``==N.N.*`` is the series wildcard.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version as PepVersion

from tdxpolicy.lint import verset_is_empty
from tdxpolicy.sources.document import parse_document
from tdxpolicy.version import (
    Clause,
    Op,
    Version,
    VersionError,
    VersionSet,
    parse_version,
    parse_version_set,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.5.6", "1.5.06"), ("1.5.006", "1.5.6"), ("01.05.06", "1.5.6"), ("2.0.0", "2.0.00")],
)
def test_zero_padding_is_the_same_version(a: str, b: str) -> None:
    va, vb = parse_version(a), parse_version(b)
    assert va == vb and hash(va) == hash(vb)
    assert (va.text, vb.text) == (a, b)  # the text as written is kept for display


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("1.5.99", "1.5.100"), ("1.5.09", "1.5.10"), ("1.5.28", "2.0.02"), ("1.9.99", "1.10.0"),
     ("0.0.0", "0.0.1")],
)
def test_ordering_is_by_integers_not_text(lower: str, higher: str) -> None:
    assert parse_version(lower) < parse_version(higher)


def test_three_digit_update_prints_three_digits() -> None:
    assert Version(1, 5, 100).canonical == "1.5.100"
    assert Version(1, 5, 6).canonical == "1.5.06"


def test_other_series() -> None:
    v = parse_version("2.0.08")
    assert v.series == (2, 0) and v.series_text == "2.0"
    assert v not in parse_version_set("1.5.*")
    assert v in parse_version_set("2.0.*")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.5", "expected a version like 1.5.06, got '1.5'"),
        ("1.5.6.7", "expected a version like 1.5.06, got '1.5.6.7'"),
        ("1.5.x", "expected a version like 1.5.06, got '1.5.x'"),
        ("", "expected a version like 1.5.06, got ''"),
        (" 1.5.6", "expected a version like 1.5.06, got ' 1.5.6'"),
        ("1.5.4294967296", "version field out of range (at most 4294967295) in '1.5.4294967296'"),
        ("1.5.99999999999", "expected a version like 1.5.06, got '1.5.99999999999'"),
    ],
)
def test_bad_versions(text: str, message: str) -> None:
    with pytest.raises(VersionError) as ei:
        parse_version(text)
    assert str(ei.value) == message


def test_largest_field_accepted() -> None:
    assert parse_version("4294967295.0.4294967295").key == (4294967295, 0, 4294967295)


# --- properties against packaging -------------------------------------------------------------

versions = st.builds(
    Version,
    st.integers(0, 3),
    st.integers(0, 6),
    st.integers(0, 130),
)
ops = st.sampled_from([Op.GE, Op.LE, Op.GT, Op.LT, Op.EQ, Op.NE])
clauses = st.one_of(
    st.builds(Clause, ops, versions),
    st.builds(lambda v: Clause(Op.SERIES, Version(v.major, v.minor, 0)), versions),
    st.just(Clause(Op.ANY)),
)
versets = st.lists(clauses, min_size=1, max_size=4).map(lambda cs: VersionSet(tuple(cs)))


def _pep(v: Version) -> PepVersion:
    return PepVersion(f"{v.major}.{v.minor}.{v.update}")


def _specifier(vs: VersionSet) -> SpecifierSet:
    parts = []
    for c in vs.clauses:
        if c.op is Op.ANY:
            continue
        assert c.version is not None
        if c.op is Op.SERIES:
            parts.append(f"=={c.version.major}.{c.version.minor}.*")
        else:
            parts.append(f"{c.op.value}{c.version.major}.{c.version.minor}.{c.version.update}")
    return SpecifierSet(",".join(parts))


@settings(max_examples=400, deadline=None)
@given(versets, versions)
def test_verset_agrees_with_packaging(vs: VersionSet, v: Version) -> None:
    """A VERSET's clauses must all hold, exactly like a PEP 440 specifier set."""
    assert vs.matches(v) == _specifier(vs).contains(_pep(v), prereleases=True)
    assert (v in vs) == vs.matches(v)


@settings(max_examples=200, deadline=None)
@given(versets)
def test_verset_text_round_trips(vs: VersionSet) -> None:
    assert parse_version_set(str(vs)) == vs


@settings(max_examples=200, deadline=None)
@given(versets, versions)
def test_document_verset_means_the_same(vs: VersionSet, v: Version) -> None:
    """The grammar's VERSET and the text parser give the same set."""
    doc = parse_document(f"format 1\nrelease 9.9.9 {{\n  update from {vs}\n}}\n", "p")
    parsed = doc.releases[0].update_from[0].versions
    assert parsed.matches(v) == vs.matches(v)


@settings(max_examples=300, deadline=None)
@given(versets)
def test_emptiness_check_is_exact(vs: VersionSet) -> None:
    """lint's 'admits no version' finding: brute force over the whole generated space."""
    brute = not any(
        vs.matches(Version(a, b, c)) for a in range(0, 5) for b in range(0, 8) for c in range(0, 133)
    )
    assert verset_is_empty(vs) == brute


# parse_version reads N.N.N without a regex (docs/performance.md#no-json-on-the-text-path); the
# regex it implements, VERSION_SYNTAX, is the oracle. Text is drawn mostly from the characters
# that matter (digits, dots, '*', non-ASCII digits, whitespace and newlines at the ends).
_VERSIONISH = st.one_of(
    st.text(alphabet="0123456789.*\n ٣²", max_size=40),
    st.from_regex(r"\A[0-9]{1,12}\.[0-9]{1,12}\.([0-9]{1,12}|\*)\Z"),
    st.text(max_size=20),
)


@settings(max_examples=3000, deadline=None)
@given(_VERSIONISH)
def test_version_reader_equals_its_regex(text: str) -> None:
    import re

    from tdxpolicy.version import VERSION_SYNTAX, _version_fields

    m = re.search(VERSION_SYNTAX, text)
    assert _version_fields(text) == (None if m is None else tuple(int(g) for g in m.groups()))
    series = re.search(r"\A([0-9]{1,10})\.([0-9]{1,10})\.\*\Z", text)
    star = _version_fields(text, last_may_be_star=True)
    if series is not None:
        assert star == (int(series.group(1)), int(series.group(2)), -1)
    elif m is None:
        assert star is None
