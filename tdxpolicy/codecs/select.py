"""Codec of ``select/1`` (schemas/select.schema.json): the newest reachable release, with
every candidate and why it fails. ``hops`` and ``unknown`` on candidates are additive."""

from __future__ import annotations

from typing import Any, Protocol

from ..verdict import SelectResult
from ..version import Version
from .verdict import verdict_json

__all__ = ["TAG", "SELECT_TAG", "select_json", "selection_to_json"]

TAG = SELECT_TAG = "select/1"


def select_json(result: SelectResult, from_version: Version | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"tdxpolicy": TAG}
    if from_version is not None or result.path:
        fv = from_version if from_version is not None else result.path[0].from_version
        out["from"] = fv.text if fv is not None else None
    out["selected"] = result.selected.text if result.selected is not None else None
    out["path"] = [verdict_json(v) for v in result.path]
    out["candidates"] = [
        {
            "version": c.version.text,
            "allowed": c.allowed,
            "failed": list(c.failed),
            "unknown": list(c.unknown),
            "hops": c.hops,
        }
        for c in result.candidates
    ]
    return out


class Selected(Protocol):
    """What this codec reads of ``select``'s answer (:class:`tdxpolicy.commands.moves.Selection`,
    a layer above the codecs, which therefore do not import it)."""

    @property
    def result(self) -> SelectResult: ...

    @property
    def from_version(self) -> Version | None: ...


def selection_to_json(selection: Selected) -> dict[str, Any]:
    """The document of a :class:`~tdxpolicy.commands.moves.Selection` (what ``select``
    prints)."""
    return select_json(selection.result, selection.from_version)
