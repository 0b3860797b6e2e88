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
