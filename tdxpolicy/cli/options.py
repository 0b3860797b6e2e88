"""Options shared by several commands, the output formats of each command family, and the
one way a command's result leaves (docs/cli.md#global-conventions, docs/cli.md#output).

Adding an output format: register its renderer in :data:`tdxpolicy.output.RENDERERS` and add
the word to the format enum of the command family: :class:`OutputFormat` here (the plain
text-or-JSON commands), :class:`DecideFormat` and :class:`SelectFormat` here (the move
commands), ``ProbeFormat`` and ``PreflightFormat`` (host_cmds.py), ``GraphFormat``
(catalogue_cmds.py), ``DiffFormat`` (diff_cmds.py), ``FleetFormat`` (fleet_cmds.py). Each
enum lives with the commands that use it, so that a command does not pay for creating the
others' at start-up.
"""

from __future__ import annotations

from contextlib import contextmanager, redirect_stdout
from enum import Enum
from pathlib import Path
from typing import IO, Annotated, Any, Iterator, Optional

import typer

from ..output import emit, open_output


class OutputFormat(str, Enum):
    """Most commands: text for people, JSON for programs."""

    text = "text"
    json = "json"


class DecideFormat(str, Enum):
    """``can-upgrade``: also the exporters (docs/exporters.md) and JUnit for CI."""

    text = "text"
    json = "json"
    nfd = "nfd"
    prometheus = "prometheus"
    junit = "junit"


class SelectFormat(str, Enum):
    """``select``: also the exporters (docs/exporters.md)."""

    text = "text"
    json = "json"
    nfd = "nfd"
    prometheus = "prometheus"


#: The formats that describe the host for node-feature-discovery or Prometheus.
EXPORT_FORMATS = ("nfd", "prometheus")


def export_format_help(base: str) -> str:
    return (base + " nfd: a node-feature-discovery feature file; prometheus: node_exporter "
            "textfile metrics (docs/exporters.md).")


#: Environment variables that stand for options (docs/cli.md#environment).
POLICY_ENV = "TDXPOLICY_POLICY"
NO_DEFAULT_POLICY_ENV = "TDXPOLICY_NO_DEFAULT_POLICY"

PolicyOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--policy",
        metavar="PATH",
        envvar=POLICY_ENV,
        help="Policy document, Intel mapping_file.json, Intel README table, or a directory of "
        f"them (repeatable; ${POLICY_ENV} holds paths separated by ':'). Adds to the "
        "embedded catalogue.",
    ),
]
NoDefaultPolicyOpt = Annotated[
    bool,
    typer.Option("--no-default-policy", envvar=NO_DEFAULT_POLICY_ENV,
                 help="Leave the embedded catalogue of Intel releases out "
                 f"(${NO_DEFAULT_POLICY_ENV}=1 too)."),
]
ToOpt = Annotated[
    Optional[str], typer.Option("--to", metavar="VERSION", help="Target TDX module version.")
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
]
DecideFormatOpt = Annotated[
    DecideFormat, typer.Option("--format", case_sensitive=False, help=export_format_help(
        "Output format: text, json (verdict/1), junit (one test case per check);"))
]
SelectFormatOpt = Annotated[
    SelectFormat, typer.Option("--format", case_sensitive=False, help=export_format_help(
        "Output format: text, json (select/1);"))
]
RecordOpt = Annotated[
    Optional[Path], typer.Option("--record", metavar="FILE",
                                 help="Update records to read for --format prometheus "
                                 "(tdxpolicy_last_update_outcome; default: the records "
                                 "`update` appends, /var/lib/tdxpolicy/updates.jsonl); a "
                                 "missing file means no update yet.")
]
HostNameOpt = Annotated[
    Optional[str], typer.Option("--host", metavar="NAME", envvar="NODE_NAME",
                                help="The host's name in the facts (default: $NODE_NAME, "
                                "then the host name).")
]
OutputOpt = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", metavar="FILE",
                 help="Write the output to FILE instead of stdout, atomically (complete or "
                 "not at all); '-' is stdout."),
]


def emit_result(result: Any, fmt: Enum, output: Path | None, *,
                stream: IO[str] | None = None) -> None:
    """The one way out: ``result`` in format ``fmt`` to ``output`` (stdout when ``None`` or
    ``-``; a file written atomically otherwise), or to ``stream`` (stderr, when stdout
    carries something else)."""
    if stream is not None:
        emit(result, str(fmt.value), stream)
        return
    with open_output(output) as sink:
        emit(result, str(fmt.value), sink)


@contextmanager
def to_output(output: Path | None) -> Iterator[None]:
    """Whatever the block prints on stdout goes to ``output`` instead, written atomically
    (for the commands that write their document piece by piece: audit, lint)."""
    if output is None or str(output) == "-":
        yield
        return
    with open_output(output) as sink, redirect_stdout(sink.text):
        yield
