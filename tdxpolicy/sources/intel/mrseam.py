"""Intel's release list with MRSEAM (``tdx-module-releases.md``) as a policy document: the
``mrseam`` fact of each release (docs/domain.md#intel-data)."""

from __future__ import annotations

import re
from typing import Sequence

from ...errors import InputError, Problem
from ...model import Location, PolicyDocument, ReleaseBlock, ReleaseFacts, SourceKind, Sourced
from ...version import Version
from .common import in_file_order, show_value
from .markdown import (
    Cell,
    cell_problem,
    cell_version,
    check_row_width,
    find_block,
    parse_table,
    split_lines,
)

__all__ = ["has_mrseam_header", "parse_mrseam_table"]


_MRSEAM_HEADER_RE = re.compile(r"\|\s*Version\s*\|\s*MRSEAM\s*\|", re.IGNORECASE)
_LINKED_RE = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_MRSEAM_RE = re.compile(r"(?:0[xX])?([0-9A-Fa-f]+)")
_MRSEAM_DIGITS = 96  # SHA-384


def has_mrseam_header(text: str) -> bool:
    return _MRSEAM_HEADER_RE.search(text) is not None


def parse_mrseam_table(text: str, file: str) -> PolicyDocument:
    """Intel's release list with MRSEAM (``tdx-module-releases.md``): one ``mrseam`` fact per
    row, stored as 96 upper-case hex digits without ``0x``.

    The version cell is ``[1.5.01](link)``, ``1.5.28*`` (``*``: Intel's footnote "in the
    process of being integrated by our partners"; not a fact) or a bare version.
    """
    lines = split_lines(text, file)
    found = find_block(lines, has_mrseam_header)
    if found is None:
        raise InputError.at(
            "no release table found: expected Intel's tdx-module-releases.md with a Markdown "
            "table '| Version | MRSEAM |'",
            Location(file, 1, 1),
        )
    first, end = found
    table = parse_table(lines, first, end, file)
    problems: list[Problem] = []
    first_seen: dict[Version, Location] = {}
    blocks: list[ReleaseBlock] = []
    for row in table.rows:
        if not check_row_width(row, 2, "version | MRSEAM", lines, file, problems):
            continue
        vcell, hcell = row.cells
        vtext, vcol = vcell.text, vcell.column
        m = _LINKED_RE.fullmatch(vtext)
        if m is not None:
            vtext, vcol = m.group(1).strip(), vcol + 1 + (len(m.group(1)) - len(m.group(1).lstrip()))
        elif vtext.endswith("*"):
            # Intel's footnote mark (rstrip, not a "(.*?)\*+" expression: that one is
            # quadratic in a run of '*').
            vtext = vtext.rstrip("*").strip()
        version = cell_version(Cell(vtext, vcell.line, vcol), "Version", lines, file, problems)
        mrseam = _mrseam_cell(hcell, lines, file, problems)
        if version is None or mrseam is None:
            continue
        vloc = Location(file, vcell.line, vcol)
        if version in first_seen:
            problems.append(
                Problem(
                    f"release {version} is listed twice (first at {first_seen[version]})",
                    vloc, lines[vcell.line - 1],
                )
            )
            continue
        first_seen[version] = vloc
        blocks.append(
            ReleaseBlock(
                version=version,
                source=vloc,
                facts=ReleaseFacts(
                    mrseam=Sourced(mrseam, Location(file, hcell.line, hcell.column))
                ),
            )
        )
    if problems:
        raise InputError(in_file_order(problems))
    return PolicyDocument(file=file, kind=SourceKind.MRSEAM_TABLE, releases=tuple(blocks))


def _mrseam_cell(
    cell: Cell, lines: Sequence[str], file: str, problems: list[Problem]
) -> str | None:
    m = _MRSEAM_RE.fullmatch(cell.text)
    if m is None:
        problems.append(
            cell_problem(
                cell,
                "column 'MRSEAM': expected 0x and 96 hex digits (SHA-384 of the module), "
                f"got {show_value(cell.text)}",
                lines, file,
            )
        )
        return None
    digits = m.group(1)
    if len(digits) != _MRSEAM_DIGITS:
        problems.append(
            cell_problem(
                cell,
                f"column 'MRSEAM': expected 96 hex digits (SHA-384 of the module), "
                f"got {len(digits)}",
                lines, file,
            )
        )
        return None
    return digits.upper()
