"""Markdown tables, as Intel's README and release list hold them (``grammars/markdown_table.lark``).

A table is found as a run of lines starting with ``|`` whose first line is the header a
reader looks for (:func:`find_block`), parsed with the grammar (:func:`parse_table`), and
every cell keeps its line and column in the file for the errors of the readers
(:mod:`.readme`, :mod:`.mrseam`). lark is imported only when a table is parsed.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Callable, Sequence

from ..._value import value
from ...errors import InputError, Problem
from ...model import Location
from ...version import Version, VersionError, parse_version
from .common import MAX_SOURCE_BYTES, too_large

__all__ = [
    "Cell",
    "Row",
    "Table",
    "split_lines",
    "find_block",
    "parse_table",
    "cell_problem",
    "cell_version",
    "check_row_width",
]


@value
class Cell:
    text: str  # stripped
    line: int  # 1-based, in the file
    column: int  # 1-based, first non-blank character (or the closing '|' when empty)


@value
class Row:
    line: int
    column: int
    cells: tuple[Cell, ...]


@value
class Table:
    header: Row
    rows: tuple[Row, ...]


_TERMINAL_PHRASES = {
    "PIPE": "'|'",
    "CELL": "a cell ending with '|'",
    "SEPCELL": "a separator cell like '---'",
    "_NL": "the end of the row",
    "_INDENT": "indentation",
    "$END": "the end of the table",
}


@cache
def _table_parser() -> Any:
    from lark import Lark

    from ...resources import grammar_path

    return Lark(
        grammar_path("markdown_table.lark").read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
    )


def _table_blocks(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(first, end) line indexes (0-based, end exclusive) of runs of lines starting with '|'."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(lines)
    while i < n:
        if lines[i].lstrip(" \t").startswith("|"):
            j = i
            while j < n and lines[j].lstrip(" \t").startswith("|"):
                j += 1
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def _pos(n: int | None) -> int:
    """lark's token positions are typed optional; with propagate_positions they are set."""
    return n if n is not None else 1


def parse_table(lines: Sequence[str], first: int, end: int, file: str) -> Table:
    """Parse lines[first:end] with the table grammar; positions are the file's."""
    from lark import Token, Tree
    from lark.exceptions import UnexpectedEOF, UnexpectedInput

    block = "\n".join(lines[first:end]) + "\n"
    try:
        tree = _table_parser().parse(block)
    except UnexpectedInput as e:
        line = getattr(e, "line", 0) or 0
        column = getattr(e, "column", 0) or 0
        if isinstance(e, UnexpectedEOF) or line <= 0:
            line, column = end - first, 1
        expected: set[str] = set(
            getattr(e, "allowed", None) or getattr(e, "expected", None) or ()
        )
        src = lines[first + line - 1]
        rest = src[column - 1 :]
        if "CELL" in expected and "|" not in rest:
            msg = "malformed table row: the row does not end with '|'"
        else:
            phrases = sorted({_TERMINAL_PHRASES.get(t, t) for t in expected})
            msg = "malformed table row: expected " + " or ".join(phrases)
        raise InputError([Problem(msg, Location(file, first + line, column), src)]) from None

    def row(t: Any) -> Row:
        cells: list[Cell] = []
        lead: Token | None = None
        for child in t.children:
            if isinstance(child, Token):  # the leading PIPE
                lead = lead or child
                continue
            assert isinstance(child, Tree)
            toks = [c for c in child.children if isinstance(c, Token)]
            text_tok = toks[0] if len(toks) == 2 else None
            pipe = toks[-1]
            if text_tok is None:
                cells.append(Cell("", first + _pos(pipe.line), _pos(pipe.column)))
            else:
                raw = str(text_tok)
                stripped = raw.strip()
                lead_ws = len(raw) - len(raw.lstrip())
                cells.append(
                    Cell(stripped, first + _pos(text_tok.line), _pos(text_tok.column) + lead_ws)
                )
        assert lead is not None
        return Row(first + _pos(lead.line), _pos(lead.column), tuple(cells))

    header = row(tree.children[0])
    sep = tree.children[1]
    sep_pipe = sep.children[0]
    nsep = len(sep.children) - 1
    if nsep != len(header.cells):
        raise InputError.at(
            f"the separator row has {nsep} cells, the header has {len(header.cells)}",
            Location(file, first + _pos(sep_pipe.line), _pos(sep_pipe.column)),
            lines[first + _pos(sep_pipe.line) - 1],
        )
    body = tuple(row(t) for t in tree.children[2:])
    return Table(header, body)


def cell_problem(cell: Cell, message: str, lines: Sequence[str], file: str) -> Problem:
    return Problem(message, Location(file, cell.line, cell.column), lines[cell.line - 1])


def cell_version(
    cell: Cell, column: str, lines: Sequence[str], file: str, problems: list[Problem]
) -> Version | None:
    try:
        return parse_version(cell.text)
    except VersionError as e:
        problems.append(cell_problem(cell, f"column '{column}': {e}", lines, file))
        return None


def check_row_width(
    row: Row, want: int, what: str, lines: Sequence[str], file: str, problems: list[Problem]
) -> bool:
    if len(row.cells) == want:
        return True
    problems.append(
        Problem(
            f"the row has {len(row.cells)} cells, expected {want} ({what})",
            Location(file, row.line, row.column),
            lines[row.line - 1],
        )
    )
    return False


def split_lines(text: str, file: str) -> list[str]:
    if len(text) > MAX_SOURCE_BYTES:
        raise too_large(file, len(text.encode("utf-8", "surrogatepass")))
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.split("\n")


def find_block(
    lines: Sequence[str], is_header: Callable[[str], bool]
) -> tuple[int, int] | None:
    for first, end in _table_blocks(lines):
        if is_header(lines[first]):
            return first, end
    return None
