"""The running host: probe (read sysfs/procfs), preflight (every check before a write) and the
guarded update through the kernel's ``fw_upload`` interface.

Public entry points:

- :func:`probe` (``probe.py``) -> :class:`ProbeResult`: host facts + interface;
  :func:`probe_facts` -> :class:`~tdxpolicy.hostfacts.HostFacts` for the move commands.
- :func:`preflight` (``preflight.py``) -> :class:`Preflight` (one verdict with host checks).
- :func:`run_update` (``upload.py``) -> :class:`UpdateResult` (outcome + record).

All I/O goes through a :class:`SysfsIO` (``sysfs.py``) so tests can use the simulated kernel
(``tests/simkernel.py``). Heavy modules are not imported here.
"""

from __future__ import annotations

from .probe import Generation, Interface, ProbeResult, probe, probe_facts
from .sysfs import RealSysfs, SysfsIO

__all__ = [
    "Generation",
    "Interface",
    "ProbeResult",
    "probe",
    "probe_facts",
    "RealSysfs",
    "SysfsIO",
]
