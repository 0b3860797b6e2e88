"""Start-up work of ``graph``/``show``: the graph's value types and the commands' annotations.

graph.Edge / IndexRange / _Series are ``@value`` classes (no exec-compiled dataclass methods at
import) with the semantics of the frozen dataclasses they replaced; the catalogue commands'
annotations are objects, not strings, so typer does not eval them on every run.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from tdxpolicy.graph import Edge, EdgeKind, IndexRange
from tdxpolicy.model import Location
from tdxpolicy.version import Version


def _edge(kind: EdgeKind = EdgeKind.UPDATE, line: int = 4) -> Edge:
    return Edge(Version(1, 5, 1), Version(1, 5, 2), kind, Location("s", line, 5))


def test_edge_is_a_frozen_value() -> None:
    e = _edge()
    assert e == _edge() and hash(e) == hash(_edge())
    assert e != _edge(EdgeKind.ROLLBACK) and e != _edge(line=5)
    assert len({e, _edge(), _edge(line=5)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.kind = EdgeKind.ROLLBACK  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(e)] == ["source", "target", "kind", "rule"]
    assert Edge(source=e.source, target=e.target, kind=e.kind, rule=e.rule) == e
    assert dataclasses.replace(e, kind=EdgeKind.ROLLBACK) == _edge(EdgeKind.ROLLBACK)
    assert repr(e) == (
        "Edge(source=Version('1.5.01'), target=Version('1.5.02'), "
        f"kind={EdgeKind.UPDATE!r}, rule={Location('s', 4, 5)!r})"
    )
    assert e != ("1.5.01", "1.5.02")


def test_index_range_is_a_frozen_value_with_a_default() -> None:
    r = IndexRange(2, 5)
    assert r.excluded == frozenset() and r == IndexRange(2, 5, frozenset())
    assert hash(r) == hash(IndexRange(lo=2, hi=5))
    assert IndexRange(2, 5, frozenset({3})) != r
    assert list(IndexRange(2, 5, frozenset({3})).indices()) == [2, 4]
    assert 3 in r and 5 not in r and IndexRange(3, 3).empty
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.lo = 0  # type: ignore[misc]


def test_catalogue_command_annotations_need_no_eval() -> None:
    from tdxpolicy.cli import catalogue_cmds

    for fn in (catalogue_cmds.graph, catalogue_cmds.show, catalogue_cmds.lint):
        annotations = inspect.get_annotations(fn)
        assert annotations, fn
        strings = {k: v for k, v in annotations.items() if isinstance(v, str)}
        assert not strings, (fn.__name__, strings)
