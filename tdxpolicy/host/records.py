"""Update records: one JSON object per attempt, appended to a JSON Lines file.

Every ``tdxpolicy update`` run — denied, dry run, or attempted — appends exactly one line
(``schemas/update-record.schema.json``, ``"tdxpolicy": "update-record/1"``): the facts before
and after, the image's identity and hashes, the verdict, the outcome, the kernel's error
string and timings. The file is opened before anything is written to the host, so an
unwritable record file stops the update instead of leaving it unrecorded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import InputError
from ..output import dumps

__all__ = ["DEFAULT_RECORD", "RECORD_TAG", "RecordFile", "read_records"]

DEFAULT_RECORD = Path("/var/lib/tdxpolicy/updates.jsonl")
RECORD_TAG = "update-record/1"


class RecordFile:
    """An append-only JSON Lines file, opened (and its directory created) up front."""

    def __init__(self, path: Path = DEFAULT_RECORD) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def open(self) -> RecordFile:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            self._fd = os.open(
                self.path,
                os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                0o640,
            )
        except OSError as e:
            raise InputError(
                f"--record: cannot open {self.path} for appending: {e.strerror or e}; "
                "give a writable --record FILE",
                code="unwritable-record",
            ) from None
        return self

    def append(self, record: dict[str, Any]) -> None:
        """One line, one write(2) with O_APPEND (no interleaving with other writers), fsync."""
        if self._fd is None:
            self.open()
        assert self._fd is not None
        line = (dumps(record, pretty=False) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RecordFile:
        return self.open()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a record file (for tests and tooling)."""
    out: list[dict[str, Any]] = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out
