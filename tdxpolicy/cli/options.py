"""Options shared by several commands (docs/cli.md#global-conventions)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, Sequence

import typer

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


PolicyOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--policy",
        metavar="PATH",
        help="Policy document, Intel mapping_file.json, Intel README table, or a directory of "
        "them (repeatable). Adds to the embedded catalogue.",
    ),
]
NoDefaultPolicyOpt = Annotated[
    bool,
    typer.Option("--no-default-policy", help="Leave the embedded catalogue of Intel releases out."),
]
ToOpt = Annotated[
    Optional[str], typer.Option("--to", metavar="VERSION", help="Target TDX module version.")
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
]


def load_policy(policy: Sequence[Path] | None, no_default: bool) -> Catalogue:
    """The catalogue a command judges with: the embedded one (unless ``--no-default-policy``)
    merged with every ``--policy`` source; a large one settles the heap
    (docs/performance.md#settle-heap)."""
    from ..sources import load_catalogue

    return load_catalogue(list(policy or ()), include_default=not no_default, settle=True)
