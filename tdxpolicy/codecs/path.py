"""Codec of ``path/1`` (schemas/path.schema.json): the shortest sequence of moves as JSON.
``blocking`` (the checks that stop the search) is additive beyond the contract."""

from __future__ import annotations

from typing import Any

from ..verdict import PathResult
from .verdict import check_json, verdict_json

__all__ = ["TAG", "PATH_TAG", "path_json", "to_json"]

TAG = PATH_TAG = "path/1"


def path_json(result: PathResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tdxpolicy": TAG,
        "from": result.from_version.text if result.from_version is not None else None,
        "to": result.to_version.text,
        "found": result.found,
        "hops": [verdict_json(v) for v in result.hops] if result.found else [],
    }
    if not result.found:
        out["reason"] = result.reason or "no permitted sequence of moves"
        out["blocking"] = [check_json(c) for c in result.blocking]
    return out


def to_json(result: PathResult) -> dict[str, Any]:
    return path_json(result)
