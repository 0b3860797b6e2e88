"""``probe``, ``preflight`` and ``update`` as library calls (docs/cli.md#contract "The running
host"). The sysfs I/O is :func:`tdxpolicy.host.sysfs.default_io` (tests patch it with the
simulated kernel); ``can_write``, ``trusted_key_hashes`` and ``clock`` are test seams the
command line passes through, never set in production."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import InputError
from ..verdict import MoveOptions
from ..version import Version
from . import PolicySpec

if TYPE_CHECKING:  # pragma: no cover
    from ..host.preflight import Preflight
    from ..host.probe import ProbeResult
    from ..host.upload import UpdateResult

__all__ = ["probe_host", "preflight_host", "update_host"]


def _read_image(path: Path) -> bytes:
    from ..image.reader import read_file_limited

    return read_file_limited(path)


def probe_host(sysfs_root: Path, proc_root: Path, kernel: str | None = None,
               host_name: str | None = None, require_usable: bool = True) -> ProbeResult:
    """The host's TDX facts and update interface, the facts named ``host_name`` (default: the
    host name the probe read; a pod passes its node's name); :class:`~tdxpolicy.errors.HostError`
    (exit 3) when the host has no usable update interface (unless not ``require_usable``:
    the exporters describe such a host too)."""
    from dataclasses import replace

    from ..host.probe import probe

    result = probe(sysfs_root, proc_root, kernel=kernel)
    # The name given (--host, or $NODE_NAME in a pod) wins over the one the probe read from
    # the proc root's kernel/hostname; the machine's own name when neither says one.
    name = host_name or result.facts.host or _machine_name()
    if name and name != result.facts.host:
        result = replace(result, facts=replace(result.facts, host=name))
    return result.require_usable() if require_usable else result


def _machine_name() -> str | None:
    import socket

    try:
        return socket.gethostname() or None
    except OSError:
        return None


def preflight_host(policy: PolicySpec, options: MoveOptions, *, target: Version | None,
                   image: Path | None, sysfs_root: Path, proc_root: Path,
                   kernel: str | None = None,
                   can_write: Callable[[Path], bool] | None = None,
                   trusted_key_hashes: Sequence[str] | None = None) -> Preflight:
    """Probe the host, verify the image, decide, and check the host: one verdict."""
    from ..host.preflight import preflight
    from ..host.probe import probe

    if target is None and image is None:
        raise InputError("give --to VERSION or --image PATH", code="usage")
    data = _read_image(image) if image is not None else None
    catalogue = policy.load()
    result = probe(sysfs_root, proc_root, kernel=kernel)
    return preflight(result, catalogue, target=target, options=options, image_data=data,
                     image_path=None if image is None else str(image),
                     can_write=can_write, trusted_key_hashes=trusted_key_hashes)


def update_host(policy: PolicySpec, options: MoveOptions, *, image: Path,
                target: Version | None, dry_run: bool, timeout: float, record: Path,
                lock_file: Path, sysfs_root: Path, proc_root: Path, kernel: str | None = None,
                progress: Callable[[str, float], None] | None = None,
                can_write: Callable[[Path], bool] | None = None,
                trusted_key_hashes: Sequence[str] | None = None,
                clock: tuple[Callable[[], float], Callable[[float], None]] | None = None,
                ) -> UpdateResult:
    """The guarded update (:func:`tdxpolicy.host.upload.run_update`): only when preflight
    allows and every advisory is acknowledged; every attempt is recorded."""
    from ..host.upload import UpdateRequest, run_update

    data = _read_image(image)
    catalogue = policy.load()
    request = UpdateRequest(
        image_data=data, image_path=str(image), target=target, options=options,
        dry_run=dry_run, timeout=timeout, sysfs_root=sysfs_root, proc_root=proc_root,
        lock_path=lock_file, record_path=record, kernel=kernel,
    )
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"], kwargs["sleep"] = clock
    return run_update(request, catalogue, progress=progress, can_write=can_write,
                      trusted_key_hashes=trusted_key_hashes, **kwargs)
