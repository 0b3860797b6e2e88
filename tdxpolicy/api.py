"""The typed Python API: what the ``tdxpolicy`` command line is a thin shell over.

Everything here is re-exported from the package itself (lazily, so ``import tdxpolicy`` stays
cheap)::

    >>> import tdxpolicy
    >>> cat = tdxpolicy.load_catalogue()                    # Intel's published releases
    >>> host = tdxpolicy.HostFacts(
    ...     module_version=tdxpolicy.Version.parse("1.5.06"),
    ...     seamldr_version=tdxpolicy.Version.parse("2.0.00"),
    ...     cpuid=(0x806F8,),
    ...     num_remaining_updates=5,
    ... )
    >>> opts = tdxpolicy.MoveOptions(acknowledged=frozenset({"td-build"}))
    >>> verdict = tdxpolicy.decide(cat, host, tdxpolicy.Version.parse("1.5.16"), opts)
    >>> verdict.allowed, verdict.kind.value
    (True, 'upgrade')
    >>> [c.code for c in tdxpolicy.decide(cat, host, tdxpolicy.Version.parse("1.5.01"), opts).failed]
    ['rollback-rule', 'seamldr', 'svn']
    >>> tdxpolicy.select(cat, host, opts).selected
    Version('1.5.16')
    >>> [h.to_version.text for h in tdxpolicy.plan(cat, host, tdxpolicy.Version.parse("1.5.16"), opts).hops]
    ['1.5.16']

Host facts can also come from JSON (the ``--facts`` / ``fleet`` shape)::

    >>> facts = tdxpolicy.host_facts_from_json('{"module_version": "1.5.06", "cpuid": ["0x806F8"]}')
    >>> facts.module_version, [hex(c) for c in facts.cpuid]
    (Version('1.5.06'), ['0x806f8'])
    >>> facts.seamldr_version is None   # not given: unknown, and checks that need it deny
    True

``decide``/``plan``/``select`` are pure (no I/O); ``load_catalogue`` reads the policy files you
name (plus the embedded catalogue unless ``include_default=False``). Malformed input raises
:class:`~tdxpolicy.errors.InputError` (a :class:`~tdxpolicy.errors.TdxPolicyError`) with the
location and what was expected; a denied move is a normal :class:`Verdict`, not an exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .catalogue import Catalogue, Release
from .engine import decide, plan, select
from .errors import InputError, TdxPolicyError
from .hostfacts import HostFacts
from .verdict import (
    Candidate,
    Check,
    MoveKind,
    MoveOptions,
    PathResult,
    Result,
    SelectResult,
    Verdict,
)
from .version import Version, parse_version

__all__ = [
    "load_catalogue",
    "host_facts_from_json",
    "decide",
    "plan",
    "select",
    "Catalogue",
    "Release",
    "HostFacts",
    "Version",
    "parse_version",
    "MoveOptions",
    "MoveKind",
    "Result",
    "Check",
    "Verdict",
    "PathResult",
    "SelectResult",
    "Candidate",
    "TdxPolicyError",
    "InputError",
]


def load_catalogue(
    paths: Sequence[str | Path] = (), include_default: bool = True
) -> Catalogue:
    """Merge the embedded catalogue of Intel's releases (unless ``include_default=False``) with
    the policy documents, Intel mapping files, README tables or directories in ``paths``.

    Raises :class:`~tdxpolicy.errors.InputError` (located) for a document that does not parse
    and :class:`~tdxpolicy.errors.ConflictError` when sources disagree on a fact.
    """
    from .sources import load_catalogue as _load

    return _load([Path(p) for p in paths], include_default=include_default)


def host_facts_from_json(text: str | bytes, file: str = "<facts>") -> HostFacts:
    """Host facts from a JSON document shaped like ``schemas/host-facts.schema.json``."""
    from .sources.hostfacts import parse_facts_text

    return parse_facts_text(text, file)
