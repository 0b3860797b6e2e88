"""QA (images): special files are refused without blocking, and reserved3[0:8] may carry a
version only on 2.x sigstructs (a 1.5 P-SEAMLDR requires all of reserved3 to be zero)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from imagekit import build_image, test_key
from tdxpolicy.errors import InputError
from tdxpolicy.image import read_image, verify
from tdxpolicy.image.reader import read_file_limited


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "image.fifo"
    os.mkfifo(fifo)
    # In a child process with a timeout: before the fix, opening the FIFO waited forever.
    proc = subprocess.run(
        [sys.executable, "-m", "tdxpolicy", "image", "verify", str(fifo)],
        capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stderr == (f"tdxpolicy: {fifo}: expected an image file, found a special file "
                           "(FIFO, socket or device)\n")
    with pytest.raises(InputError) as e:
        read_file_limited(fifo)
    assert e.value.code == "unreadable"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_is_refused() -> None:
    with pytest.raises(InputError) as e:
        read_file_limited(Path("/dev/zero"))
    assert e.value.message.endswith("expected an image file, found a special file "
                                    "(FIFO, socket or device)")


def test_directory_and_regular_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        read_file_limited(tmp_path)
    assert e.value.message.endswith("expected an image file, found a directory")
    f = tmp_path / "img"
    f.write_bytes(b"abc")
    assert read_file_limited(f) == b"abc"


def _reserved(version: tuple[int, int, int]) -> list:  # type: ignore[type-arg]
    major, minor, update = version
    raw = struct.pack("<HBBHH", update, minor, major, 0x372, 0)
    img = read_image(build_image(0x200, patches={1000: raw}), "x.img")
    key = test_key().key_hash
    return [c for c in verify(img, trusted_key_hashes=(key,)) if c.code == "sigstruct-reserved"]


def test_version_in_reserved3_allowed_on_2x() -> None:
    (c,) = _reserved((2, 0, 8))
    assert c.result.value == "pass"
    assert "reserved3[0:8] carries module version 2.0.08" in c.message


@pytest.mark.parametrize("version", [(1, 5, 16), (0, 0, 1)])
def test_version_in_reserved3_refused_on_1x(version: tuple[int, int, int]) -> None:
    (c,) = _reserved(version)
    assert c.result.value == "fail"
    v = f"{version[0]}.{version[1]}.{version[2]:02d}"
    assert c.message == (f"sigstruct reserved3[0:8] (decodes as {v}, but only 2.x sigstructs "
                         "carry a version there) must be zero; first non-zero byte "
                         f"(byte offset {0x1000 + 1000:#x})")


def test_move_commands_refuse_a_fifo_image_without_waiting(tmp_path: Path) -> None:
    """can-upgrade/path/select --image read the image through the same capped, non-blocking
    reader as the image commands: a FIFO is refused at once (exit 2), not waited on."""
    import json
    import os
    import subprocess
    import sys

    fifo = tmp_path / "image.fifo"
    os.mkfifo(fifo)
    p = subprocess.run(
        [sys.executable, "-m", "tdxpolicy", "can-upgrade", "--from", "1.5.06", "--to", "1.5.16",
         "--image", str(fifo), "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 2
    err = json.loads(p.stdout)["error"]
    assert err["message"].startswith(f"--image: cannot read {fifo}: expected an image file")
