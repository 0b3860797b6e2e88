"""QA (host): hostile offline CPU lists stay cheap, and the parse agrees with brute force."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from simkernel import SimKernel
from tdxpolicy.host.probe import parse_cpu_list, probe
from tdxpolicy.host.sysfs import RealSysfs


def test_overlapping_ranges_cost_one_range() -> None:
    """Hundreds of '0-99999' ranges (one sysfs page): before the fix this built a list of
    34 million ints (1.4 GB, most of a minute); now the ranges are merged first."""
    text = ",".join(["0-99999"] * 340) + "\n"
    assert len(text) < 4096
    tracemalloc.start()
    try:
        cpus = parse_cpu_list(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cpus == tuple(range(100000))
    assert peak < 64 << 20


def test_hostile_offline_file_through_probe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path / "host", offline=",".join(["0-99999"] * 300))
    iface = probe(sim.sysfs, sim.proc, RealSysfs()).interface
    assert iface.offline_cpus is not None and len(iface.offline_cpus) == 100000


_part = st.tuples(st.integers(0, 40), st.integers(0, 6), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(_part, min_size=1, max_size=8))
def test_cpu_list_matches_brute_force(parts: list[tuple[int, int, bool]]) -> None:
    words = [f"{lo}-{lo + n}" if rng else str(lo) for lo, n, rng in parts]
    expected = sorted({c for lo, n, rng in parts for c in range(lo, lo + (n if rng else 0) + 1)})
    assert list(parse_cpu_list(",".join(words))) == expected


def test_cpuinfo_field_error_names_its_own_line_and_column() -> None:
    import pytest

    from tdxpolicy.errors import HostError
    from tdxpolicy.host.probe import parse_cpuinfo

    text = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 0x8f\n"
            "stepping\t: 8\n")
    with pytest.raises(HostError) as e:
        parse_cpuinfo(text, "cpuinfo")
    assert e.value.message == "cpuinfo:4:10: 'model': expected a decimal number, got '0x8f'"
