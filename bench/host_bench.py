"""Time the host layer on the simulated kernel: probe, preflight (with a signed image) and a
whole update (fw_upload sequence with a fake clock). Prints figures; not a test.

    python bench/host_bench.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_REPO), str(_REPO / "tests")]

from simkernel import FakeClock, SimKernel, signed_image, site_catalogue  # noqa: E402

from tdxpolicy.host.preflight import preflight  # noqa: E402
from tdxpolicy.host.probe import probe  # noqa: E402
from tdxpolicy.host.upload import UpdateRequest, run_update  # noqa: E402
from tdxpolicy.verdict import MoveOptions  # noqa: E402


def per_call(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    image, seamhash, key_hash = signed_image(0x200)
    catalogue = site_catalogue(seamhash)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for threads in (2, 192):
            sim = SimKernel(root / f"t{threads}", threads_per_package=threads)
            ms = per_call(lambda: probe(sim.sysfs, sim.proc), n)
            print(f"probe (real reads, 2 packages x {threads} CPUs): {ms:.3f} ms")
        sim = SimKernel(root / "pf")
        result = probe(sim.sysfs, sim.proc)
        ms = per_call(lambda: preflight(result, catalogue, target=None, options=MoveOptions(),
                                        image_data=image, image_path="img",
                                        trusted_key_hashes=(key_hash,)), max(1, n // 10))
        print(f"preflight ({len(image)} byte image: verify + identify + decide + host checks): "
              f"{ms:.2f} ms")
        times = []
        for i in range(max(1, n // 20)):
            sim = SimKernel(root / f"u{i}", installs="1.5.16")
            req = UpdateRequest(image_data=image, image_path="img",
                                options=MoveOptions(acknowledged=frozenset({"all"})),
                                sysfs_root=sim.sysfs, proc_root=sim.proc,
                                lock_path=root / "lock", record_path=root / "rec.jsonl")
            clock = FakeClock()
            t = time.perf_counter()
            r = run_update(req, catalogue, io=sim, clock=clock, sleep=clock.sleep,
                           trusted_key_hashes=(key_hash,))
            times.append((time.perf_counter() - t) * 1000)
            assert r.outcome.value == "updated"
        print(f"update on the simulator (probe x3, preflight, lock, upload, record+fsync): "
              f"{sum(times) / len(times):.2f} ms")


if __name__ == "__main__":
    main()
