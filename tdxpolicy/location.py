"""Where a fact, rule, finding or error comes from: :class:`Location`, the package's most
basic value (file, line, column, JSON path, byte offset). It lives apart so that errors can
name it without importing the model (which imports the version sets, which raise errors);
:mod:`tdxpolicy.model` re-exports it."""

from __future__ import annotations

from typing import Any

from ._value import value

__all__ = ["Location"]


@value(order=True)
class Location:
    """Where a fact, rule or error comes from.

    ``line``/``column`` are 1-based (documents, JSON files where known); ``path`` is a JSON path
    like ``$.tdx_module_releases[3].version``; ``offset`` is a byte offset (images).
    """

    file: str
    line: int | None = None
    column: int | None = None
    path: str | None = None
    offset: int | None = None

    def __str__(self) -> str:
        s = self.file
        if self.line is not None:
            s += f":{self.line}"
            if self.column is not None:
                s += f":{self.column}"
        if self.path is not None:
            s += f" ({self.path})"
        if self.offset is not None:
            s += f" (byte offset {self.offset:#x})"
        return s

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file}
        if self.line is not None:
            out["line"] = self.line
        if self.column is not None:
            out["column"] = self.column
        if self.path is not None:
            out["path"] = self.path
        if self.offset is not None:
            out["offset"] = self.offset
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Location:
        return cls(d["file"], d.get("line"), d.get("column"), d.get("path"), d.get("offset"))
