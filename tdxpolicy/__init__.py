"""tdxpolicy: policy engine and compatibility checker for Intel TDX module runtime updates.

The public API (:mod:`tdxpolicy.api`) is re-exported here lazily so that ``import tdxpolicy``
stays cheap: ``tdxpolicy.decide`` imports the engine on first use.

Bad input raises :class:`InputError` and nothing else: a malformed file or JSON text with its
location, a Python value of the wrong type or out of range (``HostFacts(module_version=
"1.5.06")``, ``decide(cat, host, "1.5.16", opts)``) as its subclass :class:`InvalidArgument`
(also a ``TypeError``/``ValueError``), naming the field or argument, when it is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_API = (
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
)
_BATCH = ("decide_many", "Decider")

__all__ = ["__version__", *_API, *_BATCH]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .api import (  # noqa: F401
        Candidate,
        Catalogue,
        Check,
        HostFacts,
        InputError,
        InvalidArgument,
        MoveKind,
        MoveOptions,
        PathResult,
        Release,
        Result,
        SelectResult,
        TdxPolicyError,
        Verdict,
        Version,
        decide,
        host_facts_from_json,
        load_catalogue,
        parse_version,
        plan,
        select,
    )
    from .batch import Decider, decide_many  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    if name in _BATCH:
        from . import batch

        value = getattr(batch, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tdxpolicy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API) | set(_BATCH))
