"""Intel's binaries README as a policy document: the table "Intel TDX module limitations for
TD-Preserving update" (``update from`` and ``seamldr``) and two of its "Important Notes": the
TD-build caution (``advisory td-build``) and "2.0 versions ... currently not supported"
(``status preview`` on the 2.0.x releases of the table). docs/domain.md#intel-data,
docs/domain.md#operational-cautions.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..._value import value
from ...errors import InputError, Problem
from ...model import (
    Advisory,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    SourceKind,
    Sourced,
    Status,
    StatusKind,
    UpdateFrom,
)
from ...version import Version, VersionError, VersionSet, parse_version
from .common import check_release_versions, in_file_order
from .markdown import (
    Cell,
    Row,
    cell_problem,
    cell_version,
    check_row_width,
    find_block,
    parse_table,
    split_lines,
)

__all__ = [
    "README_TABLE_TITLE",
    "README_COLUMNS",
    "README_TITLE_RE",
    "has_readme_header",
    "parse_readme_table",
]

README_TABLE_TITLE = "Intel TDX module limitations for TD-Preserving update"


README_COLUMNS = (
    "Intel TDX Module to be Updated",
    "Minimum Version of Existing Running Intel TDX Module",
    "Supported SEAMLDR Versions",
)
# The README table's header: "minimum version", then a '|', then "seamldr", on one line. Not
# one expression like "minimum\s+version.*\|.*seamldr": its two ".*" try every '|' of the line
# against every later position (3.4 s for one line of 32,000 '|'). The first "minimum version"
# of a line decides for the whole line (a later one only sees less of it), so
# has_readme_header looks at each line once.
_README_MINIMUM_RE = re.compile(r"minimum\s++version", re.IGNORECASE)
_SEAMLDR_RE = re.compile(r"seamldr", re.IGNORECASE)
README_TITLE_RE = re.compile(r"limitations\s+for\s+TD[- ]Preserving\s+update", re.IGNORECASE)
_HEADING_RE = re.compile(r"\s{0,3}#{1,6}\s")
_LIST_ITEM_RE = re.compile(r"([ \t]*)[-*+][ \t]+(\S.*)")
# Intel: "Intel TDX module 2.0 versions include pre-production Connect interfaces and are
# currently not supported." (docs/domain.md#operational-cautions)
# Two steps rather than one "...versions\b.*\bnot\s+supported" (quadratic in a note repeating
# "1.2 versions"): the first "N.M versions" is the one such a search would report, and
# "not supported" must follow it. Fields have at most 10 digits (int() refuses 4,300).
_SERIES_VERSIONS_RE = re.compile(r"\b([0-9]{1,10})\.([0-9]{1,10})\s++versions\b", re.IGNORECASE)
_NOT_SUPPORTED_RE = re.compile(r"\bnot\s++supported\b", re.IGNORECASE)
# Intel: "Performing TD Preserving during a TD Build operation might result in a corrupted TD
# hash ..." (docs/domain.md#operational-cautions)
_TD_BUILD_RE = re.compile(r"\bTD\s+Build\b", re.IGNORECASE)
_TD_PRESERVING_RE = re.compile(r"\bTD[- ]Preserving\b", re.IGNORECASE)
_QUOTE_PREFIX = "Intel: "


def has_readme_header(text: str) -> bool:
    """Does some line of ``text`` hold "minimum version", later a '|', later "seamldr"?
    Linear: each line is looked at from its first "minimum version" only."""
    pos = 0
    while True:
        m = _README_MINIMUM_RE.search(text, pos)
        if m is None:
            return False
        eol = text.find("\n", m.end())
        if eol < 0:
            eol = len(text)
        bar = text.find("|", m.end(), eol)
        if bar >= 0 and _SEAMLDR_RE.search(text, bar + 1, eol) is not None:
            return True
        pos = eol + 1


@value
class _Note:
    text: str
    line: int
    column: int


def _section_notes(lines: Sequence[str], first: int, end: int) -> list[_Note]:
    """The list items of the Markdown section that holds the table (from the heading above
    it to the next heading), each with its continuation lines joined."""
    start = first
    while start > 0 and not _HEADING_RE.match(lines[start - 1]):
        start -= 1
    stop = end
    while stop < len(lines) and not _HEADING_RE.match(lines[stop]):
        stop += 1
    notes: list[_Note] = []
    i = start
    while i < stop:
        m = _LIST_ITEM_RE.fullmatch(lines[i].rstrip("\r \t"))
        if m is None:
            i += 1
            continue
        parts = [m.group(2).strip()]
        line, column = i + 1, m.start(2) + 1
        i += 1
        while i < stop:
            nxt = lines[i].rstrip("\r \t")
            if not nxt.strip() or _LIST_ITEM_RE.fullmatch(nxt) or nxt.lstrip().startswith("|"):
                break
            parts.append(nxt.strip())
            i += 1
        notes.append(_Note(" ".join(parts), line, column))
    return notes


def parse_readme_table(text: str, file: str) -> PolicyDocument:
    """Intel's binaries README: the table "Intel TDX module limitations for TD-Preserving
    update" and two of the notes beside it, as a policy document.

    Row ``| T | M | L1, L2 |`` -> ``release T { update from >= M; seamldr L1 L2 }``. The
    TD-build note -> ``advisory td-build "<Intel's text>"`` on every release of the table;
    "N.M versions ... currently not supported" -> ``status preview "<Intel's text>"`` on the
    table's N.M.x releases.
    """
    lines = split_lines(text, file)
    found = find_block(lines, has_readme_header)
    if found is None:
        raise InputError.at(
            f"no table '{README_TABLE_TITLE}' found: expected Intel's binaries README with a "
            f"Markdown table '| {' | '.join(README_COLUMNS)} |'",
            Location(file, 1, 1),
        )
    first, end = found
    table = parse_table(lines, first, end, file)
    problems: list[Problem] = []
    check_row_width(table.header, 3, " | ".join(README_COLUMNS), lines, file, problems)
    if problems:
        raise InputError(problems)

    parsed: list[tuple[Row, Version, Version, tuple[Version, ...]]] = []
    first_seen: dict[Version, Location] = {}
    for row in table.rows:
        if not check_row_width(
            row, 3, "version | minimum running version | SEAMLDR versions", lines, file, problems
        ):
            continue
        vcell, mcell, scell = row.cells
        version = cell_version(vcell, README_COLUMNS[0], lines, file, problems)
        minimum = cell_version(mcell, README_COLUMNS[1], lines, file, problems)
        seamldr = _seamldr_list(scell, lines, file, problems)
        if version is None or minimum is None or seamldr is None:
            continue
        vloc = Location(file, vcell.line, vcell.column)
        if version in first_seen:
            problems.append(
                cell_problem(
                    vcell, f"release {version} is listed twice (first at {first_seen[version]})",
                    lines, file,
                )
            )
            continue
        first_seen[version] = vloc
        bad = check_release_versions(
            version, minimum, Location(file, mcell.line, mcell.column),
            "the minimum running version",
        )
        if bad is not None:
            problems.append(cell_problem(mcell, bad.message, lines, file))
            continue
        parsed.append((row, version, minimum, seamldr))
    if problems:
        raise InputError(in_file_order(problems))

    advisories: list[Advisory] = []
    preview: list[tuple[tuple[int, int], Sourced[Status]]] = []
    for note in _section_notes(lines, first, end):
        loc = Location(file, note.line, note.column)
        # "Intel: " + the note verbatim, as the embedded documents quote it
        # (tdxpolicy.sources.intel_notes): a status is a fact, and facts must agree.
        quoted = _QUOTE_PREFIX + note.text
        if _TD_BUILD_RE.search(note.text) and _TD_PRESERVING_RE.search(note.text):
            advisories.append(Advisory("td-build", quoted, loc))
        m = _SERIES_VERSIONS_RE.search(note.text)
        if m is not None and _NOT_SUPPORTED_RE.search(note.text, m.end()) is not None:
            series = (int(m.group(1)), int(m.group(2)))
            preview.append((series, Sourced(Status(StatusKind.PREVIEW, quoted), loc)))

    blocks: list[ReleaseBlock] = []
    for row, version, minimum, seamldr in parsed:
        vcell, mcell, scell = row.cells
        status = next((s for series, s in preview if series == version.series), None)
        blocks.append(
            ReleaseBlock(
                version=version,
                source=Location(file, vcell.line, vcell.column),
                facts=ReleaseFacts(
                    seamldr=Sourced(seamldr, Location(file, scell.line, scell.column)),
                    status=status,
                ),
                update_from=(
                    UpdateFrom(
                        VersionSet.at_least(minimum), Location(file, mcell.line, mcell.column)
                    ),
                ),
                advisories=tuple(advisories),
            )
        )
    return PolicyDocument(file=file, kind=SourceKind.README_TABLE, releases=tuple(blocks))


def _seamldr_list(
    cell: Cell, lines: Sequence[str], file: str, problems: list[Problem]
) -> tuple[Version, ...] | None:
    """``1.5.00, 2.0.00``: comma-separated versions, each located at its own column."""
    if not cell.text:
        problems.append(
            cell_problem(
                cell,
                f"column '{README_COLUMNS[2]}': expected P-SEAMLDR versions like "
                "'1.5.00, 2.0.00', got an empty cell",
                lines, file,
            )
        )
        return None
    out: list[Version] = []
    offset = 0
    ok = True
    for part in cell.text.split(","):
        stripped = part.strip()
        col = cell.column + offset + (len(part) - len(part.lstrip()))
        offset += len(part) + 1
        try:
            out.append(parse_version(stripped))
        except VersionError as e:
            ok = False
            problems.append(
                Problem(
                    f"column '{README_COLUMNS[2]}': {e}",
                    Location(file, cell.line, col),
                    lines[cell.line - 1],
                )
            )
    return tuple(out) if ok else None
