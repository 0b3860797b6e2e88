"""What each ``tdxpolicy`` command does, as library calls: options in (plain values), one
result out. The command line (:mod:`tdxpolicy.cli`) parses flags, calls one function here and
hands the result to :func:`tdxpolicy.output.emit`; nothing here prints or picks exit codes.

- :mod:`.moves`: ``can-upgrade``, ``path``, ``select``, ``list``, ``fleet`` (the image-aware
  decisions, and which host facts win: given over probed).
- :mod:`.catalogue`: ``show``, ``graph`` (the host-filtered graph).
- :mod:`.host`: ``probe``, ``preflight``, ``update``.
- :mod:`.image`: ``image inspect|verify|convert|join``.
- :mod:`.diff`: ``diff``; :mod:`.build`: ``catalogue build``.

This package's own results (:mod:`.about`: ``--version`` and error reports) are rendered
through the output registry like every other result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .._value import value

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue

__all__ = ["PolicySpec"]


@value
class PolicySpec:
    """Which policy sources a command judges with: the ``--policy`` paths, and whether the
    embedded catalogue of Intel's releases is included (``--no-default-policy`` leaves it
    out)."""

    paths: tuple[Path, ...] = ()
    include_default: bool = True

    @classmethod
    def of(cls, paths: Sequence[Path] | None, no_default: bool) -> PolicySpec:
        return cls(tuple(paths or ()), not no_default)

    def load(self) -> Catalogue:
        from ..sources import load_catalogue

        # A large catalogue settles the heap after loading (docs/performance.md#settle-heap).
        return load_catalogue(list(self.paths), include_default=self.include_default,
                              settle=True)
