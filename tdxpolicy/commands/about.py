"""``tdxpolicy --version`` and error reports as results of the output registry (kept apart
from :mod:`tdxpolicy.commands` so that a command that succeeds never loads them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._value import value

if TYPE_CHECKING:  # pragma: no cover
    from ..output import Style
    from ..sources.embedded import CatalogueIdentity

__all__ = ["VersionInfo", "ErrorReport", "version_info"]


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
    return {"tdxpolicy": "version/1", "version": info.tool,
            "embedded_catalogue": info.catalogue.to_json()}


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
