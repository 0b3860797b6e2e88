"""probe: every kernel ABI generation, CPUID encoding, and hostile sysfs/procfs content.

Hostile content must end in exit 3 with the file and a reason an operator can act on, never a
traceback and never a write (tests/data/host/hostile.json).
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simkernel import GRANITE_RAPIDS, SAPPHIRE_RAPIDS, Cpu, Fault, SimKernel
from tdxpolicy.cli import main
from tdxpolicy.errors import HostError
from tdxpolicy.host import sysfs as sysfs_mod
from tdxpolicy.host.probe import (
    Generation,
    encode_cpuid_eax,
    parse_cpu_list,
    parse_cpuinfo,
    probe,
    probe_facts,
)
from tdxpolicy.host.probe import format_cpu_list
from tdxpolicy.version import parse_version
import tracemalloc
from hypothesis import settings
from tdxpolicy.host.sysfs import RealSysfs

probe_mod = importlib.import_module("tdxpolicy.host.probe")
DATA = Path(__file__).parent / "data" / "host"
HOSTILE = json.loads((DATA / "hostile.json").read_text())["cases"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def roots(sim: SimKernel) -> list[str]:
    return ["--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc)]


@pytest.fixture
def use_sim(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make the CLI talk to a simulated kernel."""
    def install(sim: SimKernel) -> SimKernel:
        monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
        return sim
    return install


# --- generations -------------------------------------------------------------------------------


# One fake sysfs tree per kernel generation (tests/simkernel.py LAYOUTS, read from the series'
# patches): what the probe sees, and which generations it cannot tell apart.
@pytest.mark.parametrize(
    "generation, upload, candidates, formats",
    [
        ("merged", "class/firmware/tdx_module", ("v8", "v9-v10", "merged"), ("0x100", "0x200")),
        ("v9-v10", "class/firmware/tdx_module", ("v8", "v9-v10", "merged"), ("0x100", "0x200")),
        ("v8", "class/firmware/tdx_module", ("v8", "v9-v10", "merged"), ("0x100", "0x200")),
        ("v4-v7", "class/firmware/tdx_module", ("v4-v7",), ("0x100",)),
        ("v1-v3", "class/firmware/seamldr_upload", ("v1-v3",), ("0x100",)),
        ("series-v3-v7", "class/firmware/seamldr_upload", ("v1-v3",), ("0x100",)),
        ("legacy", "class/firmware/seamldr_upload", ("legacy",), ("0x100",)),
    ],
)
def test_each_generation(tmp_path: Path, generation: str, upload: str,
                         candidates: tuple[str, ...], formats: tuple[str, ...]) -> None:
    sim = SimKernel(tmp_path, generation=generation, module="1.5.08", seamldr="1.5.02",
                    remaining=7, cpus=(SAPPHIRE_RAPIDS, GRANITE_RAPIDS))
    r = probe(sim.sysfs, sim.proc)  # the real reader on plain files
    assert tuple(g.value for g in r.interface.generations) == candidates
    if len(candidates) == 1:
        assert r.interface.generation is Generation(candidates[0])
        assert r.interface.kernel == candidates[0]
    else:
        # Sysfs cannot tell them apart: say so, name no kernel.
        assert r.interface.generation is None and r.interface.kernel is None
        assert r.interface.label == "v8|v9-v10|merged"
    assert r.interface.upload_dir == sim.sysfs / upload
    assert r.interface.image_formats == formats
    assert r.facts.module_version == parse_version("1.5.08")
    assert r.facts.seamldr_version == parse_version("1.5.02")
    assert r.facts.num_remaining_updates == 7
    assert r.facts.cpuid == (0x806F8, 0xA06D1)
    assert r.facts.host == "sim-host"
    assert r.interface.upload_status == "idle"
    assert r.interface.usable and r.interface.problems == ()


def test_v4_v7_tree_has_an_update_interface(tmp_path: Path) -> None:
    """Issue 10: a v4-v7 tree (tdx_host/seamldr/ + class/firmware/tdx_module) used to be
    reported as having no update interface (exit 3)."""
    sim = SimKernel(tmp_path, generation="v4-v7")
    assert main(["probe", *roots(sim)]) == 0


@pytest.mark.parametrize("generation", ["v8", "v9-v10", "merged"])
def test_stated_generation_narrows_the_flat_layout(tmp_path: Path, generation: str) -> None:
    sim = SimKernel(tmp_path, generation=generation)
    r = probe(sim.sysfs, sim.proc, kernel=generation)
    assert r.interface.generation is Generation(generation)
    assert r.interface.generation_stated
    assert r.interface.image_formats == (("0x100",) if generation == "v8" else ("0x200",))


