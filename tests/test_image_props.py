"""Hypothesis: no input crashes the reader or the verifier (only a located InputError)."""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imagekit
from tdxpolicy.errors import InputError
from tdxpolicy.image import read_image, verify
from tdxpolicy.image.reader import ImageFormat
from tdxpolicy.verdict import Result


@functools.lru_cache(maxsize=None)
def valid(fmt: int) -> bytes:
    data = imagekit.build_image(fmt, pages=4)
    checks = verify(read_image(data, "v"), trusted_key_hashes=(imagekit.test_key().key_hash,))
    assert not [c for c in checks if c.result is Result.FAIL]
    return data


def _read_and_verify(data: bytes) -> list[Result] | None:
    """Either a located InputError or a full list of checks; never another exception."""
    try:
        image = read_image(data, "h.img")
    except InputError as e:
        loc = e.problems[0].location
        assert loc is not None and loc.file == "h.img" and loc.offset is not None
        assert 0 <= loc.offset <= max(len(data), 0x2000)
        return None
    return [c.result for c in verify(image, kernel="merged")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=9000))
def test_random_bytes_never_crash(data: bytes) -> None:
    _read_and_verify(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0x100, 0x200]), st.binary(min_size=24, max_size=24))
def test_random_header_start_never_crashes(fmt: int, head: bytes) -> None:
    """Plausible images with a random header start (valid signature kept half the time)."""
    _read_and_verify(head + valid(fmt)[24:])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([0x100, 0x200]),
    st.lists(st.tuples(st.integers(0, 6 * 4096 - 1), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(0, 6 * 4096 + 10)),
)
def test_mutations_and_truncations_never_crash(
    fmt: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(valid(fmt))
    for at, value in edits:
        if at < len(data):
            data[at] = value
    if cut is not None:
        data = data[:cut]
    results = _read_and_verify(bytes(data))
    if results is not None and not edits and cut is not None and cut < len(valid(fmt)):
        assert Result.FAIL in results  # a truncated image is never valid


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([0x100, 0x200]), st.integers(0, 6 * 4096 - 1), st.integers(1, 255))
def test_any_single_byte_change_is_noticed(fmt: int, at: int, xor: int) -> None:
    """Flipping any byte of a valid image makes some check fail, except the bytes neither the
    kernel nor P-SEAMLDR reads: the 0x200 checksum and the sigstruct page's padding (which
    warns). Unused CPUID table slots are covered by the signature."""
    data = bytearray(valid(fmt))
    data[at] ^= xor
    image = read_image(bytes(data), "h")
    checks = verify(image, trusted_key_hashes=(imagekit.test_key().key_hash,))
    failed = {c.code for c in checks if c.result is Result.FAIL}
    unchecked = fmt == 0x200 and at in (2, 3)
    padding = 4096 + 2048 <= at < 8192
    if unchecked:
        assert failed == set()
    elif padding:
        assert failed == ({"header-checksum"} if fmt == 0x100 else set())
        assert any(c.code == "sigstruct-padding" and c.result is Result.WARN for c in checks)
    else:
        assert failed, (fmt, at, xor)
    assert image.format is ImageFormat(fmt) or at < 16
