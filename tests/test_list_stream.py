"""``list`` streams (issue 13): one verdict at a time, the same bytes as the whole document.

Oracles: the streamed JSON equals :func:`dumps` of :func:`list_json` built from every
verdict at once; the streamed text equals the table as it was rendered before streaming (a
reference copy of that algorithm below: widths over every collected row). Also: the heap is
settled after loading a large catalogue, and only then (docs/performance.md#settle-heap).
"""

from __future__ import annotations

import gc
import importlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from factories import catalogue, facts, generated_catalogue, options

from tdxpolicy import sources
from tdxpolicy.catalogue import Catalogue
from tdxpolicy.cli import main
from tdxpolicy.engine import decide, decide_each
from tdxpolicy.render import text as text_module
from tdxpolicy.codecs.list import list_json, write_list_json
from tdxpolicy.output import dumps
from tdxpolicy.render.text import write_list
from tdxpolicy.verdict import Result, Verdict
from tdxpolicy.version import Version

HOSTS = [
    {"module_version": "1.5.03", "seamldr_version": "1.5.00", "cpuid": ["0x806F8"],
     "num_remaining_updates": 2},
    {"module_version": "1.5.03"},
    {"seamldr_version": "2.0.00"},
]


def _worlds() -> list[Catalogue]:
    return [
        generated_catalogue(30, seed=4, series=((1, 5), (2, 0)), window=(1, 5), p_deny=0.2,
                            p_rollback=0.3, p_no_policy=0.1, p_unknown_svn=0.1),
        catalogue(),  # empty
    ]


def _reference_text(cat: Catalogue, verdicts: dict[Version, Verdict] | None,
                    from_version: Version | None) -> str:
    """The list table as rendered before streaming: every row collected, then widths."""
    header = ["VERSION", "SERIES", "PUBLISHED", "STATUS", "UPDATE POLICY"]
    if verdicts is not None:
        header.append(f"FROM {text_module._from_text(from_version)}")
    rows = []
    for r in cat.newest_first():
        f = r.facts
        row = [r.version.text, r.version.series_text,
               f.published.value.isoformat() if f.published is not None else "-",
               f.status.value.kind.value if f.status is not None else "supported",
               text_module._policy_summary(r)]
        if verdicts is not None:
            v = verdicts[r.version]
            kind = v.kind.value if v.kind is not None else "?"
            if v.allowed:
                row.append(f"yes ({kind})")
            else:
                failing = [c.code for c in v.failed if c.result is not Result.UNKNOWN]
                unknown = [c.code for c in v.failed if c.result is Result.UNKNOWN]
                why = ", ".join(dict.fromkeys(failing))
                if unknown:
                    why += ("; " if why else "") + "unknown: " + ", ".join(dict.fromkeys(unknown))
                row.append(f"no ({kind}): {why}")
        rows.append(row)
    if not rows:
        return "(the catalogue is empty)\n"
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    last = len(header) - 1
    lines = ["  ".join(c if i == last else c.ljust(widths[i])
                       for i, c in enumerate(cells)).rstrip() for cells in [header, *rows]]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("host", [None, *HOSTS], ids=["no-facts", "full", "from-only",
                                                      "no-from"])
@pytest.mark.parametrize("world", range(2), ids=["generated", "empty"])
def test_streamed_list_equals_the_whole_document(host: dict[str, Any] | None,
                                                 world: int) -> None:
    cat = _worlds()[world]
    opts = options({"strict": True})
    hf = facts(host or {})
    verdicts = None if host is None else {r.version: decide(cat, hf, r.version, opts)
                                          for r in cat}

    def rows() -> Iterator[Any]:
        if host is None:
            return ((r, None) for r in cat.newest_first())
        return decide_each(cat, hf, opts)

    out: list[str] = []
    write_list_json(out.append, rows(), hf.module_version, with_status=host is not None)
    assert "".join(out) == dumps(list_json(cat, verdicts, hf.module_version)) + "\n"
    json.loads("".join(out))

    text: list[str] = []
    write_list(text.append, cat, rows(), from_version=hf.module_version,
               with_status=host is not None)
    assert "".join(text) == _reference_text(cat, verdicts, hf.module_version)
    if cat.releases:
        assert len(text) == len(cat.releases) + 1  # a header, then one write per release


def test_decide_each_is_lazy() -> None:
    """The generator decides one release per step: nothing is decided ahead."""
    cat = generated_catalogue(10, seed=1)
    calls: list[Version] = []
    it = decide_each(cat, facts({"module_version": "1.5.01"}), options())
    plan_module = importlib.import_module("tdxpolicy.engine.plan")

    real = plan_module.decide

    def spy(c: Any, f: Any, v: Version, o: Any) -> Verdict:
        calls.append(v)
        return real(c, f, v, o)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plan_module, "decide", spy)
        release, verdict = next(it)
        assert calls == [release.version] == [verdict.to_version] == [cat.releases[-1].version]


def _write_catalogue(path: Path, n: int) -> None:
    blocks = ["format 1\nsource \"test\"\n"]
    for u in range(1, n + 1):
        blocks.append(f"release 1.5.{u} {{\n    svn 1.1\n    handoff module 0 min 0\n"
                      f"    update from >= 1.5.{max(1, u - 3)}\n}}\n")
    path.write_text("\n".join(blocks))


def test_large_catalogue_settles_the_heap(tmp_path: Path) -> None:
    small, large = tmp_path / "small.tdxpolicy", tmp_path / "large.tdxpolicy"
    _write_catalogue(small, 20)
    _write_catalogue(large, sources.LARGE_CATALOGUE)
    gc.unfreeze()
    try:
        sources.load_catalogue([large], include_default=False)
        assert gc.get_freeze_count() == 0  # only when asked
        sources.load_catalogue([small], include_default=False, settle=True)
        assert gc.get_freeze_count() == 0  # too small to be worth a collection
        cat = sources.load_catalogue([large], include_default=False, settle=True)
        assert len(cat.releases) == sources.LARGE_CATALOGUE
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_cli_list_streams_through_the_library(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``list`` with host facts writes as it decides: the first release is out before the
    last one is decided. (Text here: in JSON mode stdout is held until the command ends, so
    that an error leaves exactly one JSON document; streamed JSON reaches a file given with
    --output, written as it goes into the temporary file beside it.)"""
    doc = tmp_path / "p.tdxpolicy"
    _write_catalogue(doc, 12)
    monkeypatch.chdir(tmp_path)
    plan_module = importlib.import_module("tdxpolicy.engine.plan")

    written_before_last: list[bool] = []
    real = plan_module.decide

    def spy(c: Any, f: Any, v: Version, o: Any) -> Verdict:
        if v == Version(1, 5, 1):  # the last one, newest first
            written_before_last.append("1.5.12" in capsys.readouterr().out)
        return real(c, f, v, o)

    monkeypatch.setattr(plan_module, "decide", spy)
    code = main(["list", "--no-default-policy", "--policy", str(doc), "--from", "1.5.3"])
    assert code == 0 and written_before_last == [True]
