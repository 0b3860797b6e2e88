"""What each ``tdxpolicy`` command does, as library calls: options in (plain values), one
result out. The command line (:mod:`tdxpolicy.cli`) parses flags, calls one function here and
hands the result to :func:`tdxpolicy.output.emit`; nothing here prints or picks exit codes.

- :mod:`.moves`: ``can-upgrade``, ``path``, ``select``, ``list``, ``fleet`` (the image-aware
  decisions, and which host facts win: given over probed).
- :mod:`.catalogue`: ``show``, ``graph`` (the host-filtered graph).
- :mod:`.host`: ``probe``, ``preflight``, ``update``.
- :mod:`.image`: ``image inspect|verify|convert|join``.
- :mod:`.diff`: ``diff``; :mod:`.build`: ``catalogue build``.

This package's own results (:class:`VersionInfo`, :class:`ErrorReport`) are rendered through
the output registry like every other result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .._value import value

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue
    from ..output import Style
    from ..sources.embedded import CatalogueIdentity

__all__ = ["PolicySpec", "VersionInfo", "ErrorReport", "version_info"]


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

        return load_catalogue(list(self.paths), include_default=self.include_default)


@value
class VersionInfo:
    """``tdxpolicy --version``: the tool and the identity of its embedded catalogue."""

    tool: str
    catalogue: CatalogueIdentity


def version_info() -> VersionInfo:
    from .. import __version__
    from ..sources.embedded import identity

    return VersionInfo(__version__, identity())


def version_text(info: VersionInfo, style: Style) -> str:
    return f"tdxpolicy {info.tool}\n{info.catalogue.to_text()}\n"


def version_json(info: VersionInfo) -> dict[str, Any]:
    return {"tdxpolicy": info.tool, "embedded_catalogue": info.catalogue.to_json()}


@value
class ErrorReport:
    """An error as a command reports it (docs/cli.md#errors): ``code`` and ``message``, the
    rendered text for stderr, and extra keys of the JSON ``error`` object (``problems``)."""

    code: str
    message: str
    rendered: str
    extra: dict[str, Any] | None = None


def error_text(report: ErrorReport, style: Style) -> str:
    return f"tdxpolicy: {report.rendered}\n"


def error_json(report: ErrorReport) -> dict[str, Any]:
    """``schemas/error.schema.json``."""
    err: dict[str, Any] = {"code": report.code, "message": report.message}
    if report.extra:
        err.update(report.extra)
    return {"error": err}
