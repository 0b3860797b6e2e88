"""`tdxpolicy image ...`: exit codes, JSON validated against schemas/image.schema.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import imagekit
from tdxpolicy.cli import image_cmds, main
import os
import struct
from imagekit import build_image, test_key
from tdxpolicy.errors import InputError
from tdxpolicy.image import read_image, verify
from tdxpolicy.image.reader import read_file_limited

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def schema() -> Any:
    import jsonschema

    doc = json.loads((REPO / "schemas" / "image.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(doc)


@pytest.fixture
def trust_test_key(monkeypatch: pytest.MonkeyPatch) -> imagekit.TestKey:
    key = imagekit.test_key()
    monkeypatch.setattr(image_cmds, "TRUSTED_KEY_HASHES", (key.key_hash,))
    return key


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    module = imagekit.make_module(4)
    sig = imagekit.make_sigstruct(module)
    out = {
        "blob": tmp_path / "synthetic.blob",
        "img": tmp_path / "synthetic.img",
        "bin": tmp_path / "mod.bin",
        "sig": tmp_path / "mod.sigstruct",
        "bad": tmp_path / "bad.img",
        "junk": tmp_path / "junk.img",
    }
    out["blob"].write_bytes(imagekit.blob_0x100(sig, module))
    out["img"].write_bytes(imagekit.image_0x200(sig, module))
    out["bin"].write_bytes(module)
    out["sig"].write_bytes(sig)
    bad = bytearray(imagekit.image_0x200(sig, module))
    bad[-1] ^= 1
    out["bad"].write_bytes(bytes(bad))
    out["junk"].write_bytes(b"not an image at all" * 10)
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_verify_exit_codes(capsys: pytest.CaptureFixture[str], images: dict[str, Path],
                           trust_test_key: imagekit.TestKey) -> None:
    assert run(capsys, "image", "verify", str(images["img"]))[0] == 0
    assert run(capsys, "image", "verify", str(images["blob"]))[0] == 0
    assert run(capsys, "image", "verify", str(images["blob"]), "--kernel", "merged")[0] == 1
    assert run(capsys, "image", "verify", str(images["img"]), "--kernel", "legacy")[0] == 1
    assert run(capsys, "image", "verify", str(images["blob"]), "--kernel", "legacy")[0] == 0
    assert run(capsys, "image", "verify", str(images["bad"]))[0] == 1
    code, out, err = run(capsys, "image", "verify", str(images["junk"]))
    assert code == 2 and out == ""
    assert err.startswith(f"tdxpolicy: {images['junk']} (byte offset 0x0): not a TDX module image")
    assert run(capsys, "image", "verify", str(images["junk"].with_name("missing.img")))[0] == 2
    assert run(capsys, "image", "verify", str(images["img"]), "--kernel", "bogus")[0] == 2


def test_verify_untrusted_key_is_invalid(capsys: pytest.CaptureFixture[str], images: dict[str, Path]) -> None:
    code, out, _ = run(capsys, "image", "verify", str(images["img"]), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert [c["code"] for c in doc["checks"] if c["result"] == "fail"] == ["signing-key"]


def test_verify_json_document(capsys: pytest.CaptureFixture[str], images: dict[str, Path], schema: Any,
                              trust_test_key: imagekit.TestKey) -> None:
    code, out, _ = run(capsys, "image", "verify", str(images["blob"]), "--format", "json",
                       "--no-default-policy")
    assert code == 0
    doc = json.loads(out)
    schema.validate(doc)
    assert doc["tdxpolicy"] == "image/1" and doc["format"] == "0x100" and doc["valid"] is True
    assert doc["identity"]["version"] is None and doc["identity"]["by"] is None
    assert doc["facts"]["sigstruct"]["svn"] == {"major": 1, "minor": 11, "raw": "0x10b"}
    assert doc["facts"]["sigstruct"]["cpuid_table"] == ["0x806F8", "0xC06F0", "0xA06F0"]
    kernel = [c for c in doc["checks"] if c["code"] == "kernel-format"][0]
    assert kernel["result"] == "warn" and kernel["source"]["offset"] == 0


def test_bad_image_json_names_the_check(capsys: pytest.CaptureFixture[str], images: dict[str, Path],
                                        schema: Any, trust_test_key: imagekit.TestKey) -> None:
    code, out, _ = run(capsys, "image", "verify", str(images["bad"]), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    schema.validate(doc)
    assert doc["valid"] is False
    assert [c["code"] for c in doc["checks"] if c["result"] == "fail"] == ["seamhash"]


def test_unreadable_json_error(capsys: pytest.CaptureFixture[str], images: dict[str, Path]) -> None:
    code, out, _ = run(capsys, "image", "verify", str(images["junk"]), "--format", "json")
    assert code == 2
    err = json.loads(out)["error"]
    assert err["code"] == "not-an-image"
    assert err["problems"][0]["location"] == {"file": str(images["junk"]), "offset": 0}


def test_inspect(capsys: pytest.CaptureFixture[str], images: dict[str, Path], schema: Any) -> None:
    code, out, _ = run(capsys, "image", "inspect", str(images["img"]), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    schema.validate(doc)
    assert doc["checks"] == [] and doc["valid"] is None
    assert doc["facts"]["header"]["module_nr_pages"] == 4
    code, out, _ = run(capsys, "image", "inspect", str(images["img"]))
    assert code == 0
    assert "  num_handoff_pages            13  @0x13de\n" in out
    assert "  sigstruct_nr_pages           1  @0x000c\n" in out


def test_pair_verify_and_inspect(capsys: pytest.CaptureFixture[str], images: dict[str, Path], schema: Any,
                                 trust_test_key: imagekit.TestKey) -> None:
    code, out, _ = run(capsys, "image", "verify", str(images["sig"]), "--module", str(images["bin"]),
                       "--format", "json")
    doc = json.loads(out)
    schema.validate(doc)
    assert code == 0 and doc["format"] == "pair"
    assert [c["code"] for c in doc["checks"] if c["result"] != "pass"] == ["kernel-format"]


def test_convert_and_join(capsys: pytest.CaptureFixture[str], images: dict[str, Path], tmp_path: Path,
                          schema: Any, trust_test_key: imagekit.TestKey) -> None:
    out = tmp_path / "conv.img"
    code, text, _ = run(capsys, "image", "convert", str(images["blob"]), "-o", str(out))
    assert code == 0
    assert text == (f"wrote {out}: converted from 0x100, format 0x200, {out.stat().st_size} bytes "
                    "(unknown release)\n")
    assert out.read_bytes()[4:] == images["img"].read_bytes()[4:]
    # exists: refused without --force, file untouched
    before = out.read_bytes()
    code, _, err = run(capsys, "image", "convert", str(images["blob"]), "-o", str(out), "--to", "0x100")
    assert code == 2 and "output file exists; pass --force to replace it" in err
    assert out.read_bytes() == before
    code, _, _ = run(capsys, "image", "convert", str(images["img"]), "-o", str(out), "--to", "0x100",
                     "--force")
    assert code == 0 and out.read_bytes() == images["blob"].read_bytes()
    joined = tmp_path / "joined.blob"
    code, text, _ = run(capsys, "image", "join", "--module", str(images["bin"]), "--sigstruct",
                        str(images["sig"]), "-o", str(joined), "--to", "0x100", "--format", "json")
    assert code == 0
    schema.validate(json.loads(text))
    assert joined.read_bytes() == images["blob"].read_bytes()
    # an invalid input is refused and nothing is written
    nothing = tmp_path / "nothing.img"
    code, _, err = run(capsys, "image", "convert", str(images["bad"]), "-o", str(nothing))
    assert code == 2 and "input image does not verify: seamhash" in err
    assert not nothing.exists()


def test_real_image_json(capsys: pytest.CaptureFixture[str], intel_dir: Path, schema: Any) -> None:
    path = intel_dir / "blobs" / "tdx_module_1.5.16.blob"
    code, out, _ = run(capsys, "image", "verify", str(path), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    schema.validate(doc)
    assert doc["identity"]["version"] == "1.5.16" and doc["identity"]["by"] == "mrseam"
    code, out, _ = run(capsys, "image", "verify", str(path), "--kernel", "merged")
    assert code == 1 and "  FAIL    kernel-format" in out


def test_image_cmds_imports_only_typer_at_start_up() -> None:
    code = (
        "import sys; import tdxpolicy.cli.image_cmds; "
        "bad = [m for m in ('cryptography', 'tdxpolicy.image') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert out.strip() == "[]"


# --- special files refused without blocking; reserved3 (was test_qa_image_files.py)


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
