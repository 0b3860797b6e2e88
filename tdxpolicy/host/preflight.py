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
from ..generations import UPDATE_COMPAT_BIT, ShutdownFlag, abi, accepting
from ..verdict import Check, MoveOptions, Result, Verdict
from ..version import Version
from ..codecs.hostfacts import to_json as facts_to_json
from .probe import ProbeResult
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

# Host check codes (docs/cli.md#commands). Stable: add, never rename.
HOST_CHECKS = (
    "module-alive",
    "upload-interface",
    "upload-idle",
    "cpus-online",
    "privileges",
    "seamret-invd-vmcs",
    "kernel-image-format",
    "advisories-acknowledged",
    "shutdown-compat",
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
        from ..codecs.verdict import verdict_json

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


def _undecided_hint(iface: Any) -> str:
    choices = " or ".join(f"--kernel {g.value}" for g in iface.generations)
    return (f"the sysfs layout of {iface.tdx_host} is shared by the kernel generations "
            f"{', '.join(g.value for g in iface.generations)}, which sysfs cannot tell apart; "
            f"name the running one with {choices} (docs/kernel-generations.md)")


def kernel_format_check(iface: Any, image_format: str | None) -> Check:
    """The image header against every candidate generation: passes only when all of them
    accept it (docs/kernel-generations.md; docs/domain.md#image-formats)."""
    gens = iface.generations
    accepted = list(iface.image_formats)
    facts: dict[str, Any] = {"accepted": accepted, "generations": [g.value for g in gens]}
    if image_format is None:
        return _check("kernel-image-format", False,
                      "the image header is not a recognised format", **facts)
    facts["format"] = image_format
    takers = accepting(image_format, gens)
    if len(takers) == len(gens):
        return _check("kernel-image-format", True,
                      f"the {iface.label} kernel accepts {image_format} images", **facts)
    if takers:
        refusers = [g.value for g in gens if g not in takers]
        return _check("kernel-image-format", False,
                      f"{image_format} images are accepted by "
                      f"{', '.join(g.value for g in takers)} but refused by "
                      f"{', '.join(refusers)}: {_undecided_hint(iface)}", **facts)
    return _check("kernel-image-format", False,
                  f"the {iface.label} kernel accepts only {' and '.join(accepted)} images, this "
                  f"one is {image_format}: convert it with 'tdxpolicy image convert IN -o OUT"
                  f"{' --to 0x100' if '0x100' in accepted else ''}'", **facts)


def shutdown_compat_check(iface: Any, catalogue: Catalogue, running: Version | None) -> Check:
    """Kernels that set AVOID_COMPAT_SENSITIVE on TDH.SYS.SHUTDOWN unconditionally (v8, v9,
    v10) make a module without TDX_FEATURES0.UPDATE_COMPAT (bit 47) refuse to shut down: the
    update fails, harmlessly, every time (docs/kernel-generations.md)."""
    gens = iface.generations
    flagging = [g for g in gens if abi(g).shutdown_flag is ShutdownFlag.ALWAYS]
    facts: dict[str, Any] = {"generations": [g.value for g in gens],
                             "flag_always": [g.value for g in flagging]}
    if not flagging:
        phrase = {ShutdownFlag.NEVER: "never sets",
                  ShutdownFlag.IF_SUPPORTED: "sets only when the module supports it"}
        modes = " or ".join(dict.fromkeys(phrase[abi(g).shutdown_flag] for g in gens))
        return _check("shutdown-compat", True,
                      f"the {iface.label} kernel {modes} AVOID_COMPAT_SENSITIVE on shutdown, "
                      "so the running module's support for it does not matter", **facts)
    release = None if running is None else catalogue.get(running)
    f0 = None if release is None else release.facts.features0
    who = (f"the {', '.join(g.value for g in flagging)} kernel"
           + ("s" if len(flagging) > 1 else ""))
    others = [g.value for g in gens if g not in flagging]
    also = "" if not others else (f"; if the running kernel is {' or '.join(others)}, this "
                                  f"does not apply: {_undecided_hint(iface)}")
    if f0 is None:
        what = "unknown" if running is None else f"{running}"
        return Check("shutdown-compat", Result.UNKNOWN,
                     f"{who} ask the running module to shut down with AVOID_COMPAT_SENSITIVE, "
                     f"which a module without TDX_FEATURES0.UPDATE_COMPAT (bit "
                     f"{UPDATE_COMPAT_BIT}) refuses; no policy source gives TDX_FEATURES0 of the "
                     f"running module ({what}){also}", None, facts)
    facts["features0"] = f"{f0.value:#x}"
    if f0.value >> UPDATE_COMPAT_BIT & 1:
        return Check("shutdown-compat", Result.PASS,
                     f"the running module {running} supports UPDATE_COMPAT (TDX_FEATURES0 "
                     f"{f0.value:#x} bit {UPDATE_COMPAT_BIT}), so it accepts the shutdown flag "
                     f"{who} set", f0.source, facts)
    return Check("shutdown-compat", Result.FAIL,
                 f"{who} ask the running module to shut down with AVOID_COMPAT_SENSITIVE, but "
                 f"{running} lacks UPDATE_COMPAT (TDX_FEATURES0 {f0.value:#x}, bit "
                 f"{UPDATE_COMPAT_BIT} clear): it refuses to shut down and every update fails "
                 f"(before shutdown, harmlessly); use a kernel that does not set the flag "
                 f"unconditionally (the merged kernel, v4-v7){also}", f0.source, facts)


def host_checks(
    result: ProbeResult, can_write: Callable[[Path], bool], image_format: str | None,
    have_image: bool, catalogue: Catalogue | None = None,
) -> tuple[Check, ...]:
    """The checks read from the host itself (docs/domain.md#linux-interface)."""
    iface = result.interface
    out: list[Check] = []
    # docs/domain.md#linux-interface: a `version` read failing with ENXIO means no module is alive.
    if iface.module_alive:
        out.append(_check("module-alive", True, f"the TDX module is alive ({iface.version_path} "
                          "is readable)"))
    else:
        out.append(_check("module-alive", False, f"{iface.version_path}: ENXIO: {HINT_MODULE_LOST}"))

    # docs/domain.md#linux-interface: updates go through the fw_upload directory of the running
    # generation.
    if iface.upload_dir is not None:
        out.append(_check("upload-interface", True,
                          f"upload interface {iface.upload_dir} ({iface.label} kernel)",
                          upload_dir=str(iface.upload_dir), generation=iface.label))
    else:
        hint = HINT_SEAMRET if iface.seamret_invd_vmcs else HINT_NO_UPLOAD
        out.append(_check("upload-interface", False, f"no upload interface: {hint}",
                          generation=iface.label))

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

    # docs/domain.md#upload-protocol [I]: the loader waits for every CPU;
    # /sys/devices/system/cpu/offline empty.
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

    # docs/domain.md#linux-interface: the kernel disables runtime updates on CPUs with this erratum.
    if iface.seamret_invd_vmcs:
        out.append(_check("seamret-invd-vmcs", False, HINT_SEAMRET))
    else:
        out.append(_check("seamret-invd-vmcs", True,
                          "the CPU does not report the seamret_invd_vmcs erratum"))

    # docs/kernel-generations.md: which header each candidate generation takes.
    if have_image:
        out.append(kernel_format_check(iface, image_format))
    if catalogue is not None:
        out.append(shutdown_compat_check(iface, catalogue, result.facts.module_version))
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
        from ..image import (INTEL_KEY_HASH, identify, image_move_checks, read_image,
                             with_image_facts)

        path = image_path or "<image>"
        image = read_image(image_data, path)
        named = target  # the operator's --to: accepts an image whose name disagrees
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
        # The sigstruct page rule depends on the kernel (how many pages it passes, with which
        # loader parameter version) and on the running P-SEAMLDR.
        ident, img_checks = image_move_checks(image, path, catalogue, target,
                                              trusted_key_hashes=trusted,
                                              kernels=result.interface.generations,
                                              seamldr=result.facts.seamldr_version,
                                              named=named)
        if ident is not None and ident == target:
            # The image's own facts (e.g. its debug bit) where no policy source has them.
            catalogue = with_image_facts(catalogue, image, target)
        info = image_info(image_data, path, None if ident is None else ident.text)
    if target is None:
        raise InputError("--to VERSION is required (or --image PATH)", code="usage")

    verdict = decide(catalogue, result.facts, target, options)
    checks = host_checks(result, can_write, info.format if info else None, info is not None,
                         catalogue)
    words = advisory_words(catalogue, target)
    # A move that loses (or may lose) TDX_FEATURES0 bits needs its own acknowledgement, like
    # an advisory (engine check `features`, word FEATURES_LOST_WORD).
    words += tuple(dict.fromkeys(
        str(c.facts["word"]) for c in verdict.checks
        if c.code == "features" and "word" in c.facts and c.facts["word"] not in words))
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
