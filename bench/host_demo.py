"""Run probe, preflight and update against simulated kernels and print what an operator sees
(docs/host.md quotes the update outcomes, which need the in-process simulator; its console
examples run on docs/examples/host/ instead). Trees are built under /tmp/tdxdemo.

    python bench/host_demo.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_REPO), str(_REPO / "tests")]

from simkernel import FakeClock, Fault, SimKernel, signed_image, site_policy_text  # noqa: E402

from tdxpolicy.cli import host_cmds, main  # noqa: E402
from tdxpolicy.host import sysfs as sysfs_mod  # noqa: E402

ROOT = Path("/tmp/tdxdemo")


def run(sim: SimKernel, args: list[str]) -> None:
    sysfs_mod.default_io = lambda: sim  # type: ignore[assignment]
    roots = ["--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc)]
    shown = " ".join(a if not a.startswith(str(ROOT)) else a for a in args)
    print(f"$ tdxpolicy {shown} {' '.join(roots)}")
    sys.stdout.flush()
    code = main(args + roots)
    sys.stderr.flush()
    print(f"(exit {code})\n")


def main_demo() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir()
    image, seamhash, key_hash = signed_image(0x200)
    img100, _, _ = signed_image(0x100)
    (ROOT / "tdx_module_1.5.16.img").write_bytes(image)
    (ROOT / "tdx_module_1.5.16.blob").write_bytes(img100)
    (ROOT / "site.tdxpolicy").write_text(site_policy_text(seamhash))
    host_cmds.TEST_TRUSTED_KEY_HASHES = (key_hash,)  # the test key (tests only!)
    clock = FakeClock()
    host_cmds.TEST_CLOCK = (clock, clock.sleep)
    pol = ["--no-default-policy", "--policy", str(ROOT / "site.tdxpolicy")]
    upd = ["--record", str(ROOT / "updates.jsonl"), "--lock-file", str(ROOT / "lock")]
    img = ["--image", str(ROOT / "tdx_module_1.5.16.img")]

    which = sys.argv[1:] or ["probe", "preflight", "update"]
    if "probe" in which:
        for gen in ("merged", "series-v3-v7", "legacy"):
            run(SimKernel(ROOT / gen, generation=gen), ["probe"])
        run(SimKernel(ROOT / "merged"), ["probe", "--format", "json"])
        run(SimKernel(ROOT / "seamret", bugs=("seamret_invd_vmcs",), upload=False), ["probe"])
        lost = SimKernel(ROOT / "lost")
        lost.module_lost = True
        run(lost, ["probe"])
        run(SimKernel(ROOT / "none", upload=False), ["probe"])
        bad = SimKernel(ROOT / "bad")
        bad.version_path.write_text("1.5.6-rc1\n")
        run(bad, ["probe"])
    if "preflight" in which:
        run(SimKernel(ROOT / "pf"), ["preflight", *img, *pol])
        run(SimKernel(ROOT / "pf2", offline="6-7"),
            ["preflight", "--image", str(ROOT / "tdx_module_1.5.16.blob"), *pol])
    if "update" in which:
        run(SimKernel(ROOT / "u0", installs="1.5.16"), ["update", *img, "--dry-run", *pol, *upd])
        run(SimKernel(ROOT / "u1", installs="1.5.16"),
            ["update", *img, "--acknowledge", "td-build", *pol, *upd])
        for fault in (Fault.REJECT, Fault.MODULE_LOST, Fault.STUCK, Fault.BUSY):
            run(SimKernel(ROOT / f"u-{fault.value}", installs="1.5.16", fault=fault),
                ["update", *img, "--acknowledge", "td-build", "--timeout", "30", *pol, *upd])
        lines = (ROOT / "updates.jsonl").read_text().splitlines()
        rec = json.loads(lines[1])
        rec["verdict"]["checks"] = rec["verdict"]["checks"][:2] + ["..."]
        rec["interface"] = "{...}"
        print(f"$ sed -n 2p {ROOT}/updates.jsonl | python -m json.tool   # abridged")
        print(json.dumps(rec, indent=2))


if __name__ == "__main__":
    main_demo()
