"""The catalogue commands as library calls: ``show`` (one release, every fact and rule with
the line that declared it) and ``graph`` (the version graph, optionally filtered by what the
engine allows for given host facts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._value import replace, value
from ..errors import InputError
from ..hostfacts import HostFacts
from ..verdict import MoveOptions
from . import PolicySpec

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue, Release
    from ..graph import Edge, VersionGraph

__all__ = ["ShownRelease", "show_release", "version_graph", "SHOWN_UNKNOWN"]

# The facts ``show`` names as unknown when no source gives them.
SHOWN_UNKNOWN = ("published", "mrseam", "seamhash", "svn", "platforms", "seamldr", "features0",
                 "handoff")


@value
class ShownRelease:
    """What ``show`` answers: the release, the document-level ``deny to`` rules that match it,
    and the facts no source gives."""

    release: Release
    deny_to: tuple[Any, ...]
    unknown_facts: tuple[str, ...]


def show_release(policy: PolicySpec, version_text: str) -> ShownRelease:
    """``show VERSION``; :class:`InputError` for a malformed or unknown version."""
    from ..version import VersionError, parse_version

    try:
        v = parse_version(version_text)
    except VersionError as e:
        raise InputError.at(f"VERSION: {e}", code="invalid-version") from None
    catalogue = policy.load()
    release = catalogue.get(v)
    if release is None:
        known = ", ".join(r.version.text for r in catalogue.releases) or "none"
        raise InputError.at(
            f"no policy source knows release {version_text} (known: {known})",
            code="unknown-version",
        )
    deny_to = tuple(d for d in catalogue.deny_to if d.versions.matches(v))
    unknown = tuple(n for n in SHOWN_UNKNOWN if getattr(release.facts, n) is None)
    return ShownRelease(release, deny_to, unknown)


def version_graph(policy: PolicySpec, host: HostFacts | None = None,
                  options: MoveOptions | None = None) -> VersionGraph:
    """``graph``: nodes are releases, edges the moves the policy permits; with ``host``, only
    the moves the engine allows for such a host (each edge judged with its source as the
    running version; the host's own running version is ignored)."""
    from ..graph import VersionGraph

    catalogue = policy.load()
    graph = VersionGraph(catalogue)
    if host is None:
        return graph
    return graph.filtered(_allowed_for(catalogue, host, options or MoveOptions()))


def _allowed_for(catalogue: Catalogue, host: HostFacts, options: MoveOptions) -> Any:
    from ..engine import decide

    def keep(e: Edge) -> bool:
        return decide(catalogue, replace(host, module_version=e.source), e.target,
                      options).allowed

    return keep
