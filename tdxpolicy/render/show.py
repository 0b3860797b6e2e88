"""``show``: one release as text and as its JSON document (``show/1``). No I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..serialize import fact_value_to_json, release_to_json

if TYPE_CHECKING:  # pragma: no cover
    from ..commands.catalogue import ShownRelease
    from ..output import Style

__all__ = ["SHOW_TAG", "show_text", "show_json"]

SHOW_TAG = "show/1"


def _fact_text(name: str, value: Any) -> str:
    j = fact_value_to_json(name, value)
    if isinstance(j, list):
        return " ".join(j)
    if name == "handoff":
        return str(value)
    if name == "status":
        return f'{value.kind.value} "{value.reason}"'
    if name == "debug":
        return "yes (debug-signed)"
    return str(j)


def show_text(shown: ShownRelease, style: Style | None = None) -> str:
    release = shown.release
    lines = [f"release {release.version} (series {release.version.series_text})"]
    lines.append("  declared at: " + ", ".join(str(loc) for loc in release.declared_at))
    lines.append("facts:")
    items = release.facts.items()
    width = max((len(n) for n, _ in items), default=0)
    for name, s in items:
        lines.append(f"  {name:<{width}}  {_fact_text(name, s.value)}")
        lines.append(f"  {'':<{width}}    at {s.source}")
    if shown.unknown_facts:
        lines.append("  unknown (no source gives them): " + ", ".join(shown.unknown_facts))
    lines.append("rules:")
    rules: list[tuple[str, Any]] = []
    rules += [(f"update from {r.versions}", r.source) for r in release.update_from]
    rules += [(f'deny from {r.versions} "{r.reason}"', r.source) for r in release.deny_from]
    rules += [(f"rollback to {r.versions}", r.source) for r in release.rollback_to]
    rules += [(f'advisory {r.word} "{r.text}"', r.source) for r in release.advisories]
    rules += [(f'deny to {r.versions} "{r.reason}" (document rule)', r.source)
              for r in shown.deny_to]
    for text, src in rules:
        lines.append(f"  {text}")
        lines.append(f"    at {src}")
    if not release.update_from:
        lines.append("  (no 'update from' rule: this release cannot be updated into at runtime)")
    return "\n".join(lines) + "\n"


def show_json(shown: ShownRelease) -> dict[str, Any]:
    rel = release_to_json(shown.release)
    rel["deny_to"] = [
        {"versions": str(d.versions), "reason": d.reason, "source": d.source.to_json()}
        for d in shown.deny_to
    ]
    rel["unknown_facts"] = list(shown.unknown_facts)
    return {"tdxpolicy": SHOW_TAG, "release": rel}
