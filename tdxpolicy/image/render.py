"""Image facts and reports as JSON-able dicts and text. No I/O (house-style "Renderers")."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

from ..hostfacts import format_cpuid
from ..verdict import Check, Result
from .identity import Identity
from .reader import (
    BLOB_HEADER_FIELDS,
    IMAGE_HEADER_FIELDS,
    MODULE_VERSION_FIELD,
    SIGSTRUCT_FIELDS,
    BlobHeader,
    Image,
    TdxImageHeader,
)
from .verify import is_valid

__all__ = ["SCHEMA_TAG", "image_facts", "image_document", "render_inspect", "render_verify"]

SCHEMA_TAG = "image/1"


def _hex(v: int) -> str:
    return f"{v:#x}"




def _header_facts(image: Image) -> dict[str, Any] | None:
    h = image.header
    if isinstance(h, BlobHeader):
        return {
            "version": _hex(h.version),
            "checksum": _hex(h.checksum),
            "offset_of_module": h.offset_of_module,
            "signature": h.signature.decode("latin-1"),
            "length": h.length,
            "reserved0": h.reserved0,
            "reserved1_zero": h.reserved1_first_nonzero is None,
            "sigstruct_pages": h.sigstruct_pages,
        }
    if isinstance(h, TdxImageHeader):
        return {
            "version": _hex(h.version),
            "checksum": _hex(h.checksum),
            "signature": h.signature.decode("latin-1"),
            "sigstruct_nr_pages": h.sigstruct_nr_pages,
            "module_nr_pages": h.module_nr_pages,
            "reserved_zero": h.reserved_first_nonzero is None,
        }
    return None


def image_facts(image: Image) -> dict[str, Any]:
    """Every header and sigstruct field, decoded (JSON-able)."""
    s = image.sigstruct
    date = s.date
    mv = s.module_version
    sig: dict[str, Any] = {
        "offset": s.offset,
        "header_type": s.header_type,
        "header_length": _hex(s.header_length),
        "header_version": _hex(s.header_version),
        "module_type": _hex(s.module_type),
        "debug": s.debug,
        "module_vendor": _hex(s.module_vendor),
        "date": None if date is None else date.isoformat(),
        "date_raw": _hex(s.date_raw),
        "size": _hex(s.size),
        "key_size": _hex(s.key_size),
        "modulus_size": _hex(s.modulus_size),
        "exponent_size": s.exponent_size,
        "reserved0_zero": not any(s.reserved0),
        "modulus_sha384": hashlib.sha384(s.modulus).hexdigest(),
        "exponent": _hex(s.exponent),
        "signature": s.signature[::-1].hex()[:32] + "...",
        "seamhash": s.seamhash_hex,
        "svn": {"major": s.svn.major, "minor": s.svn.minor, "raw": _hex(s.seamsvn_raw)},
        "attributes": _hex(s.attributes),
        "rip_offset": _hex(s.rip_offset),
        "num_stack_pages": s.num_stack_pages,
        "num_tls_pages": s.num_tls_pages,
        "num_keyhole_pages": s.num_keyhole_pages,
        "num_global_data_pages": s.num_global_data_pages,
        "max_tdmrs": s.max_tdmrs,
        "max_rsvd_per_tdmr": s.max_rsvd_per_tdmr,
        "pamt_entry_size_4k": s.pamt_entry_size_4k,
        "pamt_entry_size_2m": s.pamt_entry_size_2m,
        "pamt_entry_size_1g": s.pamt_entry_size_1g,
        "reserved1_zero": not any(s.reserved1),
        "module_hv": s.module_hv,
        "min_update_hv": s.min_update_hv,
        "no_downgrade": s.no_downgrade,
        "reserved2": s.reserved2,
        "num_handoff_pages": s.num_handoff_pages,
        "gdt_idt_offset": _hex(s.gdt_idt_offset),
        "fault_wrapper_offset": _hex(s.fault_wrapper_offset),
        "reserved3_zero": not any(s.reserved3),
        "module_version": None
        if mv is None
        else {"version": f"{mv[0]}.{mv[1]}.{mv[2]:02d}", "build": mv[3], "build2": mv[4]},
        "cpuid_table_size": s.cpuid_table_size,
        "cpuid_table": [format_cpuid(x) for x in s.cpuid_table],
    }
    return {
        "size": image.size,
        "header": _header_facts(image),
        "sigstruct": sig,
        "module": {
            "path": image.module_path,
            "offset": image.module_offset,
            "bytes": len(image.module),
            "pages": len(image.module) // 4096,
        },
    }


def image_document(
    image: Image, identity: Identity, checks: Sequence[Check] | None, *, include_facts: bool = True
) -> dict[str, Any]:
    """The ``image/1`` JSON document (docs/cli.md#commands; schemas/image.schema.json).
    ``checks is None`` (inspect): nothing was checked, ``valid`` is null."""
    doc: dict[str, Any] = {
        "tdxpolicy": SCHEMA_TAG,
        "path": image.path,
        "format": image.format_label,
        "valid": None if checks is None else is_valid(checks),
        "identity": identity.to_json(),
        "facts": image_facts(image) if include_facts else {},
        "checks": [_check_json(c) for c in checks or ()],
    }
    return doc


def _check_json(c: Check) -> dict[str, Any]:
    out: dict[str, Any] = {"code": c.code, "result": c.result.value, "message": c.message}
    if c.source is not None:
        out["source"] = c.source.to_json()
    if c.facts:
        out["facts"] = dict(c.facts)
    return out


def _identity_line(identity: Identity) -> str:
    if identity.version is None:
        return f"identity: unknown (no source knows seamhash {identity.seamhash})"
    where = f" at {identity.source}" if identity.source is not None else ""
    return f"identity: {identity.version} (by {identity.by}{where})"


def render_inspect(image: Image, identity: Identity) -> str:
    """Every field, one per line, with its byte offset."""
    lines = [f"{image.path}: format {image.format_label}, {image.size} bytes", _identity_line(identity)]
    h = image.header
    if h is not None:
        lines.append("header:")
        table = BLOB_HEADER_FIELDS if isinstance(h, BlobHeader) else IMAGE_HEADER_FIELDS
        facts = _header_facts(image) or {}
        for name, value in facts.items():
            off = table.get(name, (None, 0))[0]
            at = f"  @{off:#06x}" if off is not None else ""
            lines.append(f"  {name:<28} {value}{at}")
    s = image.sigstruct
    lines.append(f"sigstruct (at byte offset {s.offset:#x}):")
    sig = image_facts(image)["sigstruct"]
    for name, value in sig.items():
        if name == "offset":
            continue
        base = name.removesuffix("_zero").removesuffix("_raw").removesuffix("_sha384")
        off = SIGSTRUCT_FIELDS.get(base, (None, 0))[0]
        if name == "svn":
            off, value = SIGSTRUCT_FIELDS["seamsvn"][0], f"{value['major']}.{value['minor']} ({value['raw']})"
        elif name == "debug":
            off = SIGSTRUCT_FIELDS["module_type"][0]
        elif name == "module_version":
            off = MODULE_VERSION_FIELD[0]
            value = "-" if value is None else f"{value['version']} build {value['build']}.{value['build2']}"
        elif name == "cpuid_table":
            value = " ".join(value) or "(empty)"
        at = f"  @{s.offset + off:#06x}" if off is not None else ""
        lines.append(f"  {name:<28} {value}{at}")
    lines.append("module:")
    if image.module_path is not None:
        lines.append(f"  {'path':<28} {image.module_path}")
    offs = "-" if image.module_offset is None else f"{image.module_offset:#x}"
    lines.append(f"  {'offset':<28} {offs}")
    lines.append(f"  {'pages':<28} {len(image.module) // 4096} ({len(image.module)} bytes)")
    return "\n".join(lines) + "\n"


_MARK = {Result.PASS: "pass", Result.FAIL: "FAIL", Result.WARN: "warn", Result.UNKNOWN: "unknown"}


def render_verify(image: Image, identity: Identity, checks: Sequence[Check]) -> str:
    lines = [
        f"{image.path}: format {image.format_label}: {'VALID' if is_valid(checks) else 'INVALID'}",
        _identity_line(identity),
    ]
    for c in checks:
        lines.append(f"  {_MARK[c.result]:<7} {c.code:<22} {c.message}")
    return "\n".join(lines) + "\n"


# Output registry adapters (tdxpolicy.output) for tdxpolicy.commands.image's results.
def report_text(report: Any, style: Any = None) -> str:
    if report.checks is None:
        return render_inspect(report.image, report.identity)
    return render_verify(report.image, report.identity, report.checks)


def report_json(report: Any) -> dict[str, Any]:
    return image_document(report.image, report.identity, report.checks)


def written_text(written: Any, style: Any = None) -> str:
    ident = written.report.identity
    who = "unknown release" if ident.version is None else str(ident.version)
    return (f"wrote {written.path}: {written.what}, format {written.report.image.format_label}, "
            f"{written.size} bytes ({who})\n")


def written_json(written: Any) -> dict[str, Any]:
    return report_json(written.report)