@pytest.mark.parametrize("generation, stated", [("merged", "v4-v7"), ("v4-v7", "merged"),
                                                ("legacy", "v8"), ("v1-v3", "v4-v7")])
def test_stated_generation_must_match_the_layout(tmp_path: Path, generation: str,
                                                 stated: str) -> None:
    from tdxpolicy.errors import InputError

    sim = SimKernel(tmp_path, generation=generation)
    with pytest.raises(InputError) as e:
        probe(sim.sysfs, sim.proc, kernel=stated)
    assert f"--kernel {stated}: the probed sysfs layout" in e.value.message
    assert e.value.code == "usage"


@pytest.mark.parametrize("generation", ["v1-v3", "v4-v7", "v8", "merged"])
def test_tdx_host_without_update_support_keeps_every_candidate(tmp_path: Path,
                                                               generation: str) -> None:
    """Without P-SEAMLDR attributes and an upload directory (the kernel hides both when the
    module lacks TD-preserving support) nothing tells the generations apart; the problem
    names every upload directory."""
    sim = SimKernel(tmp_path, generation=generation, upload=False)
    r = probe(sim.sysfs, sim.proc)
    assert [g.value for g in r.interface.generations] == ["v1-v3", "v4-v7", "v8", "v9-v10",
                                                         "merged"]
    assert r.interface.layout == "tdx_host"
    assert not r.interface.usable
    assert "seamldr_upload or " in r.interface.problems[0]
    assert "tdx_module is missing" in r.interface.problems[0]


def test_legacy_without_budget_file(tmp_path: Path) -> None:
    """Intel's reference script never read a budget on legacy kernels: unknown, not an error."""
    sim = SimKernel(tmp_path, generation="legacy", remaining=None)
    r = probe(sim.sysfs, sim.proc)
    assert r.facts.num_remaining_updates is None
    assert r.interface.usable


def test_probe_json_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              repo_root: Path) -> None:
    import jsonschema
    from referencing import Registry, Resource

    sim = SimKernel(tmp_path, offline="")
    code, out, err = run(["probe", "--format", "json", *roots(sim)], capsys)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    schemas = {n: json.loads((repo_root / "schemas" / n).read_text())
               for n in ("probe.schema.json", "host-facts.schema.json")}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    jsonschema.Draft202012Validator(schemas["probe.schema.json"], registry=registry).validate(doc)
    assert doc["module_version"] == "1.5.06"
    assert doc["cpuid"] == ["0x806F8", "0x806F8"]
    assert doc["interface"]["generation"] == "v8|v9-v10|merged"
    assert doc["interface"]["generations"] == ["v8", "v9-v10", "merged"]
    assert doc["interface"]["kernel"] is None
    # Stated with --kernel: one generation, still valid.
    code, out2, err = run(["probe", "--format", "json", *roots(sim), "--kernel", "merged"], capsys)
    doc2 = json.loads(out2)
    jsonschema.Draft202012Validator(schemas["probe.schema.json"], registry=registry).validate(doc2)
    assert (doc2["interface"]["generation"], doc2["interface"]["kernel"]) == ("merged", "merged")
    assert doc2["interface"]["generation_stated"] is True
    # The output is usable as --facts input of the move commands.
    from tdxpolicy.codecs.hostfacts import parse_facts_text

    facts = parse_facts_text(out.encode(), "probe.json")
    assert facts.module_version == parse_version("1.5.06")
    assert facts.num_remaining_updates == 12


def test_probe_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = SimKernel(tmp_path, offline="")
    code, out, err = run(["probe", *roots(sim)], capsys)
    assert code == 0
    assert out.splitlines()[1:] == [
        "  module version         1.5.06",
        "  P-SEAMLDR version      2.0.00",
        "  remaining updates      12",
        "  CPUID.1.EAX            0x806F8 0x806F8 (2 packages)",
        "  offline CPUs           none",
        "  seamret_invd_vmcs bug  no",
        f"  upload interface       {sim.upload_dir} (status idle)",
        "  accepted image format  0x100 (v8) or 0x200 (v9-v10, merged)",
        "  kernel generation      one of v8, v9-v10, merged (flat layout: sysfs cannot tell "
        "them apart; name it with --kernel)",
    ]


