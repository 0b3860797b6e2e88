"""Options shared by several commands (cli-contract.md, "Global conventions")."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


PolicyOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--policy",
        help="Policy document, Intel mapping_file.json, Intel README table, or a directory of "
        "them (repeatable). Adds to the embedded catalogue.",
    ),
]
NoDefaultPolicyOpt = Annotated[
    bool,
    typer.Option("--no-default-policy", help="Leave the embedded catalogue of Intel releases out."),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
]
