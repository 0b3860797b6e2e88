"""Image verification speed (issue #4: a 600 KB image well under 100 ms beyond process start).

Prints:
  - in-process read + verify time per image (median of N runs), split into reading, the
    checksum, hashing and the RSA check;
  - CLI wall time of `tdxpolicy image verify` against `python -c "import typer"` (median of N).

Uses Intel's largest published image when ../shared/intel/blobs exists, else a synthetic
600 KB image built with tests/imagekit.py.

    python bench/bench_image.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def _median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _image() -> tuple[Path, bool]:
    blobs = REPO.parent / "shared" / "intel" / "blobs"
    found = sorted(blobs.glob("*.blob"), key=lambda p: p.stat().st_size) if blobs.is_dir() else []
    if found:
        return found[-1], True
    import imagekit

    path = Path(tempfile.mkdtemp()) / "synthetic_600k.img"
    path.write_bytes(imagekit.build_image(0x200, pages=146))
    return path, False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    from tdxpolicy.image.reader import load_image, read_image
    from tdxpolicy.image.verify import rsa_pkcs1v15_sha384_verify, verify, word_sum

    path, real = _image()
    data = path.read_bytes()
    image = read_image(data, str(path))
    kwargs = {} if real else {"trusted_key_hashes": ()}
    s = image.sigstruct
    print(f"image: {path} ({len(data)} bytes, {'Intel' if real else 'synthetic'})")
    print(f"  read (file + decode)        {_median_ms(lambda: load_image(path), args.runs):7.2f} ms")
    print(f"  checksum (word sum)         {_median_ms(lambda: word_sum(data), args.runs):7.2f} ms")
    print(f"  SHA-384 of module pages     {_median_ms(lambda: hashlib.sha384(image.module).digest(), args.runs):7.2f} ms")
    print(f"  RSA-3072 verify (pow)       {_median_ms(lambda: rsa_pkcs1v15_sha384_verify(s.modulus, s.exponent, s.signature, s.signed_bytes), args.runs):7.2f} ms")
    print(f"  read + every check          {_median_ms(lambda: verify(load_image(path), **kwargs), args.runs):7.2f} ms")

    # As installed: bytecode cached (PYTHONDONTWRITEBYTECODE would recompile every module on
    # every start), one warm-up run each so the caches exist.
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    runs = max(5, args.runs // 3)

    def run(cmd: list[str]) -> None:
        subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, check=False)

    typer_cmd = [sys.executable, "-c", "import typer"]
    cli = [sys.executable, "-m", "tdxpolicy", "image", "verify", str(path)]
    cli_json = cli + ["--format", "json"]
    for cmd in (typer_cmd, cli, cli_json):
        run(cmd)
    # Interleaved runs, min and median: other work on a small machine only ever adds time.
    samples: dict[str, list[float]] = {"typer": [], "text": [], "json": []}
    for _ in range(runs):
        for name, cmd in (("typer", typer_cmd), ("text", cli), ("json", cli_json)):
            t = time.perf_counter()
            run(cmd)
            samples[name].append((time.perf_counter() - t) * 1000)
    base = min(samples["typer"])
    print(f"CLI wall time over {runs} interleaved runs (min / median):")
    for name, label in (("typer", "python -c 'import typer'"), ("text", "tdxpolicy image verify"),
                        ("json", "... --format json")):
        lo, med = min(samples[name]), statistics.median(samples[name])
        extra = "" if name == "typer" else f"  (min +{lo - base:.1f} ms over typer, {lo / base:.2f}x)"
        print(f"  {label:<28}{lo:7.1f} / {med:7.1f} ms{extra}")


if __name__ == "__main__":
    main()