# --- CPUs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, model, stepping, eax",
    [
        (6, 143, 8, 0x806F8),  # Sapphire Rapids
        (6, 207, 2, 0xC06F2),  # Emerald Rapids
        (6, 175, 3, 0xA06F3),  # Sierra Forest
        (6, 173, 1, 0xA06D1),  # Granite Rapids
        (6, 15, 0, 0x000006F0),
        (15, 4, 1, 0x00000F41),
        (19, 1, 0, 0x00400F10),  # family 0x13: base 0xF + extended 4; model high nibble 0
        (5, 4, 3, 0x00000543),
    ],
)
def test_encode_cpuid(family: int, model: int, stepping: int, eax: int) -> None:
    assert encode_cpuid_eax(family, model, stepping) == eax


def _decode(eax: int) -> tuple[int, int, int]:
    """The kernel's x86_family()/x86_model()/x86_stepping() (arch/x86/lib/cpu.c)."""
    fam = (eax >> 8) & 0xF
    if fam == 0xF:
        fam += (eax >> 20) & 0xFF
    model = (eax >> 4) & 0xF
    if fam >= 0x6:
        model += ((eax >> 16) & 0xF) << 4
    return fam, model, eax & 0xF


@given(st.integers(0, 0xF + 0xFF), st.integers(0, 0xFF), st.integers(0, 0xF))
def test_encode_inverts_the_kernels_decoding(family: int, model: int, stepping: int) -> None:
    """The kernel decodes CPUID.1.EAX into cpuinfo's family/model/stepping; encoding them
    back gives a leaf value the kernel decodes to the same triple."""
    try:
        eax = encode_cpuid_eax(family, model, stepping)
    except ValueError:
        assert family not in (6,) and family < 0xF and model > 0xF
        return
    assert _decode(eax) == (family, model, stepping)


def test_one_value_per_package(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, cpus=(SAPPHIRE_RAPIDS, Cpu(6, 143, 7), GRANITE_RAPIDS),
                    threads_per_package=3)
    info = parse_cpuinfo((sim.proc / "cpuinfo").read_text())
    assert info.cpuid == (0x806F8, 0x806F7, 0xA06D1)
    assert info.logical == 9


def test_seamret_bug_and_offline(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, bugs=("seamret_invd_vmcs",), upload=False, offline="4-7,9")
    r = probe(sim.sysfs, sim.proc)
    assert r.interface.seamret_invd_vmcs
    assert r.interface.offline_cpus == (4, 5, 6, 7, 9)
    assert r.interface.upload_dir is None
    assert r.facts.seamldr_version is None and r.facts.num_remaining_updates is None
    with pytest.raises(HostError) as e:
        r.require_usable()
    assert e.value.code == "seamret-invd-vmcs"
    assert e.value.message == (
        f"{sim.sysfs}/class/firmware/seamldr_upload or {sim.upload_dir} is missing: the CPU "
        "reports the seamret_invd_vmcs erratum "
        "(/proc/cpuinfo 'bugs'), so the kernel disables TDX module runtime updates "
        "(Documentation/arch/x86/tdx.rst): load a CPU microcode update that fixes the erratum, "
        "or update the TDX module through a BIOS update and a reboot")


@given(st.sets(st.integers(0, 2000), max_size=40))
def test_cpu_list_round_trip(cpus: set[int]) -> None:
    t = tuple(sorted(cpus))
    assert parse_cpu_list(format_cpu_list(t) + "\n") == t


# --- conditions that make an update impossible: facts readable, probe command exit 3 ----------


def test_module_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str], use_sim) -> None:  # type: ignore[no-untyped-def]
    sim = use_sim(SimKernel(tmp_path))
    sim.module_lost = True
    r = probe(sim.sysfs, sim.proc, sim)
    assert not r.interface.module_alive and r.facts.module_version is None
    code, out, err = run(["probe", *roots(sim)], capsys)
    assert code == 3 and out == ""
    assert err == (
        f"tdxpolicy: {sim.version_path}: reading the TDX module version failed with ENXIO: the "
        "TDX module is gone (a runtime update failed after the old module shut down): every TD on "
        "this host was lost and TDX is unusable until the host is rebooted; reboot it\n")
    with pytest.raises(HostError) as e:
        probe_facts(sim.sysfs, sim.proc, sim)
    assert e.value.code == "module-lost"


