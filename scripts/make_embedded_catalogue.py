#!/usr/bin/env python3
"""Generate the embedded catalogue from Intel's published data, with ``catalogue build``'s code.

Reads, from Intel's data directory (default ``../shared/intel``), the same sources a site
would give ``tdxpolicy catalogue build``: ``mapping_file.json``, the binaries ``README.md``,
the MRSEAM table ``tdx-module-releases.md`` and the images in ``blobs/`` (each verified and
identified by its seamhash). ``release-facts.json`` supplies the image facts of releases whose
images are not in ``blobs/`` (read from the published images by hand; each fact cites its JSON
path). Then :func:`tdxpolicy.catalogue_build.build_documents` writes:

- ``tdxpolicy/data/releases/tdx_module_<version>.tdxpolicy``: one policy document per release;
- ``tdxpolicy/data/compiled_catalogue.py``: the same documents precompiled, as code that
  builds the parsed values, with the SHA-256 digest of the documents' bytes so that the
  runtime can tell when the documents were edited and re-parse them instead.

Usage::

    python scripts/make_embedded_catalogue.py [--intel DIR]   # regenerate everything
    python scripts/make_embedded_catalogue.py --compile-only  # recompile from the documents
    python scripts/make_embedded_catalogue.py --check         # exit 1 if anything is stale

Every fact comes from Intel's data; nothing is invented. A release that Intel gives no update
policy for (no mapping entry) gets no ``update from`` rule, so it cannot be updated into.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tdxpolicy.catalogue import merge  # noqa: E402
from tdxpolicy.catalogue_build import build_documents  # noqa: E402
from tdxpolicy.model import (  # noqa: E402
    DocumentMeta,
    Handoff,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    SourceKind,
    Sourced,
    Status,
    StatusKind,
    Svn,
)
from tdxpolicy.sources import load_documents  # noqa: E402
from tdxpolicy.sources.embedded import (  # noqa: E402
    COMPILED_NAME,
    compile_documents,
    releases_dir,
)
from tdxpolicy.sources.images import image_document  # noqa: E402
from tdxpolicy.sources.intel_notes import (  # noqa: E402
    INTEL_BINARIES_COMMIT,
    INTEL_BINARIES_REPO,
    INTEL_MODULE_COMMIT,
    INTEL_MODULE_REPO,
    SERIES_2_0_NOTE,
    SERIES_2_0_STATUS,
)
from tdxpolicy.version import parse_version  # noqa: E402

ISSUED = dt.date(2026, 11, 26)
EXPIRES = dt.date(2027, 11, 26)
ORIGIN = (f"{INTEL_BINARIES_REPO} (commit {INTEL_BINARIES_COMMIT}): mapping_file.json, "
          f"joined_files/*.blob, README.md; MRSEAM: {INTEL_MODULE_REPO} README "
          f"(commit {INTEL_MODULE_COMMIT})")


def _release_facts_document(intel: Path, with_images: set[str]) -> PolicyDocument:
    """The image facts release-facts.json records for releases whose image is not here."""
    name = "release-facts.json"
    facts = json.loads((intel / name).read_text(encoding="utf-8"))
    blocks = []
    for i, r in enumerate(facts["releases"]):
        image: dict[str, Any] | None = r.get("from_published_image")
        if image is None or r["version"] in with_images:
            continue
        base = f"$.releases[{i}].from_published_image"

        def at(key: str) -> Location:
            return Location(name, path=f"{base}.{key}")  # noqa: B023 - used at once

        svn = image["seam_svn"]
        block_facts = ReleaseFacts(
            published=Sourced(dt.date.fromisoformat(image["sigstruct_date"]), at("sigstruct_date")),
            seamhash=Sourced(image["seamhash"].upper(), at("seamhash")),
            svn=Sourced(Svn(svn["major"], svn["minor"]), at("seam_svn")),
            platforms=Sourced(tuple(int(p, 16) for p in image["cpuid_table"]), at("cpuid_table")),
            handoff=Sourced(Handoff(image["module_hv"], image["min_update_hv"],
                                    bool(image["no_downgrade"])), at("module_hv")),
            debug=Sourced(True, at("debug")) if image["debug"] else None,
        )
        blocks.append(ReleaseBlock(parse_version(r["version"]), Location(name, path=f"$.releases[{i}]"),
                                   block_facts))
    return PolicyDocument(name, SourceKind.IMAGE, DocumentMeta(), releases=tuple(blocks))


def _series_2_0_note(intel: Path, versions: list[str]) -> PolicyDocument:
    """Intel's README says every 2.0 version is "currently not supported": the status fact of
    each 2.0 release, also those the README's table does not list (cited at the note)."""
    name = "README.md"
    lines = (intel / name).read_text(encoding="utf-8").splitlines()
    line = next((n for n, text in enumerate(lines, 1) if SERIES_2_0_NOTE in text), None)
    if line is None:
        raise SystemExit(f"Intel's README no longer says: {SERIES_2_0_NOTE!r}; update intel_notes.py")
    at = Location(name, line, lines[line - 1].index(SERIES_2_0_NOTE) + 1)
    status = Sourced(Status(StatusKind.PREVIEW, SERIES_2_0_STATUS), at)
    blocks = tuple(ReleaseBlock(parse_version(v), at, ReleaseFacts(status=status))
                   for v in versions if parse_version(v).series == (2, 0))
    return PolicyDocument(name, SourceKind.README_TABLE, DocumentMeta(), releases=blocks)


def generate(intel: Path) -> dict[str, bytes]:
    blobs = sorted((intel / "blobs").glob("*.blob"))
    sources = [intel / "mapping_file.json", intel / "README.md", intel / "tdx-module-releases.md"]
    docs = load_documents(sources)
    base = merge(docs)
    images = [image_document(b, base) for b in blobs]
    with_images = {blk.version.text for d in images for blk in d.releases}
    known = merge([*docs, *images, _release_facts_document(intel, with_images)])
    catalogue = merge([*docs, *images, _release_facts_document(intel, with_images),
                       _series_2_0_note(intel, [r.version.text for r in known])])
    return build_documents(catalogue, issued=ISSUED, expires=EXPIRES, origin=ORIGIN,
                           generator="scripts/make_embedded_catalogue.py", root=intel)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--intel", type=Path, default=REPO.parent / "shared" / "intel")
    ap.add_argument("--compile-only", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    rdir = releases_dir()
    if args.compile_only:
        docs = {p.name: p.read_bytes() for p in sorted(rdir.glob("*.tdxpolicy"))}
    else:
        docs = generate(args.intel)
    compiled = compile_documents(docs)
    target = rdir.parent / COMPILED_NAME
    if args.check:
        stale = [n for n, b in docs.items() if not (rdir / n).is_file() or (rdir / n).read_bytes() != b]
        extra = sorted({p.name for p in rdir.glob("*.tdxpolicy")} - set(docs))
        if not target.is_file() or target.read_bytes() != compiled:
            stale.append(COMPILED_NAME)
        if stale or extra:
            print(f"stale: {stale}; unexpected: {extra}", file=sys.stderr)
            return 1
        print(f"up to date: {len(docs)} documents and {COMPILED_NAME}")
        return 0
    rdir.mkdir(parents=True, exist_ok=True)
    for old in rdir.glob("*.tdxpolicy"):
        if old.name not in docs:
            old.unlink()
    for name, data in docs.items():
        (rdir / name).write_bytes(data)
    target.write_bytes(compiled)
    print(f"wrote {len(docs)} documents to {rdir.relative_to(REPO)} and {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
