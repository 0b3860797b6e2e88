"""Render a :class:`~tdxpolicy.graph.VersionGraph`: text (adjacency list), JSON, DOT, Mermaid.

No I/O: every function returns a string or a JSON-able dict. Nodes are styled by what the
policy says about them: ``preview`` releases dashed, ``withdrawn`` crossed out (red), releases
without any ``update from`` rule grey (they cannot be updated into). Update edges are solid,
rollback edges dashed; every edge carries the rule that permits it (DOT ``tooltip``).
"""

from __future__ import annotations

from typing import Any

from ..catalogue import Release
from ..graph import EdgeKind, VersionGraph
from ..model import StatusKind

__all__ = ["GRAPH_TAG", "graph_json", "graph_text", "graph_dot", "graph_mermaid"]

GRAPH_TAG = "graph/1"


def _status(r: Release) -> str | None:
    st = r.facts.status
    return None if st is None else st.value.kind.value


def _by_series(graph: VersionGraph) -> dict[str, list[Release]]:
    series: dict[str, list[Release]] = {}
    for r in graph.catalogue.releases:
        series.setdefault(r.version.series_text, []).append(r)
    return series


def graph_json(graph: VersionGraph) -> dict[str, Any]:
    nodes = []
    for r in graph.catalogue.releases:
        nodes.append(
            {
                "version": r.version.text,
                "series": r.version.series_text,
                "status": _status(r),
                "has_update_policy": r.has_update_policy,
            }
        )
    edges = [
        {
            "from": e.source.text,
            "to": e.target.text,
            "kind": e.kind.value,
            "source": e.rule.to_json(),
        }
        for e in graph.edges()
    ]
    return {"tdxpolicy": GRAPH_TAG, "nodes": nodes, "edges": edges}


def graph_text(graph: VersionGraph) -> str:
    """One line per release: ``1.5.01 -> 1.5.05 1.5.06 ...`` (rollbacks marked ``(rollback)``)."""
    lines: list[str] = []
    for r in graph.catalogue.releases:
        succ = graph.successors(r.version)
        notes = []
        st = _status(r)
        if st:
            notes.append(st)
        if not r.has_update_policy:
            notes.append("no update policy")
        head = r.version.text + (f" [{', '.join(notes)}]" if notes else "")
        if succ:
            targets = " ".join(
                e.target.text + (" (rollback)" if e.kind is EdgeKind.ROLLBACK else "") for e in succ
            )
            lines.append(f"{head} -> {targets}")
        else:
            lines.append(f"{head} -> (none)")
    return "\n".join(lines) + "\n"


def _dq(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(graph: VersionGraph) -> str:
    """Graphviz DOT, one cluster per series."""
    out = [
        "digraph tdxpolicy {",
        "  rankdir=LR;",
        '  node [shape=box, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for name, rels in _by_series(graph).items():
        out.append(f"  subgraph {_dq('cluster_' + name)} {{")
        out.append(f"    label={_dq('series ' + name)};")
        for r in rels:
            attrs = []
            st = _status(r)
            if st == StatusKind.PREVIEW.value:
                attrs += ['style="dashed"', f"xlabel={_dq('preview')}"]
            elif st == StatusKind.WITHDRAWN.value:
                attrs += ['style="filled"', 'fillcolor="#f4cccc"', f"xlabel={_dq('withdrawn')}"]
            if not r.has_update_policy:
                attrs += ['color="grey"', 'fontcolor="grey"']
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            out.append(f"    {_dq(r.version.text)}{suffix};")
        out.append("  }")
    for e in graph.edges():
        attrs = [f"tooltip={_dq(str(e.rule))}"]
        if e.kind is EdgeKind.ROLLBACK:
            attrs += ['style="dashed"', 'label="rollback"']
        out.append(f"  {_dq(e.source.text)} -> {_dq(e.target.text)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _mid(text: str) -> str:
    return "v" + text.replace(".", "_")


def graph_mermaid(graph: VersionGraph) -> str:
    """Mermaid ``flowchart``, one subgraph per series."""
    out = ["flowchart LR"]
    for name, rels in _by_series(graph).items():
        out.append(f"  subgraph {_mid('s' + name)}[\"series {name}\"]")
        for r in rels:
            label = r.version.text
            st = _status(r)
            if st:
                label += f" ({st})"
            out.append(f'    {_mid(r.version.text)}["{label}"]')
        out.append("  end")
    for e in graph.edges():
        arrow = "-. rollback .->" if e.kind is EdgeKind.ROLLBACK else "-->"
        out.append(f"  {_mid(e.source.text)} {arrow} {_mid(e.target.text)}")
    return "\n".join(out) + "\n"


# Output registry adapters (tdxpolicy.output): text formats take the sink's style.
def graph_text_style(graph: VersionGraph, style: Any = None) -> str:
    return graph_text(graph)


def graph_dot_style(graph: VersionGraph, style: Any = None) -> str:
    return graph_dot(graph)


def graph_mermaid_style(graph: VersionGraph, style: Any = None) -> str:
    return graph_mermaid(graph)
