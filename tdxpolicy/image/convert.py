"""Rewrite an image between the 0x100 and 0x200 headers, and join a module with its sigstruct.

Conversion is a header rewrite (docs/domain.md#image-formats): the sigstruct page and the module
pages
are copied byte for byte, so the signature and seamhash stay valid. 0x100 needs its checksum
computed (the 16-bit word sum of the whole file must be 0); 0x200's checksum is not checked
by the kernel, but the same rule is applied so the field is meaningful.

Every conversion is verified before and after: an input that does not verify structurally is
refused, and so is an output (which would be a bug here). "Structurally" means every check
except trust in the signing key, the debug bit and the target kernel generation
(:data:`~tdxpolicy.image.verify.NON_STRUCTURAL`). Outputs are written atomically and never
replace an existing file unless asked.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import Collection

from ..errors import InputError, Problem
from ..model import Location
from ..verdict import Check
from .reader import (
    _BLOB_HEAD,
    _IMAGE_HEAD,
    BLOB_SIGNATURE,
    HEADER_SIZE,
    PAGE_SIZE,
    SIGSTRUCT_SIZE,
    Image,
    ImageFormat,
    read_image,
    read_pair,
)
from .verify import INTEL_KEY_HASH, structural_failures, verify, word_sum

__all__ = ["assemble", "convert", "join", "write_new_file"]


def _pad_page(b: bytes) -> bytes:
    rest = len(b) % PAGE_SIZE
    return b if rest == 0 else b + b"\x00" * (PAGE_SIZE - rest)


def assemble(sigstruct_pages: bytes, module: bytes, fmt: ImageFormat) -> bytes:
    """Header + sigstruct pages + module pages. Both inputs must be whole pages."""
    if len(sigstruct_pages) % PAGE_SIZE or len(module) % PAGE_SIZE:
        raise ValueError("sigstruct and module must be whole 4096-byte pages")
    n_sig = len(sigstruct_pages) // PAGE_SIZE
    n_mod = len(module) // PAGE_SIZE
    total = HEADER_SIZE + len(sigstruct_pages) + len(module)
    header = bytearray(HEADER_SIZE)
    if fmt is ImageFormat.TDX_BLOB:
        _BLOB_HEAD.pack_into(
            header, 0, fmt, 0, HEADER_SIZE + len(sigstruct_pages), BLOB_SIGNATURE, total, 0
        )
    else:
        _IMAGE_HEAD.pack_into(header, 0, fmt, 0, BLOB_SIGNATURE, n_sig, n_mod)
    body = bytes(header) + sigstruct_pages + module
    # checksum: make the 16-bit word sum of the whole file 0 (docs/domain.md#image-formats)
    checksum = (-word_sum(body)) & 0xFFFF
    return body[:2] + struct.pack("<H", checksum) + body[4:]


def _refuse(what: str, path: str, failed: list[Check]) -> InputError:
    problems = [Problem(f"{what}: {c.code}: {c.message}", c.source or Location(path)) for c in failed]
    return InputError(problems, code="image-invalid")


def _checked(
    data: bytes, out_path: str, fmt: ImageFormat, trusted_key_hashes: Collection[str]
) -> tuple[bytes, list[Check]]:
    image = read_image(data, out_path)
    checks = verify(image, trusted_key_hashes=trusted_key_hashes)
    bad = structural_failures(checks)
    if bad or image.format is not fmt:  # pragma: no cover - would be a bug in assemble()
        raise _refuse("refusing to write an output that does not verify", out_path, bad)
    return data, checks


def convert(
    image: Image,
    to: ImageFormat,
    out_path: str = "<output>",
    trusted_key_hashes: Collection[str] = (INTEL_KEY_HASH,),
) -> tuple[bytes, list[Check]]:
    """The image rewritten with the ``to`` header, and the output's checks."""
    bad = structural_failures(verify(image, trusted_key_hashes=trusted_key_hashes))
    if bad:
        raise _refuse("input image does not verify", image.path, bad)
    sig = _pad_page(image.sigstruct_area)
    if to is ImageFormat.TDX_IMAGE and len(sig) > PAGE_SIZE:
        raise InputError.at(
            f"the image has {len(sig) // PAGE_SIZE} sigstruct pages; the 0x200 format takes "
            "exactly 1",
            Location(image.path, offset=4),
            code="image-invalid",
        )
    return _checked(assemble(sig, image.module, to), out_path, to, trusted_key_hashes)


def join(
    module: bytes,
    sigstruct: bytes,
    to: ImageFormat,
    module_path: str = "<module>",
    sigstruct_path: str = "<sigstruct>",
    out_path: str = "<output>",
    trusted_key_hashes: Collection[str] = (INTEL_KEY_HASH,),
) -> tuple[bytes, list[Check]]:
    """Build an image from a module (``.bin``) and its sigstruct, verified before and after."""
    if not (SIGSTRUCT_SIZE <= len(sigstruct) <= PAGE_SIZE):
        raise InputError.at(
            f"expected a sigstruct of 2048 to 4096 bytes, found {len(sigstruct)} bytes",
            Location(sigstruct_path, offset=min(len(sigstruct), SIGSTRUCT_SIZE)),
            code="image-invalid",
        )
    if not module or len(module) % PAGE_SIZE:
        raise InputError.at(
            f"expected a module of whole 4096-byte pages, found {len(module)} bytes",
            Location(module_path, offset=len(module) - len(module) % PAGE_SIZE),
            code="image-invalid",
        )
    pair = read_pair(module, sigstruct, sigstruct_path, module_path)
    bad = structural_failures(verify(pair, trusted_key_hashes=trusted_key_hashes))
    if bad:
        raise _refuse("module and sigstruct do not verify", sigstruct_path, bad)
    return _checked(assemble(_pad_page(sigstruct), module, to), out_path, to, trusted_key_hashes)


def write_new_file(path: Path, data: bytes, force: bool = False) -> None:
    """Write atomically (temporary file in the same directory, fsync, then link or rename).
    Without ``force`` an existing file is never replaced, even one created meanwhile."""
    shown = str(path)
    if not force and os.path.lexists(path):
        raise InputError.at(
            "output file exists; pass --force to replace it", Location(shown), code="output-exists"
        )
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise InputError.at(f"cannot write: {e.strerror or e}", Location(shown), code="unwritable") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the name exists: no clobbering race
            except FileExistsError:
                raise InputError.at(
                    "output file exists; pass --force to replace it", Location(shown),
                    code="output-exists",
                ) from None
            except OSError:
                # file systems without hard links: rename after a last check
                if os.path.lexists(path):
                    raise InputError.at(
                        "output file exists; pass --force to replace it", Location(shown),
                        code="output-exists",
                    ) from None
                os.replace(tmp, path)
    except OSError as e:
        raise InputError.at(f"cannot write: {e.strerror or e}", Location(shown), code="unwritable") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
