"""Every reader is linear (or n log n) in its input: a scaling test per source kind.

Each case builds its input at 1x, 10x and 100x, valid and broken (the error path renders one
problem per unit, which is where quadratic rendering hid), and times the parse (best of three).
A linear reader's cost per unit stays flat; a quadratic one's grows tenfold per step. The
bound is per-unit growth of at most 4x from 10x to 100x and 6x from 1x to 100x, generous
enough for a loaded two-core machine, far below the 10x of a quadratic step.
"""

from __future__ import annotations

import io
import json
import time
from typing import Callable

import pytest

from factories import V, catalogue, options
from tdxpolicy.errors import InputError
from tdxpolicy.fleet import FleetDecider
from tdxpolicy.sources import intel
from tdxpolicy.sources.document import parse_document
from tdxpolicy.codecs.hostfacts import parse_facts_text

MRSEAM = "0x" + "AB" * 48


def _document(n: int, bad: bool) -> str:
    handoff = "70000" if bad else "1"
    return "format 1\n" + "".join(
        f"release 3.{i}.01 {{\n  svn 1.2\n  handoff module {handoff} min 0\n"
        f"  update from >= 3.{i}.00, != 3.{i}.00\n}}\n"
        for i in range(n)
    )


def _mapping(n: int, bad: bool) -> bytes:
    # one line, as a hostile file would be: every problem quotes the same long line
    rel = [
        {"version": "x" if bad else f"1.{i}.01", "min_module_version_for_td_preserving": f"1.{i}.01",
         "min_seamldr_versions": ["1.5.00"], "tdx_feature0": "0x1"}
        for i in range(n)
    ]
    return json.dumps({"Header": {"Version": "1.0"}, "tdx_module_releases": rel}).encode()


def _readme(n: int, bad: bool) -> str:
    rows = "".join(f"| 1.{i}.0{'x' if bad else '1'} | 1.{i}.01 | 1.5.00, 2.0.00 |\n" for i in range(n))
    return (
        "# Intel TDX module limitations for TD-Preserving update\n\n"
        "| Intel TDX Module to be Updated | Minimum Version of Existing Running Intel TDX Module "
        "| Supported SEAMLDR Versions |\n|---|---|---|\n" + rows
    )


def _mrseam_table(n: int, bad: bool) -> str:
    cell = "0x12" if bad else MRSEAM
    rows = "".join(f"| [1.{i}.01](https://example/{i}) | {cell} |\n" for i in range(n))
    return "| Version | MRSEAM |\n|---|---|\n" + rows


def _facts(n: int, bad: bool) -> str:
    item = '"zz"' if bad else '"0x806F8"'
    return '{"module_version": "1.5.06", "cpuid": [' + ", ".join([item] * n) + "]}"


def _fleet(n: int, bad: bool) -> list[bytes]:
    lines = []
    for i in range(n):
        host = {"host": f"h{i}", "module_version": "9.1.00", "seamldr_version": "9.0.00",
                "cpuid": ["0x806F8"], "num_remaining_updates": i % 7 + 1}
        if bad:
            host["cpuid"] = ["zz"]
        lines.append(json.dumps(host).encode() + b"\n")
    return lines


def _fleet_run(lines: list[bytes]) -> None:
    from factories import block

    cat = catalogue(*[block(v, svn=s, platforms=["0x806F8"], seamldr=["9.0.00"], handoff=(0, 0),
                            update_from=[">= 9.1.00"]) for v, s in (("9.1.00", "4.1"), ("9.1.02", "4.2"))])
    FleetDecider(cat, options(), target=V("9.1.02"), file="f.jsonl").run(
        io.BytesIO(b"".join(lines)), lambda parts: None)


# kind -> (units at 1x, build(n, bad), parse(input))
CASES: dict[str, tuple[int, Callable[[int, bool], object], Callable[[object], object]]] = {
    "policy-document": (20, _document, lambda t: parse_document(t, "s.tdxpolicy")),  # type: ignore[arg-type]
    "mapping-json": (30, _mapping, lambda b: intel.parse_mapping_json(b, "m.json")),  # type: ignore[arg-type]
    "readme-table": (20, _readme, lambda t: intel.parse_readme_table(t, "R.md")),  # type: ignore[arg-type]
    "mrseam-table": (20, _mrseam_table, lambda t: intel.parse_mrseam_table(t, "T.md")),  # type: ignore[arg-type]
    "host-facts-json": (200, _facts, lambda t: parse_facts_text(t, "f.json")),  # type: ignore[arg-type]
    "fleet-lines": (100, _fleet, _fleet_run),  # type: ignore[dict-item]
}


def _best_of_three(parse: Callable[[object], object], data: object) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            parse(data)
        except InputError as e:
            e.render()  # the problems are printed: their rendering is part of the cost
        best = min(best, time.perf_counter() - t0)
    return max(best, 1e-4)  # below 0.1 ms the clock says nothing about growth


@pytest.mark.parametrize("bad", [False, True], ids=["valid", "broken"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_reader_cost_per_unit_is_flat(kind: str, bad: bool) -> None:
    units, build, parse = CASES[kind]
    parse(build(units, bad)) if not bad else None  # warm caches (lark grammars, schema)
    t1, t10, t100 = (_best_of_three(parse, build(units * k, bad)) for k in (1, 10, 100))
    growth_10_100 = (t100 / 100) / (t10 / 10)
    growth_1_100 = (t100 / 100) / (t1 / 1)
    assert growth_10_100 < 4 and growth_1_100 < 6, (kind, bad, t1, t10, t100)


def test_sniffing_cost_per_byte_is_flat() -> None:
    """The sniffing expressions run on every non-.tdxpolicy file of a --policy directory."""
    from pathlib import Path

    def sniff(n: int) -> float:
        heads = [b"#\r\n" * n + b"x", b"| minimum version " + b"|" * (10 * n),
                 b"| Version |" * n, b"  # c\r\n" * n + b"format 1\n"]
        t0 = time.perf_counter()
        for h in heads:
            intel.sniff_kind(Path("n.md"), h)
        return max(time.perf_counter() - t0, 1e-4)

    t10, t100 = min(sniff(200) for _ in range(3)), min(sniff(2000) for _ in range(3))
    assert t100 / t10 < 40, (t10, t100)
