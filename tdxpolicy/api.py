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
name (plus the embedded catalogue unless ``include_default=False``). A denied move is a normal
:class:`Verdict`, not an exception.

Errors: bad input raises :class:`~tdxpolicy.errors.InputError` (a
:class:`~tdxpolicy.errors.TdxPolicyError`), and only that. A malformed file or JSON text gives
its location and what was expected; a Python value of the wrong type or out of range, given to
one of the value types or to an entry point here, raises the subclass
:class:`~tdxpolicy.errors.InvalidArgument` (also a ``TypeError`` and a ``ValueError``) when it
is given, naming the field or argument. The input types check their fields when built
(:class:`HostFacts`, :class:`Version`, :class:`MoveOptions`, :class:`Catalogue`); the answers
(:class:`Verdict`, :class:`Check`, :class:`PathResult`, :class:`SelectResult`,
:class:`Candidate`) and :class:`Release` are built by the library and not re-checked::

    >>> tdxpolicy.HostFacts(module_version="1.5.06")
    Traceback (most recent call last):
    ...
    tdxpolicy.errors.InvalidArgument: HostFacts.module_version: expected a Version or None (Version.parse('1.5.06') reads text), got str '1.5.06'
    >>> tdxpolicy.decide(cat, host, "1.5.16", opts)
    Traceback (most recent call last):
    ...
    tdxpolicy.errors.InvalidArgument: decide() argument 'target': expected a Version (Version.parse('1.5.16') reads text), got str '1.5.16'
    >>> tdxpolicy.Version.parse("1.5")
    Traceback (most recent call last):
    ...
    tdxpolicy.version.VersionError: expected a version like 1.5.06, got '1.5'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from . import engine as _engine
from .catalogue import Catalogue, Release
from .errors import InputError, InvalidArgument, TdxPolicyError
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
    "InvalidArgument",
]


def _expect(where: str, given: object, kind: type, expected: str) -> None:
    if not isinstance(given, kind):
        raise InvalidArgument.expected(where, expected, given)


def _check_move(fn: str, catalogue: object, facts: object, options: object) -> None:
    _expect(f"{fn}() argument 'catalogue'", catalogue, Catalogue,
            "a Catalogue (tdxpolicy.load_catalogue() reads one)")
    _expect(f"{fn}() argument 'facts'", facts, HostFacts,
            "a HostFacts (tdxpolicy.host_facts_from_json() reads the JSON shape)")
    _expect(f"{fn}() argument 'options'", options, MoveOptions, "a MoveOptions")


def _check_target(fn: str, target: object) -> None:
    _expect(f"{fn}() argument 'target'", target, Version,
            "a Version (Version.parse('1.5.16') reads text)")


def _check_max_hops(fn: str, max_hops: object, optional: bool) -> None:
    if max_hops is None and optional:
        return
    if type(max_hops) is not int or max_hops < 1:
        raise InvalidArgument.expected(f"{fn}() argument 'max_hops'",
                                       "None or an int >= 1" if optional else "an int >= 1",
                                       max_hops)


def decide(catalogue: Catalogue, facts: HostFacts, target: Version,
           options: MoveOptions) -> Verdict:
    """Decide one runtime move from ``facts.module_version`` to ``target``: a :class:`Verdict`
    listing every check (:func:`tdxpolicy.engine.decide`). Raises
    :class:`~tdxpolicy.errors.InvalidArgument` for an argument of the wrong type."""
    _check_move("decide", catalogue, facts, options)
    _check_target("decide", target)
    return _engine.decide(catalogue, facts, target, options)


def plan(catalogue: Catalogue, facts: HostFacts, target: Version, options: MoveOptions,
         max_hops: int | None = None) -> PathResult:
    """The shortest sequence of allowed hops to ``target`` (:func:`tdxpolicy.engine.plan`);
    ``max_hops`` None is unlimited. Raises :class:`~tdxpolicy.errors.InvalidArgument` for an
    argument of the wrong type or a ``max_hops`` below 1."""
    _check_move("plan", catalogue, facts, options)
    _check_target("plan", target)
    _check_max_hops("plan", max_hops, optional=True)
    return _engine.plan(catalogue, facts, target, options, max_hops)


def select(catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
           max_hops: int = 1) -> SelectResult:
    """The newest release reachable within ``max_hops`` hops, with every candidate
    (:func:`tdxpolicy.engine.select`). Raises :class:`~tdxpolicy.errors.InvalidArgument` for
    an argument of the wrong type or a ``max_hops`` below 1."""
    _check_move("select", catalogue, facts, options)
    _check_max_hops("select", max_hops, optional=False)
    return _engine.select(catalogue, facts, options, max_hops)


def load_catalogue(
    paths: Sequence[str | Path] = (), include_default: bool = True
) -> Catalogue:
    """Merge the embedded catalogue of Intel's releases (unless ``include_default=False``) with
    the policy documents, Intel mapping files, README tables or directories in ``paths``.

    Raises :class:`~tdxpolicy.errors.InputError` (located) for a document that does not parse,
    :class:`~tdxpolicy.errors.ConflictError` when sources disagree on a fact and
    :class:`~tdxpolicy.errors.InvalidArgument` when ``paths`` is not a sequence of paths (a
    single path must be wrapped: ``[path]``) or ``include_default`` not a bool.
    """
    # A str is a Sequence too: iterating one character at a time would look for files "s", "i"...
    if isinstance(paths, (str, bytes, os.PathLike)) or not isinstance(paths, Sequence) or not all(
            isinstance(p, (str, os.PathLike)) for p in paths):
        raise InvalidArgument.expected(
            "load_catalogue() argument 'paths'",
            "a sequence of paths (str or pathlib.Path; one path as [path])", paths)
    if type(include_default) is not bool:
        raise InvalidArgument.expected("load_catalogue() argument 'include_default'",
                                       "True or False", include_default)
    from .sources import load_catalogue as _load

    return _load([Path(p) for p in paths], include_default=include_default)


def host_facts_from_json(text: str | bytes, file: str = "<facts>") -> HostFacts:
    """Host facts from a JSON document shaped like ``schemas/host-facts.schema.json``.

    Raises :class:`~tdxpolicy.errors.InputError` (located, every problem listed) for JSON that
    breaks the schema and :class:`~tdxpolicy.errors.InvalidArgument` when ``text`` is not a
    str or bytes or ``file`` not a str."""
    if not isinstance(text, (str, bytes)):
        raise InvalidArgument.expected("host_facts_from_json() argument 'text'",
                                       "JSON text (str or bytes)", text)
    if not isinstance(file, str):
        raise InvalidArgument.expected("host_facts_from_json() argument 'file'",
                                       "a str naming the source in messages", file)
    from .codecs.hostfacts import parse_facts_text

    return parse_facts_text(text, file)
