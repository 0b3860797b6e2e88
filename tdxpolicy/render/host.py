"""Text and JSON of the running host's results: ``probe`` (:class:`ProbeResult`),
``preflight`` (:class:`Preflight`) and ``update`` (:class:`UpdateResult`). No I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .text import render_verdict

if TYPE_CHECKING:  # pragma: no cover
    from ..host.preflight import Preflight
    from ..host.probe import Interface, ProbeResult
    from ..host.upload import UpdateResult
    from ..output import Style

__all__ = ["render_probe", "render_preflight", "render_update", "probe_text", "probe_json",
           "preflight_text", "preflight_json", "update_text", "update_json"]


def _formats_text(iface: Interface) -> str:
    """``0x200``, or ``0x100 (v8) or 0x200 (v9-v10, merged)`` for an undecided layout."""
    from ..generations import accepting

    if iface.generation is not None:
        return ", ".join(iface.image_formats)
    return " or ".join(f"{f} ({', '.join(g.value for g in accepting(f, iface.generations))})"
                       for f in iface.image_formats)


def render_probe(result: ProbeResult) -> str:
    from ..host.probe import format_cpu_list
    from ..hostfacts import format_cpuid

    f, i = result.facts, result.interface
    lines = [
        f"TDX host{' ' + f.host if f.host else ''}: {i.label} kernel interface "
        f"({i.tdx_host})",
        f"  module version         {f.module_version or 'unknown (module lost)'}",
        f"  P-SEAMLDR version      {f.seamldr_version or 'unknown'}",
        f"  remaining updates      "
        f"{f.num_remaining_updates if f.num_remaining_updates is not None else 'unknown'}",
        "  CPUID.1.EAX            "
        + (" ".join(format_cpuid(c) for c in f.cpuid) if f.cpuid else "unknown")
        + f" ({i.packages} package{'s' if i.packages != 1 else ''})",
        "  offline CPUs           "
        + ("unknown" if i.offline_cpus is None else (format_cpu_list(i.offline_cpus) or "none")),
        f"  seamret_invd_vmcs bug  {'yes' if i.seamret_invd_vmcs else 'no'}",
        f"  upload interface       {i.upload_dir or 'none'}"
        + (f" (status {i.upload_status})" if i.upload_status else ""),
        f"  accepted image format  {_formats_text(i)}",
    ]
    if i.generation is None:
        lines.append(f"  kernel generation      one of {', '.join(g.value for g in i.generations)}"
                     f" ({i.layout} layout: sysfs cannot tell them apart; name it with --kernel)")
    elif i.generation_stated:
        lines.append(f"  kernel generation      {i.label} (stated with --kernel)")
    for p in i.problems:
        lines.append(f"  problem: {p}")
    return "\n".join(lines) + "\n"


def render_preflight(pf: Preflight, color: bool = False, width: int | None = None) -> str:
    head = render_probe(pf.probe)
    img = ""
    if pf.image is not None:
        im = pf.image
        img = (f"Image {im.path}: {im.format or 'unrecognised format'}, "
               f"{'version ' + im.version if im.version else 'version not identified'}, "
               f"sha256 {im.sha256}\n")
    adv = ""
    if pf.unacknowledged:
        adv = ("Advisories to acknowledge before an update: "
               + ", ".join(pf.unacknowledged) + "\n")
    return head + img + render_verdict(pf.verdict, color, width) + adv


def render_update(result: UpdateResult, color: bool = False, width: int | None = None) -> str:
    out = ""
    pf = result.preflight
    if pf is not None and (not pf.allowed or result.outcome.value in ("denied", "dry-run")):
        out += render_verdict(pf.verdict, color, width)
        if pf.unacknowledged and result.outcome.value == "dry-run":
            out += "Would need: " + " ".join(f"--acknowledge {w}" for w in pf.unacknowledged) + "\n"
    rec = result.record
    out += f"Outcome: {result.outcome.value}: {result.message}\n"
    if rec.get("kernel_error"):
        out += f"Kernel error: {rec['kernel_error']}\n"
    return out


# Output registry entries (tdxpolicy.output).
def probe_text(result: ProbeResult, style: Style) -> str:
    return render_probe(result)


def probe_json(result: ProbeResult) -> Any:
    return result.to_json()


def preflight_text(pf: Preflight, style: Style) -> str:
    return render_preflight(pf, style.color, style.width)


def preflight_json(pf: Preflight) -> Any:
    return pf.to_json()


def update_text(result: UpdateResult, style: Style) -> str:
    return render_update(result, style.color, style.width)


def update_json(result: UpdateResult) -> Any:
    return result.record
