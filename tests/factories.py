"""Build catalogues from Python data in tests (no parser, no files).

- :func:`block` / :func:`document` / :func:`catalogue`: one release block, one document, a
  merged catalogue. A fact given as ``None`` (the default) is *unknown*, exactly as when no
  source declares it; every fact and rule gets a synthetic, distinct source line so tests can
  assert which line decided a check.
- :func:`catalogue_from_spec`: the ``catalogue`` object of the engine's JSON case files
  (tests/data/engine/*.json).
- :func:`intel_catalogue`: Intel's published facts (``release-facts.json``) as a catalogue.
- :func:`generated_catalogue`: a deterministic synthetic catalogue of any size (benchmarks,
  properties, the agreement test without ../shared).
- :func:`facts` / :func:`options`: HostFacts and MoveOptions from JSON-like values.

Other areas may import these helpers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from tdxpolicy.catalogue import Catalogue, merge
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.model import (
    Advisory,
    DenyFrom,
    DenyTo,
    DocumentMeta,
    Handoff,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    RollbackTo,
    SourceKind,
    Sourced,
    Status,
    StatusKind,
    Svn,
    UpdateFrom,
)
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Version, parse_version, parse_version_set

__all__ = [
    "block",
    "document",
    "catalogue",
    "catalogue_from_spec",
    "intel_catalogue",
    "generated_catalogue",
    "facts",
    "options",
    "V",
]

V = parse_version
_lines = itertools.count(1)


def _loc(file: str) -> Location:
    return Location(file, next(_lines), 5)


def _svn(v: str | Svn) -> Svn:
    if isinstance(v, Svn):
        return v
    major, minor = v.split(".")
    return Svn(int(major), int(minor))


def _int(x: int | str) -> int:
    return x if isinstance(x, int) else int(x, 16)


def _handoff(h: Handoff | Sequence[Any] | Mapping[str, Any]) -> Handoff:
    if isinstance(h, Handoff):
        return h
    if isinstance(h, Mapping):
        return Handoff(int(h["module"]), int(h["min"]), bool(h.get("no_downgrade", False)))
    return Handoff(int(h[0]), int(h[1]), bool(h[2]) if len(h) > 2 else False)


def block(
    version: str | Version,
    *,
    file: str = "test.tdxpolicy",
    svn: str | Svn | None = None,
    platforms: Iterable[int | str] | None = None,
    seamldr: Iterable[str] | None = None,
    handoff: Handoff | Sequence[Any] | Mapping[str, Any] | None = None,
    debug: bool | None = False,
    features0: int | str | None = None,
    seamhash: str | None = None,
    status: tuple[str, str] | None = None,
    published: str | None = None,
    update_from: Iterable[str] = (),
    deny_from: Iterable[tuple[str, str]] = (),
    rollback_to: Iterable[str] = (),
    advisories: Iterable[tuple[str, str]] = (),
) -> ReleaseBlock:
    """One release block; facts left as None are unknown.

    ``debug`` defaults to False: production-signed, as a source that read the image records it
    (the engine's ``debug`` check needs that fact; ``debug=None`` makes it unknown)."""
    v = version if isinstance(version, Version) else parse_version(version)
    f: dict[str, Any] = {}
    if svn is not None:
        f["svn"] = Sourced(_svn(svn), _loc(file))
    if platforms is not None:
        f["platforms"] = Sourced(tuple(_int(p) for p in platforms), _loc(file))
    if seamldr is not None:
        f["seamldr"] = Sourced(tuple(parse_version(s) for s in seamldr), _loc(file))
    if handoff is not None:
        f["handoff"] = Sourced(_handoff(handoff), _loc(file))
    if debug is not None:
        f["debug"] = Sourced(bool(debug), _loc(file))
    if seamhash is not None:
        f["seamhash"] = Sourced(seamhash.upper().removeprefix("0X"), _loc(file))
    if features0 is not None:
        f["features0"] = Sourced(_int(features0), _loc(file))
    if status is not None:
        f["status"] = Sourced(Status(StatusKind(status[0]), status[1]), _loc(file))
    if published is not None:
        f["published"] = Sourced(dt.date.fromisoformat(published), _loc(file))
    return ReleaseBlock(
        version=v,
        source=Location(file, next(_lines), 1),
        facts=ReleaseFacts(**f),
        update_from=tuple(UpdateFrom(parse_version_set(s), _loc(file)) for s in update_from),
        deny_from=tuple(DenyFrom(parse_version_set(s), r, _loc(file)) for s, r in deny_from),
        rollback_to=tuple(RollbackTo(parse_version_set(s), _loc(file)) for s in rollback_to),
        advisories=tuple(Advisory(w, t, _loc(file)) for w, t in advisories),
    )


def document(
    blocks: Iterable[ReleaseBlock],
    *,
    file: str = "test.tdxpolicy",
    expires: str | None = None,
    deny_to: Iterable[tuple[str, str]] = (),
) -> PolicyDocument:
    meta = DocumentMeta(
        expires=None if expires is None else Sourced(dt.date.fromisoformat(expires),
                                                     Location(file, 3, 1)))
    return PolicyDocument(
        file=file,
        kind=SourceKind.DOCUMENT,
        meta=meta,
        deny_to=tuple(DenyTo(parse_version_set(s), r, _loc(file)) for s, r in deny_to),
        releases=tuple(blocks),
    )


def catalogue(*items: ReleaseBlock | PolicyDocument) -> Catalogue:
    """Merge documents; bare blocks are gathered into one document ``test.tdxpolicy``."""
    docs = [i for i in items if isinstance(i, PolicyDocument)]
    loose = [i for i in items if isinstance(i, ReleaseBlock)]
    if loose:
        docs.append(document(loose))
    return merge(docs)


# --- JSON case files ------------------------------------------------------------------------

_BLOCK_KEYS = {
    "svn", "platforms", "seamldr", "handoff", "debug", "features0", "seamhash", "status",
    "published",
    "update_from", "deny_from", "rollback_to", "advisories",
}


def _block_from_spec(spec: Mapping[str, Any], defaults: Mapping[str, Any],
                     file: str) -> ReleaseBlock:
    unknown = set(spec) - _BLOCK_KEYS - {"version"}
    if unknown:
        raise ValueError(f"unknown release keys {sorted(unknown)} in {file}")
    merged = {**defaults, **spec}
    kw: dict[str, Any] = {k: merged.get(k) for k in _BLOCK_KEYS}
    # A case that does not mention `debug` means a production-signed image (block's
    # default); `"debug": null` makes it unknown.
    kw["debug"] = merged.get("debug", False)
    # Likewise a case that does not mention `features0` has 0x0 on every release (no bit to
    # lose); `"features0": null` makes it unknown.
    kw["features0"] = merged.get("features0", 0)
    for k in ("update_from", "rollback_to"):
        kw[k] = tuple(kw[k] or ())
    for k in ("deny_from", "advisories"):
        kw[k] = tuple(tuple(x) for x in (kw[k] or ()))
    if kw["status"] is not None:
        kw["status"] = tuple(kw["status"])
    return block(merged["version"], file=file, **kw)


def catalogue_from_spec(spec: Mapping[str, Any]) -> Catalogue:
    """``{"defaults": {...}, "releases": [...]}`` (one document ``case.tdxpolicy``) or
    ``{"defaults": {...}, "documents": [{"file", "expires", "deny_to", "releases"}]}``.
    A release's facts default to ``defaults``; ``null`` makes a fact unknown."""
    global _lines
    _lines = itertools.count(1)  # deterministic source lines per spec
    defaults = spec.get("defaults", {})
    docs_spec = spec.get("documents")
    if docs_spec is None:
        docs_spec = [{"file": "case.tdxpolicy", "releases": spec.get("releases", []),
                      "deny_to": spec.get("deny_to", []), "expires": spec.get("expires")}]
    docs = []
    for d in docs_spec:
        file = d.get("file", "case.tdxpolicy")
        docs.append(document(
            [_block_from_spec(r, defaults, file) for r in d.get("releases", [])],
            file=file, expires=d.get("expires"),
            deny_to=[tuple(x) for x in d.get("deny_to", [])]))
    return merge(docs)


def facts(spec: Mapping[str, Any]) -> HostFacts:
    def ver(key: str) -> Version | None:
        return None if spec.get(key) is None else parse_version(spec[key])

    cpuid = spec.get("cpuid")
    return HostFacts(
        module_version=ver("module_version"),
        seamldr_version=ver("seamldr_version"),
        cpuid=None if cpuid is None else tuple(_int(c) for c in cpuid),
        num_remaining_updates=spec.get("num_remaining_updates"),
    )


def options(spec: Mapping[str, Any] | None = None) -> MoveOptions:
    spec = spec or {}
    known = {"allow_debug", "allow_rollback", "strict", "assume_unknown_ok", "today",
             "acknowledged"}
    if set(spec) - known:
        raise ValueError(f"unknown option keys {sorted(set(spec) - known)}")
    today = spec.get("today")
    return MoveOptions(
        allow_debug=bool(spec.get("allow_debug", False)),
        allow_rollback=bool(spec.get("allow_rollback", False)),
        strict=bool(spec.get("strict", False)),
        assume_unknown_ok=bool(spec.get("assume_unknown_ok", False)),
        today=None if today is None else dt.date.fromisoformat(today),
        acknowledged=frozenset(spec.get("acknowledged", ())),
    )


# --- Intel's published data -----------------------------------------------------------------

INTEL_PREVIEW = ("Intel: Intel TDX module 2.0 versions include pre-production Connect "
                 "interfaces and are currently not supported.")
INTEL_TD_BUILD = ("Intel: Performing TD Preserving during a TD Build operation might result in "
                  "a corrupted TD hash in the TD attestation report.")


def intel_catalogue(intel_dir: Path) -> Catalogue:
    """Intel's releases from ``release-facts.json``: ``min_module_version_for_td_preserving X``
    becomes ``update from X.*, >= X`` (policy-format.md: ``>= X`` within the series); facts
    read from the published image become svn/platforms/handoff/debug (no image: debug
    unknown), ``tdx_feature0`` becomes features0; 2.0.x is a preview
    (Intel's README) and every release with a policy carries the td-build advisory."""
    data = json.loads((intel_dir / "release-facts.json").read_text())
    blocks = []
    file = "release-facts.json"
    for r in data["releases"]:
        v = parse_version(r["version"])
        img = r.get("from_published_image") or {}
        min_v = r.get("min_module_version_for_td_preserving")
        has_policy = min_v is not None
        blocks.append(block(
            v, file=file,
            svn=None if "seam_svn" not in img else Svn(img["seam_svn"]["major"],
                                                       img["seam_svn"]["minor"]),
            platforms=img.get("cpuid_table"),
            seamldr=r.get("min_seamldr_versions"),
            handoff=None if "module_hv" not in img else (img["module_hv"], img["min_update_hv"],
                                                         img["no_downgrade"]),
            # module_type bit 31 is known only where an image was read (item 5 of issue 10).
            debug=bool(img.get("debug")) if img else None,
            features0=r.get("tdx_feature0"),
            status=("preview", INTEL_PREVIEW) if v.major == 2 and has_policy else None,
            update_from=[f"{v.major}.{v.minor}.*, >= {min_v}"] if has_policy else [],
            advisories=[("td-build", INTEL_TD_BUILD)] if has_policy else [],
        ))
    return catalogue(document(blocks, file=file))


# --- generated catalogues -------------------------------------------------------------------


def generated_catalogue(
    n: int,
    *,
    seed: int = 0,
    series: Sequence[tuple[int, int]] = ((1, 5),),
    window: tuple[int, int] = (1, 8),
    platforms: Sequence[Sequence[int]] = ((0x806F8, 0xC06F0, 0xA06F0),),
    seamldr: Sequence[Sequence[str]] = (("1.5.00", "2.0.00"),),
    p_no_policy: float = 0.0,
    p_deny: float = 0.0,
    p_rollback: float = 0.0,
    p_svn_step: float = 0.3,
    p_unknown_svn: float = 0.0,
    features0: Sequence[int | None] = (0x40,),
) -> Catalogue:
    """``n`` releases spread over ``series``. Release i of a series admits updates from the
    ``window``-random number of releases before it (``update from X.Y.*, >= that one``), so
    long moves need intermediate hops, like Intel's "1.5.x may be updated to 1.5.y but not to
    1.5.y+1". SVN minor rises by one with probability ``p_svn_step`` per release; each
    release's TDX_FEATURES0 is drawn from ``features0`` (None: unknown)."""
    rnd = random.Random(seed)
    per = [n // len(series) + (1 if k < n % len(series) else 0) for k in range(len(series))]
    blocks = []
    for (major, minor), count in zip(series, per):
        svn_minor = 1
        versions = [Version(major, minor, u + 1) for u in range(count)]
        for i, v in enumerate(versions):
            if i and rnd.random() < p_svn_step:
                svn_minor += 1
            back = rnd.randint(*window)
            lo = versions[max(0, i - back)]
            rules = [] if rnd.random() < p_no_policy else [f"{major}.{minor}.*, >= {lo.text}"]
            deny = []
            if i > 2 and rnd.random() < p_deny:
                deny = [(versions[rnd.randrange(0, i)].text, "generated deny")]
            rollback = []
            if i > 1 and rnd.random() < p_rollback:
                rollback = [f">= {versions[rnd.randrange(0, i)].text}"]
            blocks.append(block(
                v, file=f"gen-{major}.{minor}.tdxpolicy",
                svn=None if rnd.random() < p_unknown_svn else Svn(major, svn_minor),
                platforms=rnd.choice(platforms),
                seamldr=rnd.choice(seamldr),
                handoff=(0, 0),
                features0=rnd.choice(features0),
                update_from=rules, deny_from=deny, rollback_to=rollback,
            ))
    return catalogue(*blocks)


def fleet_validator(name: str = "fleet") -> Any:
    """A JSON Schema validator for one of the fleet contracts (``fleet``, ``fleet-row``,
    ``fleet-summary``), with the schemas they refer to registered."""
    import jsonschema
    from referencing import Registry, Resource

    from tdxpolicy.resources import schema_path

    resources = []
    for n in ("verdict", "select", "fleet", "fleet-row", "fleet-summary"):
        doc = json.loads(schema_path(f"{n}.schema.json").read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    schema = json.loads(schema_path(f"{name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=Registry().with_resources(resources))


def assert_search_agrees_with_decide(cat: Catalogue, host: HostFacts,
                                     opts: MoveOptions) -> int:
    """The path search's provider (engine.checks.HopRules, through plan._Search) against
    :func:`tdxpolicy.engine.decide` on every ordered pair of releases of each series, from a
    host that runs the first of the pair; returns how many pairs were compared."""
    from tdxpolicy.engine import decide
    from tdxpolicy.engine.checks import series_keys
    from tdxpolicy.engine.plan import _Search

    checked = 0
    for series in sorted({r.version.series for r in cat.releases}):
        s = series_keys(cat, series)
        search = _Search(cat, host, opts, s)
        for u, ru in enumerate(s.releases):
            state = HostFacts(ru.version, host.seamldr_version, host.cpuid, 3)
            for v, rv in enumerate(s.releases):
                if u == v:
                    continue
                want = decide(cat, state, rv.version, opts).allowed
                got = search.viable(v) and search.edge(u, v)
                assert got == want, (ru.version, rv.version, host, opts)
                checked += 1
    return checked

