"""Host facts: what the running host is, as far as it is known.

A fact that was not given is ``None`` (unknown). Checks that need an unknown fact report
``unknown``, which denies unless the user passes ``--assume-unknown-ok``
(docs/cli.md#host-facts). Sources of host facts: CLI flags, a ``--facts`` JSON file
(``schemas/host-facts.schema.json``), or the probe of a running system (:mod:`tdxpolicy.host`).
"""

from __future__ import annotations


from ._value import field, replace, value
from .errors import InvalidArgument
from .version import Version

__all__ = ["HostFacts", "cpuid_family_model", "format_cpuid", "parse_cpuid_field"]

# CPUID.1.EAX: stepping is bits 3:0 and is ignored when matching a sigstruct CPUID table
# (docs/domain.md#cpu).
STEPPING_MASK = 0xF
# CPUID.1.EAX is a 32-bit register.
_MAX_CPUID = 0xFFFF_FFFF


def cpuid_family_model(eax: int) -> int:
    """CPUID.1.EAX with the stepping masked off, as P-SEAMLDR compares it."""
    return eax & ~STEPPING_MASK


def format_cpuid(eax: int) -> str:
    """A CPUID.1.EAX value as messages and JSON show it: ``0x806F8``."""
    return f"0x{eax:X}"


@value
class HostFacts:
    """What is known about one host; ``None`` is unknown.

    Fields are checked when the value is built: a wrong type or an impossible value raises
    :class:`~tdxpolicy.errors.InvalidArgument` naming the field (``Version.parse`` turns text
    into a :class:`~tdxpolicy.version.Version`; ``host_facts_from_json`` reads the JSON shape).
    """

    module_version: Version | None = None
    seamldr_version: Version | None = None
    # CPUID.1.EAX of every CPU package; None when unknown. An empty tuple is not "unknown":
    # sources must refuse it (a host has at least one package).
    cpuid: tuple[int, ...] | None = None
    num_remaining_updates: int | None = None
    host: str | None = None
    # Which of the above were given explicitly (flags/file/probe), for messages.
    origin: str = field(default="flags", compare=False)

    def __post_init__(self) -> None:
        # A public input type: a wrong value fails here, named, not as an AttributeError or
        # TypeError inside a check (issue 15).
        for name in ("module_version", "seamldr_version"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Version):
                raise InvalidArgument.expected(
                    f"HostFacts.{name}",
                    "a Version or None (Version.parse('1.5.06') reads text)", v)
        cpuid = self.cpuid
        if cpuid is not None and not (
            type(cpuid) is tuple and cpuid
            and all(type(c) is int and 0 <= c <= _MAX_CPUID for c in cpuid)
        ):
            raise InvalidArgument.expected(
                "HostFacts.cpuid",
                "None or a non-empty tuple of CPUID.1.EAX values (ints from 0 to 0xFFFFFFFF, "
                "one per CPU package)", cpuid)
        remaining = self.num_remaining_updates
        if remaining is not None and not (type(remaining) is int and remaining >= 0):
            raise InvalidArgument.expected(
                "HostFacts.num_remaining_updates", "None or an int >= 0", remaining)
        if self.host is not None and type(self.host) is not str:
            raise InvalidArgument.expected("HostFacts.host", "None or a str", self.host)
        if type(self.origin) is not str:
            raise InvalidArgument.expected("HostFacts.origin", "a str", self.origin)

    def after_update(self, new_version: Version) -> HostFacts:
        """The host state after one successful runtime update to ``new_version``: the running
        version changes and P-SEAMLDR's log uses one entry (docs/domain.md#parts)."""
        remaining = self.num_remaining_updates
        return replace(
            self,
            module_version=new_version,
            num_remaining_updates=None if remaining is None else remaining - 1,
        )


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def parse_cpuid_field(value: object) -> int | None:
    """A CPUID.1.EAX value as host facts and flags spell it (``0x806F8`` or ``806F8``: at most
    8 hex digits; JSON Schema's ``^(?:0[xX])?([0-9a-fA-F]{1,8})$``, so one trailing newline is
    tolerated as ``$`` does), or None. Plain string tests, no regular expression: the CLI's
    ``--cpuid`` parses it at every cold start."""
    if type(value) is not str:
        return None
    text = value[:-1] if value.endswith("\n") else value
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if not 1 <= len(text) <= 8 or not _HEX_DIGITS.issuperset(text):
        return None
    return int(text, 16)
