"""tdxpolicy.decide_many / Decider (issue #13): compact rows of scalars, the same answers as
`tdxpolicy fleet`, picklable deciders, and the docs' Spark/Dask partition function run over a
plain list of dicts."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

import tdxpolicy
from tdxpolicy.fleet import run_fleet
from tdxpolicy.sources import load_catalogue
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Version

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "tests" / "data" / "move" / "site.tdxpolicy"
CAT = load_catalogue([SITE], include_default=False)
OPTS = MoveOptions(today=dt.date(2026, 6, 1), acknowledged=frozenset({"all"}))
GOOD = {"module_version": "9.1.00", "seamldr_version": "9.1.02", "cpuid": ["0x806F8"],
        "num_remaining_updates": 3}

HOSTS: list[Any] = [
    {**GOOD, "host": "a", "rack": "r1"},
    {**GOOD, "host": "b", "num_remaining_updates": 0},
    {**GOOD, "host": "c", "module_version": "9.1.02"},
    {"host": "d", "cpuid": ["zz"]},
    json.dumps({**GOOD, "host": "e"}),
    json.dumps({**GOOD, "host": "f"}).encode(),
    "not json",
    {**GOOD, "typo": 1},
]


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, bool))


@pytest.mark.parametrize("mode", ["to", "select"])
def test_rows_are_scalars_with_fixed_columns_and_match_the_cli(mode: str) -> None:
    kw: dict[str, Any] = {"target": "9.1.02"} if mode == "to" else {"select": True}
    decider = tdxpolicy.Decider(catalogue=CAT, options=OPTS, keep=["rack"], **kw)
    rows = list(decider.rows(HOSTS))
    assert [r["line"] for r in rows] == list(range(1, len(HOSTS) + 1))
    for r in rows:
        assert tuple(r) == decider.columns
        assert all(_scalar(v) for v in r.values()), r
    # the same answers as the fleet command's compact lines
    out = io.BytesIO()
    lines = [h if isinstance(h, (str, bytes)) else json.dumps(h) for h in HOSTS]
    run_fleet([x.encode() if isinstance(x, str) else x for x in lines], out, CAT, OPTS,
              target=Version(9, 1, 2) if mode == "to" else None, file="<rows>", keep=["rack"])
    cli = [json.loads(x) for x in out.getvalue().splitlines()]
    for row, line in zip(rows, cli, strict=True):
        for key in ("host", "line", "from", "to", "kind", "action", "allowed", "rack"):
            assert row[key] == line.get(key), (key, row, line)
        assert row["failed"] == " ".join(line["failed"])
        assert row["unknown"] == " ".join(line["unknown"])
        assert row["error"] == (line["error"]["message"] if "error" in line else None)
        if mode == "select":
            assert row["hops"] == line["hops"]
    assert [r["action"] for r in rows][:4] == (
        ["update", "blocked", "current", "error"] if mode == "to" else
        ["update", "blocked", "update", "error"])
    s = decider.summary()
    assert s.hosts == len(HOSTS) and s.errors == 3


def test_decide_many_with_defaults_uses_the_embedded_catalogue() -> None:
    rows = list(tdxpolicy.decide_many(
        [{"host": "x", "module_version": "1.5.06", "seamldr_version": "2.0.00",
          "cpuid": ["0x806F8"], "num_remaining_updates": 5}],
        target="1.5.16", options=MoveOptions(acknowledged=frozenset({"all"}))))
    assert rows[0]["action"] == "update" and rows[0]["allowed"] is True
    with pytest.raises(ValueError):
        tdxpolicy.decide_many([], target="1.5.16", select=True)
    with pytest.raises(ValueError):
        tdxpolicy.decide_many([])
    with pytest.raises(tdxpolicy.InputError):
        tdxpolicy.decide_many([], target="1.5.16", keep=["cpuid"])


def test_a_decider_pickles_without_its_memo_and_answers_the_same() -> None:
    decider = tdxpolicy.Decider(select=True, catalogue=CAT, options=OPTS)
    before = list(decider.rows(HOSTS))
    blob = pickle.dumps(decider)
    assert len(blob) < 3 * len(pickle.dumps(CAT)) + 10_000  # the memo stays behind
    again = pickle.loads(blob)
    assert list(again.rows(HOSTS)) == before
    assert again.summary().hosts == len(HOSTS)  # its own counts, not the sender's


def _docs_block(n: int) -> str:
    text = (REPO / "docs" / "fleet.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return blocks[n]


def test_the_docs_partition_function_runs_over_a_list_of_dicts() -> None:
    """docs/fleet.md: the function Spark's mapInPandas / Dask's map_partitions call, run as it
    is over records shaped like a pandas partition (NaN for missing, tuples for arrays)."""
    ns: dict[str, Any] = {}
    exec(compile(_docs_block(0), "docs/fleet.md", "exec"), ns)
    records = [
        {"host": "n1", "module_version": "1.5.06", "seamldr_version": "2.0.00",
         "cpuid": ("0x806F8",), "num_remaining_updates": 12.0, "rack": "r1"},
        {"host": "n2", "module_version": "1.5.16", "seamldr_version": "2.0.00",
         "cpuid": ["0x806F8"], "num_remaining_updates": 0.0, "rack": "r1"},
        {"host": "n3", "module_version": "1.5.06", "seamldr_version": math.nan,
         "cpuid": ["0x806F8"], "num_remaining_updates": math.nan, "rack": "r2"},
        {"host": "n4", "module_version": "1.5.06", "seamldr_version": "2.0.00",
         "cpuid": ["0x806F8"], "num_remaining_updates": 12.0, "rack": "r2", "extra": 1},
    ]
    rows = list(ns["decide_records"](records))
    assert [(r["host"], r["action"], r["rack"]) for r in rows] == [
        ("n1", "update", "r1"), ("n2", "current", "r1"), ("n3", "blocked", "r2"),
        ("n4", "error", "r2")]
    assert rows[2]["unknown"] == "seamldr remaining-updates"
    assert all(tuple(r) == ns["decider"].columns for r in rows)
    pickle.loads(pickle.dumps(ns["decider"]))
    # the cluster glue is valid Python (it needs pandas and a cluster to run)
    compile(_docs_block(1), "docs/fleet.md", "exec")
