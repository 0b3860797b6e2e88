"""The embedded catalogue: Intel's releases as policy documents shipped inside the package.

The documents (``tdxpolicy/data/releases/*.tdxpolicy``) are the source of truth; they are also
shipped precompiled as ``tdxpolicy/data/catalogue.json`` so that a run does not build the lark
parser and re-parse them (cold start-up budget, issue #2 item 10). The JSON carries the SHA-256
digest of the documents' names and bytes; at run time the digest is recomputed from the shipped
documents (cheap: ~20 KiB) and, if it differs (someone edited or added a document in the
installed package), the documents are parsed from text instead. So the cache can never serve
stale facts, and nothing is ever written into the package directory.

Standard library only on the fast path (json, and the built-in SHA-256).
"""

from __future__ import annotations

try:
    # The built-in module avoids loading OpenSSL through hashlib (about 2 ms of every cold
    # start); it computes the same digest.
    from _sha256 import sha256 as _sha256  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - interpreters without the built-in module
    from hashlib import sha256 as _sha256
import json
from .._value import value
from pathlib import Path

from ..model import PolicyDocument

__all__ = [
    "COMPILED_NAME",
    "releases_dir",
    "read_embedded_bytes",
    "digest_documents",
    "compile_documents",
    "embedded_documents",
    "compiled_is_current",
    "CatalogueIdentity",
    "identity",
]

COMPILED_NAME = "catalogue.json"


def releases_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "releases"


def read_embedded_bytes() -> dict[str, bytes]:
    """The shipped documents, by file name, in name order."""
    d = releases_dir()
    if not d.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.suffix == ".tdxpolicy"}


def digest_documents(docs: dict[str, bytes]) -> str:
    """SHA-256 over every (name, bytes), in name order, length-prefixed so that no two
    different sets of documents give the same byte stream."""
    h = _sha256()
    for name in sorted(docs):
        raw = name.encode("utf-8")
        h.update(len(raw).to_bytes(8, "little") + raw)
        h.update(len(docs[name]).to_bytes(8, "little") + docs[name])
    hexdigest: str = h.hexdigest()
    return "sha256:" + hexdigest


def _parse_all(docs: dict[str, bytes]) -> list[PolicyDocument]:
    from .document import read_document

    return [read_document(data, name, embedded=True) for name, data in sorted(docs.items())]


def compile_documents(docs: dict[str, bytes]) -> bytes:
    """Parse the documents and write them as the ``catalogue/1`` JSON export (bytes)."""
    from ..serialize import CATALOGUE_TAG, document_to_json

    out = {
        "tdxpolicy": CATALOGUE_TAG,
        "digest": digest_documents(docs),
        "documents": [document_to_json(d) for d in _parse_all(docs)],
    }
    return (json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _load_compiled(docs: dict[str, bytes]) -> list[PolicyDocument] | None:
    from ..serialize import CATALOGUE_TAG, document_from_json

    path = releases_dir().parent / COMPILED_NAME
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tdxpolicy") != CATALOGUE_TAG:
        return None
    if data.get("digest") != digest_documents(docs):
        return None
    try:
        return [document_from_json(d) for d in data["documents"]]
    except (KeyError, TypeError, ValueError):
        return None  # a damaged cache is not an error: parse the documents instead


def compiled_is_current() -> bool:
    return _load_compiled(read_embedded_bytes()) is not None


def embedded_documents() -> list[PolicyDocument]:
    """Every shipped document: from the precompiled JSON when it matches the documents'
    digest, otherwise parsed from the documents themselves."""
    docs = read_embedded_bytes()
    loaded = _load_compiled(docs)
    if loaded is not None:
        return loaded
    return _parse_all(docs)



@value
class CatalogueIdentity:
    """What ``tdxpolicy --version`` says of the embedded catalogue."""

    digest: str  # digest_documents() of the shipped documents
    documents: int
    releases: tuple[str, ...]
    issued: str | None  # the newest `issued` of the documents
    expires: str | None  # the earliest `expires`
    sources: tuple[str, ...]  # the documents' `source` statements (Intel repository, commit)

    def series(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for v in self.releases:
            out.setdefault(v.rsplit(".", 1)[0], []).append(v)
        return {k: tuple(v) for k, v in out.items()}

    def to_json(self) -> dict[str, object]:
        return {"digest": self.digest, "documents": self.documents,
                "releases": list(self.releases), "issued": self.issued,
                "expires": self.expires, "sources": list(self.sources)}

    def to_text(self) -> str:
        series = ", ".join(f"{s}: {v[0]}..{v[-1]} ({len(v)})" for s, v in self.series().items())
        lines = [f"embedded catalogue {self.digest}",
                 f"  {len(self.releases)} releases in {self.documents} documents ({series})",
                 f"  issued {self.issued}, expires {self.expires}"]
        lines += [f"  source: {s}" for s in self.sources]
        return "\n".join(lines)


def identity() -> CatalogueIdentity:
    """The digest of the embedded documents, the Intel data they were generated from (their
    ``source`` statements), when they were issued and expire, and the releases covered."""
    docs = read_embedded_bytes()
    parsed = embedded_documents()
    versions = sorted({b.version for d in parsed for b in d.releases})
    issued = sorted({d.meta.issued.value.isoformat() for d in parsed if d.meta.issued})
    expires = sorted({d.meta.expires.value.isoformat() for d in parsed if d.meta.expires})
    sources = tuple(dict.fromkeys(d.meta.origin.value for d in parsed if d.meta.origin))
    return CatalogueIdentity(digest_documents(docs), len(docs), tuple(v.text for v in versions),
                             issued[-1] if issued else None, expires[0] if expires else None,
                             sources)
