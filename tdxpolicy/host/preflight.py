"""Preflight: everything that must hold before one byte is written to the upload interface.

One :class:`~tdxpolicy.verdict.Verdict` made of

* the engine's decision for running -> target (:func:`tdxpolicy.engine.decide`; the update
  budget is the engine's ``remaining-updates`` check, fed from ``num_remaining_updates``),
* the image's own checks (:func:`tdxpolicy.image.image_move_checks`: verification, identity
  and the cross-checks against the catalogue), when an image is given,
* host checks with stable codes (:data:`HOST_CHECKS`), from the probe; among them
  ``kernel-image-format``, which holds the image's header against the probed kernel.

Pure apart from the probe result and the injected ``can_write`` (``os.access`` on a real
host; tests run as root, so they inject it). The CLI (``tdxpolicy preflight``) and the update
(:mod:`tdxpolicy.host.upload`) both call :func:`preflight`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Collection

from .._value import value
from ..catalogue import Catalogue
from ..errors import InputError
from ..verdict import Check, MoveOptions, Result, Verdict
from ..version import Version
from .probe import ProbeResult, facts_to_json
from .probe import HINT_MODULE_LOST, HINT_NO_UPLOAD, HINT_SEAMRET
from .probe import format_cpu_list

__all__ = [
    "HOST_CHECKS",
    "ImageInfo",
    "Preflight",
    "preflight",
    "image_info",
    "advisory_words",
]

# Host check codes (cli-contract.md "The running host"). Stable: add, never rename.
HOST_CHECKS = (
    "module-alive",
    "upload-interface",
    "upload-idle",
    "cpus-online",
    "privileges",
    "seamret-invd-vmcs",
    "kernel-image-format",
    "advisories-acknowledged",
)


@value
class ImageInfo:
    """What identifies the image that would be uploaded (for output and update records)."""

    path: str
    size: int
    sha256: str
    sha384: str
    format: str | None  # "0x100", "0x200", or None when the header is not recognised
    version: str | None  # identified version (catalogue MRSEAM/seamhash), None if unknown
    seamhash: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "sha384": self.sha384,
            "format": self.format,
            "version": self.version,
            "seamhash": self.seamhash,
        }


@value
class Preflight:
    probe: ProbeResult
    target: Version
    verdict: Verdict
    image: ImageInfo | None
    advisories: tuple[str, ...]  # the target's advisory words
    unacknowledged: tuple[str, ...]  # those not acknowledged

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed

    def to_json(self) -> dict[str, Any]:
        from ..render.json_out import verdict_json

        return {
            "tdxpolicy": "preflight/1",
            "allowed": self.allowed,
            "target": self.target.text,
            "verdict": verdict_json(self.verdict),
            "facts": facts_to_json(self.probe.facts),
            "interface": self.probe.interface.to_json(),
            "image": None if self.image is None else self.image.to_json(),
            "advisories": list(self.advisories),
            "unacknowledged": list(self.unacknowledged),
        }


def advisory_words(catalogue: Catalogue, target: Version) -> tuple[str, ...]:
    release = catalogue.get(target)
    if release is None:
        return ()
    seen: list[str] = []
    for a in release.advisories:
        if a.word not in seen:
            seen.append(a.word)
    return tuple(seen)


def image_info(data: bytes, path: str, version: str | None = None) -> ImageInfo:
    """Hashes and header identity of raw image bytes (no verification)."""
    fmt: str | None = None
    seamhash: str | None = None
    try:
        from ..image.reader import read_image

        img = read_image(data, path)
        fmt = img.format_label
        seamhash = img.sigstruct.seamhash_hex
    except InputError:  # not an image: preflight refuses it, the record still names it
        pass
    return ImageInfo(
        path=path,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        sha384=hashlib.sha384(data).hexdigest(),
        format=fmt,
        version=version,
        seamhash=seamhash,
    )


def _check(code: str, ok: Result | bool, message: str, **facts: Any) -> Check:
    result = ok if isinstance(ok, Result) else (Result.PASS if ok else Result.FAIL)
    return Check(code, result, message, None, facts)


def host_checks(
    result: ProbeResult, can_write: Callable[[Path], bool], image_format: str | None,
    have_image: bool,
) -> tuple[Check, ...]:
    """The checks read from the host itself (domain.md section 3)."""
    iface = result.interface
    out: list[Check] = []
    # domain.md s.3: a `version` read failing with ENXIO means no module is alive.
    if iface.module_alive:
        out.append(_check("module-alive", True, f"the TDX module is alive ({iface.version_path} "
                          "is readable)"))
    else:
        out.append(_check("module-alive", False, f"{iface.version_path}: ENXIO: {HINT_MODULE_LOST}"))

    # domain.md s.3: updates go through the fw_upload directory of the running generation.
    if iface.upload_dir is not None:
        out.append(_check("upload-interface", True,
                          f"upload interface {iface.upload_dir} ({iface.generation.value} kernel)",
                          upload_dir=str(iface.upload_dir), generation=iface.generation.value))
    else:
        hint = HINT_SEAMRET if iface.seamret_invd_vmcs else HINT_NO_UPLOAD
        out.append(_check("upload-interface", False, f"no upload interface: {hint}",
                          generation=iface.generation.value))

    # fw_upload: one upload at a time; `status` must be idle before `loading`=1.
    if iface.upload_status is None:
        out.append(_check("upload-idle", Result.UNKNOWN,
                          "upload status unknown: there is no upload interface"))
    elif iface.upload_status == "idle":
        out.append(_check("upload-idle", True, "no upload in progress (status: idle)",
                          status="idle"))
    else:
        out.append(_check("upload-idle", False,
                          f"another upload is in progress (status: {iface.upload_status}); wait "
                          "for it to finish (status idle) and run preflight again",
                          status=iface.upload_status))

    # domain.md s.3 [I]: the loader waits for every CPU; /sys/devices/system/cpu/offline empty.
    if iface.offline_cpus is None:
        out.append(_check("cpus-online", Result.UNKNOWN,
                          "the kernel does not list offline CPUs "
                          "(devices/system/cpu/offline is missing)"))
    elif not iface.offline_cpus:
        out.append(_check("cpus-online", True, "all CPUs are online"))
    else:
        listed = format_cpu_list(iface.offline_cpus)
        out.append(_check("cpus-online", False,
                          f"CPUs {listed} are offline; bring every CPU online (echo 1 > "
                          "/sys/devices/system/cpu/cpuN/online) before updating",
                          offline=listed))

    # Writing `loading` and `data` needs root (they are 0200/0600 in sysfs).
    if iface.upload_dir is None:
        out.append(_check("privileges", Result.UNKNOWN,
                          "cannot tell: there is no upload interface to write"))
    else:
        targets = [iface.upload_dir / "loading", iface.upload_dir / "data"]
        denied = [str(p) for p in targets if not can_write(p)]
        if denied:
            out.append(_check("privileges", False,
                              f"cannot write {', '.join(denied)}: run as root",
                              denied=denied))
        else:
            out.append(_check("privileges", True, "may write the upload interface"))

    # domain.md s.3: the kernel disables runtime updates on CPUs with this erratum.
    if iface.seamret_invd_vmcs:
        out.append(_check("seamret-invd-vmcs", False, HINT_SEAMRET))
    else:
        out.append(_check("seamret-invd-vmcs", True,
                          "the CPU does not report the seamret_invd_vmcs erratum"))

    # domain.md s.4: the merged kernel accepts only 0x200 images; older kernels 0x100 [I].
    if have_image:
        accepted = iface.image_formats
        if image_format is None:
            out.append(_check("kernel-image-format", False,
                              "the image header is not a recognised format",
                              accepted=list(accepted)))
        elif image_format in accepted:
            out.append(_check("kernel-image-format", True,
                              f"the {iface.generation.value} kernel accepts {image_format} images",
                              format=image_format, accepted=list(accepted)))
        else:
            out.append(_check("kernel-image-format", False,
                              f"the {iface.generation.value} kernel accepts only "
                              f"{' and '.join(accepted)} images, this one is {image_format}: "
                              f"convert it with 'tdxpolicy image convert IN -o OUT"
                              f"{' --to 0x100' if '0x100' in accepted else ''}'",
                              format=image_format, accepted=list(accepted)))
    return tuple(out)


def preflight(
    result: ProbeResult,
    catalogue: Catalogue,
    *,
    target: Version | None,
    options: MoveOptions,
    image_data: bytes | None = None,
    image_path: str | None = None,
    can_write: Callable[[Path], bool] | None = None,
    require_acknowledged: bool = False,
    trusted_key_hashes: Collection[str] | None = None,
) -> Preflight:
    """Decide whether the probed host may move to ``target`` (or the image's version).

    ``require_acknowledged`` (the update) adds ``advisories-acknowledged``, which fails while
    any advisory of the target is not acknowledged. ``trusted_key_hashes`` replaces Intel's
    production key hash; tests only (never trusted by default).
    """
    from ..engine import decide

    if can_write is None:
        import os

        def can_write(p: Path) -> bool:
            return os.access(p, os.W_OK)

    img_checks: tuple[Check, ...] = ()
    info: ImageInfo | None = None
    if image_data is not None:
        from ..image import INTEL_KEY_HASH, identify, image_move_checks, read_image

        path = image_path or "<image>"
        image = read_image(image_data, path)
        if target is None:
            target = identify(image.sigstruct.seamhash_hex, catalogue).version
            if target is None:
                raise InputError(
                    f"--image: {path}: the image's version could not be identified from the "
                    "catalogue; give --to VERSION", code="unidentified-image")
        # The image's checks report the header format without failing it (the kernel is
        # unknown to them); `kernel-image-format` (host_checks) fails it against the probed
        # kernel.
        trusted = (INTEL_KEY_HASH,) if trusted_key_hashes is None else tuple(trusted_key_hashes)
        ident, img_checks = image_move_checks(image, path, catalogue, target,
                                              trusted_key_hashes=trusted)
        info = image_info(image_data, path, None if ident is None else ident.text)
    if target is None:
        raise InputError("--to VERSION is required (or --image PATH)", code="usage")

    verdict = decide(catalogue, result.facts, target, options)
    checks = host_checks(result, can_write, info.format if info else None, info is not None)
    words = advisory_words(catalogue, target)
    ack = options.acknowledged
    unack = () if "all" in ack else tuple(w for w in words if w not in ack)
    if require_acknowledged:
        if unack:
            flags = " ".join(f"--acknowledge {w}" for w in unack)
            checks += (_check("advisories-acknowledged", False,
                              f"advisories of {target} not acknowledged: {', '.join(unack)}; "
                              f"read them and re-run with {flags}",
                              unacknowledged=list(unack)),)
        else:
            checks += (_check("advisories-acknowledged", True,
                              "every advisory of the target is acknowledged"
                              if words else "the target has no advisories",
                              acknowledged=list(words)),)
    verdict = verdict.with_checks(img_checks + checks)
    return Preflight(result, target, verdict, info, words, unack)