def test_no_upload_interface(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = SimKernel(tmp_path, upload=False)
    code, out, err = run(["probe", "--format", "json", *roots(sim)], capsys)
    assert code == 3
    doc = json.loads(out)
    assert doc["error"]["code"] == "no-update-interface"
    assert "does not report TD-preserving update support (TDX_FEATURES0 bit 1)" in \
        doc["error"]["message"]
    # The move commands still get the facts that are there.
    facts = probe_facts(sim.sysfs, sim.proc)
    assert facts.module_version == parse_version("1.5.06") and facts.seamldr_version is None


# --- hostile content -----------------------------------------------------------------------------


def _apply(case: dict[str, Any], sim: SimKernel) -> None:
    path = Path(case["file"].format(sysfs=sim.sysfs, proc=sim.proc))
    if case.get("remove"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    elif case.get("mkdir"):
        path.unlink()
        path.mkdir()
    elif case.get("fifo"):
        path.unlink()
        os.mkfifo(path)
    elif case.get("socket"):
        # A socket node: opening it fails with ENXIO, like a lost module's `version`.
        path.unlink()
        os.mknod(path, 0o600 | stat.S_IFSOCK)
    elif case.get("deny"):
        sim.denied_reads.add(path)
    elif "bytes_hex" in case:
        path.write_bytes(bytes.fromhex(case["bytes_hex"]))
    elif "repeat" in case:
        path.write_text(case["repeat"] * case["n"])
    else:
        path.write_text(case["text"])


@pytest.mark.parametrize("case", HOSTILE, ids=[c["id"] for c in HOSTILE])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_hostile_content(case: dict[str, Any], fmt: str, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str], use_sim) -> None:  # type: ignore[no-untyped-def]
    sim = use_sim(SimKernel(tmp_path))
    _apply(case, sim)
    before = sim.snapshot()
    expected = case["message"].format(sysfs=sim.sysfs, proc=sim.proc)
    code, out, err = run(["probe", "--format", fmt, *roots(sim)], capsys)
    assert code == 3
    assert "Traceback" not in out + err
    if fmt == "json":
        doc = json.loads(out)
        assert doc["error"]["code"] == case["code"]
        assert doc["error"]["message"] == expected
    else:
        assert out == ""
        assert err == f"tdxpolicy: {expected}\n"
    assert sim.writes == [] and sim.snapshot() == before


def test_cpuinfo_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = SimKernel(tmp_path)
    monkeypatch.setattr(probe_mod, "CPUINFO_LIMIT", 200)
    with pytest.raises(HostError) as e:
        probe(sim.sysfs, sim.proc)
    assert e.value.message == (
        f"{sim.proc}/cpuinfo: /proc/cpuinfo is larger than 200 bytes: this is not what the "
        "kernel writes; check that --sysfs-root/--proc-root point at a real sysfs/procfs")


def test_real_reader_never_creates(tmp_path: Path) -> None:
    """RealSysfs writes only to existing attributes (no O_CREAT)."""
    io = sysfs_mod.RealSysfs()
    with pytest.raises(FileNotFoundError):
        io.write_bytes(tmp_path / "loading", b"1")
    assert not (tmp_path / "loading").exists()


def test_eio_on_other_attribute_is_a_host_error(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path)
    real_read = sim.read_bytes

    def read(path: Path, limit: int = 4096) -> bytes:
        if Path(path) == sim.seamldr_path:
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real_read(path, limit)

    sim.read_bytes = read  # type: ignore[method-assign]
    with pytest.raises(HostError) as e:
        probe(sim.sysfs, sim.proc, sim)
    assert e.value.message == (
        f"{sim.seamldr_path}: cannot read the P-SEAMLDR version: Input/output error")


def test_budget_zero_is_read(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, fault=Fault.BUDGET_ZERO)
    assert probe(sim.sysfs, sim.proc).facts.num_remaining_updates == 0


@given(st.text(max_size=400))
def test_random_cpuinfo_never_crashes(text: str) -> None:
    try:
        info = parse_cpuinfo(text)
    except HostError as e:
        assert e.code in ("bad-host-data", "not-tdx-host") and e.message
    else:
        assert info.cpuid and all(0 <= c < 2**32 for c in info.cpuid)


@given(st.binary(max_size=64), st.sampled_from(["version", "seamldr", "remaining", "status",
                                                "offline"]))
def test_random_attribute_bytes_never_crash(tmp_path_factory: pytest.TempPathFactory,
                                            data: bytes, which: str) -> None:
    sim = SimKernel(tmp_path_factory.mktemp("h"))
    path = {"version": sim.version_path, "seamldr": sim.seamldr_path,
            "remaining": sim.remaining_path, "status": sim.upload_dir / "status",
            "offline": sim.sysfs / "devices/system/cpu/offline"}[which]
    path.write_bytes(data)
    try:
        probe(sim.sysfs, sim.proc)
    except HostError as e:
        assert e.message.startswith(str(path))


# --- hostile offline CPU lists stay cheap (was test_qa_host_probe.py)


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
