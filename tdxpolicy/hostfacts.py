"""Host facts: what the running host is, as far as it is known.

A fact that was not given is ``None`` (unknown). Checks that need an unknown fact report
``unknown``, which denies unless the user passes ``--assume-unknown-ok``
(docs/cli.md#host-facts). Sources of host facts: CLI flags, a ``--facts`` JSON file
(``schemas/host-facts.schema.json``), or the probe of a running system (:mod:`tdxpolicy.host`).
"""

from __future__ import annotations

from dataclasses import field, replace

from ._value import value
from .version import Version

__all__ = ["HostFacts", "cpuid_family_model", "format_cpuid"]

# CPUID.1.EAX: stepping is bits 3:0 and is ignored when matching a sigstruct CPUID table
# (docs/domain.md#cpu).
STEPPING_MASK = 0xF


def cpuid_family_model(eax: int) -> int:
    """CPUID.1.EAX with the stepping masked off, as P-SEAMLDR compares it."""
    return eax & ~STEPPING_MASK


def format_cpuid(eax: int) -> str:
    """A CPUID.1.EAX value as messages and JSON show it: ``0x806F8``."""
    return f"0x{eax:X}"


@value
class HostFacts:
    module_version: Version | None = None
    seamldr_version: Version | None = None
    # CPUID.1.EAX of every CPU package; None when unknown. An empty tuple is not "unknown":
    # sources must refuse it (a host has at least one package).
    cpuid: tuple[int, ...] | None = None
    num_remaining_updates: int | None = None
    host: str | None = None
    # Which of the above were given explicitly (flags/file/probe), for messages.
    origin: str = field(default="flags", compare=False)

    def after_update(self, new_version: Version) -> HostFacts:
        """The host state after one successful runtime update to ``new_version``: the running
        version changes and P-SEAMLDR's log uses one entry (docs/domain.md#parts)."""
        remaining = self.num_remaining_updates
        return replace(
            self,
            module_version=new_version,
            num_remaining_updates=None if remaining is None else remaining - 1,
        )
