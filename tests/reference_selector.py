"""Intel's reference selector (``version_select_and_load.py``), its rules only, as a test oracle.

Re-implemented from the rules quoted in docs/docs/domain.md#move-rules (read from Intel's source):
a module is installable when

- it is compatible with the P-SEAMLDR: for some ``m`` in its ``min_seamldr_versions``,
  ``L.major == m.major and L.minor == m.minor and m.update <= L.update``;
- it is compatible with the CPU: ``CPUID.1.EAX & 0xFFFFFFF0`` is in the image's CPUID table,
  each entry masked the same way (the script reads one CPU; here every package must match,
  which is what P-SEAMLDR enforces and what the agreement test feeds it with one package);
- it is not debug-signed unless debug is allowed (sigstruct ``module_type`` bit 31);
- it is "TD-preserving capable": same ``major.minor`` as the running module,
  ``T.update >= R.update`` (reinstall allowed, every rollback refused) and
  ``min_module_version_for_td_preserving.update <= R.update``.

Only releases with an entry in the mapping file and a published image exist for it. The
script's defects (newest-then-fail, no budget, exit 0 on refusal, sysfs paths) are not rules
and are not reproduced. Inputs are plain values so the oracle shares no code with tdxpolicy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


def _triple(text: str) -> tuple[int, int, int]:
    a, b, c = text.split(".")
    return int(a), int(b), int(c)


@dataclass(frozen=True)
class RefModule:
    version: str
    min_module_version_for_td_preserving: str
    min_seamldr_versions: tuple[str, ...]
    cpuid_table: tuple[int, ...]
    module_type: int = 0


def is_compatible_with_seamldr(module: RefModule, seamldr_version: str) -> bool:
    sm, sn, su = _triple(seamldr_version)
    for v in module.min_seamldr_versions:
        major, minor, update = _triple(v)
        if major == sm and minor == sn and update <= su:
            return True
    return False


def is_compatible_with_cpu(module: RefModule, cpuid_1_eax: int) -> bool:
    return (cpuid_1_eax & 0xFFFFFFF0) in [e & 0xFFFFFFF0 for e in module.cpuid_table]


def is_debug(module: RefModule) -> bool:
    return bool(module.module_type & (1 << 31))


def is_td_preserving_capable(module: RefModule, current_version: str,
                             allow_debug: bool = False) -> bool:
    if is_debug(module) and not allow_debug:
        return False
    cur = _triple(current_version)
    mod = _triple(module.version)
    min_update = _triple(module.min_module_version_for_td_preserving)[2]
    return mod[:2] == cur[:2] and mod[2] >= cur[2] and min_update <= cur[2]


def would_install(module: RefModule, current_version: str, seamldr_version: str,
                  cpus: Sequence[int], allow_debug: bool = False) -> bool:
    """What ``--update VERSION`` would install (the checks of ``update_tdx_module``)."""
    return (is_compatible_with_seamldr(module, seamldr_version)
            and all(is_compatible_with_cpu(module, c) for c in cpus)
            and is_td_preserving_capable(module, current_version, allow_debug))
