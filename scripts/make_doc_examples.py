"""Rebuild the simulated host trees under docs/examples/host/ that docs/host.md probes.

Each tree is a plain-file sysfs/procfs as tests/simkernel.py lays it out for one kernel
generation or one failure; the documentation's probe, preflight and dry-run examples read
them with ``--sysfs-root``/``--proc-root``, and tests/test_docs_examples.py runs those examples.

    python scripts/make_doc_examples.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from simkernel import SimKernel  # noqa: E402

HOSTS = REPO / "docs" / "examples" / "host"


def main() -> None:
    shutil.rmtree(HOSTS, ignore_errors=True)
    HOSTS.mkdir(parents=True)
    SimKernel(HOSTS / "merged")
    SimKernel(HOSTS / "v1-v3", generation="v1-v3")
    SimKernel(HOSTS / "legacy", generation="legacy")
    SimKernel(HOSTS / "offline", offline="6-7")
    SimKernel(HOSTS / "seamret", bugs=("seamret_invd_vmcs",), upload=False)
    SimKernel(HOSTS / "none", upload=False)
    bad = SimKernel(HOSTS / "bad")
    bad.version_path.write_text("1.5.6-rc1\n")
    print(f"wrote {len(list(HOSTS.iterdir()))} host trees under {HOSTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
