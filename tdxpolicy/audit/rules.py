"""The rules of ``audit`` and ``lint``: pure functions from documents and images to findings,
and :data:`RULES`, the one table of them.

The audit works on :class:`~tdxpolicy.model.PolicyDocument` values *before* merging, because
its job is to compare sources that may disagree (merging refuses them). Every rule is a
function ``rule(ctx) -> list[Finding]`` over an :class:`AuditContext`; none reads files, the
clock or the host (the CLI loads, and passes "today"). Each rule cites the domain rule it rests
on; its row in :data:`RULES` holds the descriptions shown to users, its severity, its scope
and the function. ``lint`` is the audit restricted to the rules of scope ``document``
(:data:`DOCUMENT_RULE_IDS`).
"""

from __future__ import annotations

import bisect
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .._value import value
from ..catalogue import fact_key, show_fact
from ..model import (
    FACT_NAMES,
    Location,
    PolicyDocument,
    ReleaseBlock,
    SourceKind,
    Sourced,
    Svn,
)
from ..version import Op, Version
from .findings import Finding, Scope, Severity
from .images import AuditImage, name_version
from .intervals import Span, rollback_domain, span_of, update_domain

__all__ = ["AuditContext", "RULES", "RULE_IDS", "DOCUMENT_RULE_IDS", "RuleFn", "rule_info",
           "KNOWN_SEAMLDR_SERIES"]


# --- shared views of the inputs --------------------------------------------------------------


@value
class Decl:
    """One block of one document declaring a release."""

    doc: PolicyDocument
    block: ReleaseBlock


@dataclass
class AuditContext:
    """The inputs of one audit and indexes over them (built once, read by every rule)."""

    documents: Sequence[PolicyDocument]
    images: Sequence[AuditImage] = ()
    today: _dt.date = _dt.date(1970, 1, 1)
    decls: dict[Version, list[Decl]] = field(default_factory=dict)
    # normalised measurement (upper hex, no 0x) -> versions declaring it as mrseam or seamhash
    by_hash: dict[str, set[Version]] = field(default_factory=dict)
    known: list[Version] = field(default_factory=list)  # every declared version, oldest first
    _series: dict[tuple[int, int], list[Version]] = field(default_factory=dict)
    _admitted: dict[Version, Span] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for doc in self.documents:
            for b in doc.releases:
                self.decls.setdefault(b.version, []).append(Decl(doc, b))
                for name in ("mrseam", "seamhash"):
                    s = getattr(b.facts, name)
                    if s is not None:
                        self.by_hash.setdefault(_hash(s.value), set()).add(b.version)
        self.known = sorted(self.decls, key=lambda v: v.key)
        for v in self.known:
            self._series.setdefault(v.series, []).append(v)

    def series(self, s: tuple[int, int]) -> list[Version]:
        """The known versions of series ``s``, oldest first."""
        return self._series.get(s, [])

    def older(self, v: Version) -> list[Version]:
        """Known versions of ``v``'s series older than ``v``, oldest first."""
        ser = self.series(v.series)
        return ser[: bisect.bisect_left([r.update for r in ser], v.update)] if ser else []

    def facts(self, v: Version, name: str) -> list[Sourced[Any]]:
        out: list[Sourced[Any]] = []
        for d in self.decls.get(v, ()):
            f = getattr(d.block.facts, name)
            if f is not None:
                out.append(f)
        return out

    def first_fact(self, v: Version, name: str) -> Sourced[Any] | None:
        f = self.facts(v, name)
        return f[0] if f else None

    def admitted(self, v: Version) -> Span:
        """Running versions whose runtime update into ``v`` the merged policy permits:
        the union of every `update from`, minus every `deny from`, within the update domain."""
        hit = self._admitted.get(v)
        if hit is not None:
            return hit
        allow, deny = Span(), Span()
        for d in self.decls.get(v, ()):
            for u in d.block.update_from:
                allow = allow | span_of(u.versions)
            for x in d.block.deny_from:
                deny = deny | span_of(x.versions)
        out = (allow & update_domain(v)) - deny
        self._admitted[v] = out
        return out


RuleFn = Callable[[AuditContext], list[Finding]]


def _hash(value: str) -> str:
    return str(value).strip().upper().removeprefix("0X")


def _finding(rule: str, message: str, locations: Iterable[Location], subject: str,
             keys: Iterable[str] = (), severity: Severity | None = None) -> Finding:
    locs: list[Location] = []
    for loc in locations:
        if loc not in locs:
            locs.append(loc)
    return Finding(
        rule=rule,
        severity=severity or rule_info(rule).severity,
        message=message,
        locations=tuple(locs),
        subject=subject,
        keys=tuple(keys),
    )


def _hex(n: int) -> str:
    return f"{n:#X}".replace("0X", "0x")


def _rules_text(rules: Iterable[Any], word: str) -> str:
    texts: list[str] = []
    for r in rules:
        t = f"'{word} {r.versions}'"
        if t not in texts:
            texts.append(t)
    return " or ".join(texts)


def _describe(span: Span, known: Sequence[Version]) -> str:
    """Words for a set of running versions, naming the known ones it holds."""
    hits = [v.text for v in known if v in span]
    if not span:
        return "no version"
    if hits:
        return "known versions " + ", ".join(hits)
    return "no known version"


# --- rules -----------------------------------------------------------------------------------


def no_update_policy(ctx: AuditContext) -> list[Finding]:
    """A release with an MRSEAM but no `update from` anywhere cannot be updated into at runtime
    (policy-format.md, 'Meaning of a missing fact'; docs/domain.md#known-gaps)."""
    out: list[Finding] = []
    for v in ctx.known:
        mrseams = ctx.facts(v, "mrseam")
        if not mrseams:
            continue
        if any(d.block.update_from for d in ctx.decls[v]):
            continue
        out.append(_finding(
            "no-update-policy",
            f"release {v} has a published MRSEAM but no source gives it an update policy "
            f"(no 'update from' rule): no running module may be updated into it at runtime; "
            f"add Intel's policy for it when published, or load it at boot",
            [m.source for m in mrseams] + [d.block.source for d in ctx.decls[v]],
            v.canonical,
        ))
    return out


def no_published_mrseam(ctx: AuditContext) -> list[Finding]:
    """A release that can be installed (update policy or image) but whose measurement no
    source publishes (docs/domain.md#sigstruct: seamhash is the published MRSEAM; section 5)."""
    images_of: dict[Version, list[AuditImage]] = {}
    for img in ctx.images:
        # Only images identified by their hash: an image whose hash no source knows is
        # `image-mismatch`, whatever its file name claims.
        if img.parsed and img.facts.seamhash is not None:
            for v in ctx.by_hash.get(_hash(img.facts.seamhash.value), ()):
                images_of.setdefault(v, []).append(img)
    out: list[Finding] = []
    for v in sorted(set(ctx.known) | set(images_of)):
        if ctx.facts(v, "mrseam"):
            continue
        rules = [u for d in ctx.decls.get(v, ()) for u in d.block.update_from]
        hashes = ctx.facts(v, "seamhash")
        imgs = images_of.get(v, [])
        if not (rules or hashes or imgs):
            continue
        what = []
        if rules:
            what.append("an update policy")
        if imgs:
            what.append("an image")
        elif hashes:
            what.append("an image seamhash")
        locs = [u.source for u in rules] + [h.source for h in hashes]
        locs += [i.facts.seamhash.source if i.facts.seamhash else Location(i.path) for i in imgs]
        out.append(_finding(
            "no-published-mrseam",
            f"release {v} has {' and '.join(what)} but no published MRSEAM: its module "
            f"measurement cannot be checked against Intel's release table, and attestation "
            f"verifiers will not recognise it; check the seamhash against a trusted source",
            locs,
            v.canonical,
        ))
    return out


_COMPARED_FACTS = tuple(n for n in FACT_NAMES if n not in ("mrseam", "seamhash"))


def _is_description(doc: PolicyDocument, block: ReleaseBlock) -> bool:
    """Whether a block describes the release (and so its update rules restate the release's
    policy) rather than adding site rules to it: Intel's sources always describe; a policy
    document's block describes when it declares at least one fact (policy-format.md: an
    operator's document may open a release with only rules, and rules accumulate)."""
    return doc.kind is not SourceKind.DOCUMENT or bool(block.facts.items())


def source_disagreement(ctx: AuditContext) -> list[Finding]:
    """The same fact with different values in different places (policy-format.md, 'Merging'),
    MRSEAM vs image seamhash (docs/domain.md#image-formats), and sources whose update rules admit
    different running versions (docs/domain.md#update-rule)."""
    out: list[Finding] = []
    for v in ctx.known:
        for name in _COMPARED_FACTS + ("measurement",):
            if name == "measurement":
                decls = ctx.facts(v, "mrseam") + ctx.facts(v, "seamhash")
                key: Callable[[Any], Any] = _hash
            else:
                decls = ctx.facts(v, name)
                key = (lambda n: lambda val: fact_key(n, val))(name)
            groups: dict[Any, list[Sourced[Any]]] = {}
            for d in decls:
                groups.setdefault(key(d.value), []).append(d)
            if len(groups) < 2:
                continue
            label = "MRSEAM/seamhash" if name == "measurement" else name
            shown = "; ".join(
                f"{show_fact(name, g[0].value)} at " + ", ".join(str(x.source) for x in g)
                for g in groups.values()
            )
            values = sorted(show_fact(name, g[0].value) for g in groups.values())
            out.append(_finding(
                "source-disagreement",
                f"release {v}: sources disagree on {label}: {shown}",
                [d.source for d in decls],
                v.canonical,
                (name, *values),
            ))
        out.extend(_update_rule_disagreement(ctx, v))
    return out


def _update_rule_disagreement(ctx: AuditContext, v: Version) -> list[Finding]:
    dom = update_domain(v)
    per_source: dict[str, tuple[Span, list[Any]]] = {}
    for d in ctx.decls[v]:
        if not d.block.update_from or not _is_description(d.doc, d.block):
            continue
        span, rules = per_source.get(d.doc.file, (Span(), []))
        for u in d.block.update_from:
            span = span | (span_of(u.versions) & dom)
            rules.append(u)
        per_source[d.doc.file] = (span, rules)
    if len(per_source) < 2:
        return []
    distinct: dict[tuple[tuple[int, int], ...], list[str]] = {}
    for file, (span, _rules) in per_source.items():
        distinct.setdefault(span.parts, []).append(file)
    if len(distinct) < 2:
        return []
    series = ctx.series(v.series)
    items = list(per_source.items())
    a_file, (a_span, _a) = items[0]
    b_file, (b_span, _b) = next(it for it in items[1:] if it[1][0].parts != a_span.parts)
    diff = (a_span - b_span) | (b_span - a_span)
    example = next((w for w in series if w in diff), None) or diff.first()
    assert example is not None
    side = a_file if example in a_span else b_file
    other = b_file if side == a_file else a_file
    shown = "; ".join(
        f"{_rules_text(rules, 'update from')} at {file} ({_describe(span, series)})"
        for file, (span, rules) in per_source.items()
    )
    return [_finding(
        "source-disagreement",
        f"release {v}: sources disagree on which running versions may update into it: "
        f"{shown}; e.g. {example} is admitted by {side} but not by {other}",
        [r.source for _f, (_s, rules) in per_source.items() for r in rules],
        v.canonical,
        ("update-from", *sorted(str(sorted(p)) for p in distinct)),
    )]


def svn_decrease(ctx: AuditContext) -> list[Finding]:
    """Inside a series a newer release must not have a lower SVN, nor another major SVN, than
    an older one: P-SEAMLDR refuses T.minor < R.minor (EBADSIG) and T.major != R.major
    (EUNSUPPORTED) after shutdown (docs/domain.md#svn)."""
    out: list[Finding] = []
    for s in sorted({v.series for v in ctx.known}):
        best: tuple[Version, Sourced[Svn]] | None = None  # older release with the highest SVN
        for v in ctx.series(s):
            cur = ctx.first_fact(v, "svn")
            if cur is None:
                continue
            if best is not None:
                ov, osvn = best
                a, b = osvn.value, cur.value
                if b.major != a.major or b.minor < a.minor:
                    why = (
                        f"major SVN changes from {a.major} to {b.major} (EUNSUPPORTED)"
                        if b.major != a.major
                        else f"SVN {b} is lower than {a} (EBADSIG)"
                    )
                    out.append(_finding(
                        "svn-decrease",
                        f"release {v} has SVN {b} but the older {ov} has {a}: {why}; "
                        f"P-SEAMLDR would refuse the update {ov} -> {v} after the running "
                        f"module has shut down, killing every TD",
                        [cur.source, osvn.source],
                        v.canonical,
                        (ov.canonical, str(a), str(b)),
                    ))
            if best is None or cur.value > best[1].value:
                best = (v, cur)
    return out


def _bits(n: int) -> list[int]:
    return [i for i in range(n.bit_length()) if n >> i & 1]


def _or_table(values: list[int]) -> list[list[int]]:
    """Sparse table for O(1) bitwise-OR over any index range (OR is idempotent)."""
    table = [values[:]]
    k = 1
    while (1 << k) <= len(values):
        prev, half = table[-1], 1 << (k - 1)
        table.append([prev[i] | prev[i + half] for i in range(len(values) - (1 << k) + 1)])
        k += 1
    return table


def _or_range(table: list[list[int]], a: int, b: int) -> int:
    k = (b - a + 1).bit_length() - 1
    return table[k][a] | table[k][b - (1 << k) + 1]


def features_lost(ctx: AuditContext) -> list[Finding]:
    """TDX_FEATURES0 bits set in an older release and clear in a newer one that it may be
    updated into: consecutive releases of a series, and every pair the update policy admits
    (docs/domain.md#known-gaps: bits disappear on some 2.0.x upgrades).

    Output-sensitive: the OR of the features of every admitted older release (a range query on
    a sparse table) tells whether a release loses anything before the pairs are enumerated."""
    out: list[Finding] = []
    for s in sorted({v.series for v in ctx.known}):
        with_f = [(v, f) for v in ctx.series(s) if (f := ctx.first_fact(v, "features0"))]
        if len(with_f) < 2:
            continue
        updates = [v.update for v, _f in with_f]
        table = _or_table([f.value for _v, f in with_f])
        pairs: set[tuple[int, int]] = {(i, i + 1) for i in range(len(with_f) - 1)}
        for j, (t, ft) in enumerate(with_f):
            for lo, hi in ctx.admitted(t).intervals():
                if lo.series != s:
                    continue
                a = bisect.bisect_left(updates, lo.update)
                b = min(bisect.bisect_right(updates, hi.update), j) - 1
                if a > b or not (_or_range(table, a, b) & ~ft.value):
                    continue
                pairs.update((i, j) for i in range(a, b + 1))
        for i, j in sorted(pairs):
            (r, fr), (t, ft) = with_f[i], with_f[j]
            lost = fr.value & ~ft.value
            if not lost:
                continue
            bits = _bits(lost)
            out.append(_finding(
                "features-lost",
                f"upgrade {r} -> {t} loses TDX_FEATURES0 bit{'s' if len(bits) > 1 else ''} "
                f"{', '.join(map(str, bits))} ({_hex(lost)}): set in {r} ({_hex(fr.value)}), "
                f"clear in {t} ({_hex(ft.value)})",
                [ft.source, fr.source],
                t.canonical,
                (r.canonical, _hex(lost)),
            ))
    return out


def _rule_sites(ctx: AuditContext) -> Iterable[tuple[str, Any, Version | None]]:
    """Every rule with its statement word and the release it belongs to (None: `deny to`)."""
    for doc in ctx.documents:
        for dt in doc.deny_to:
            yield "deny to", dt, None
        for b in doc.releases:
            for u in b.update_from:
                yield "update from", u, b.version
            for x in b.deny_from:
                yield "deny from", x, b.version
            for rb in b.rollback_to:
                yield "rollback to", rb, b.version


def _neighbours(known: Sequence[Version], w: Version) -> str:
    """The known releases of ``w``'s series just below and above it (``known`` sorted oldest
    first: the series' members are adjacent there, so two lookups by bisection suffice)."""
    i = bisect.bisect_left(known, w)
    near = [k.text for k in (known[i - 1] if i else None, known[i] if i < len(known) else None)
            if k is not None and k != w and k.series == w.series]
    if not near:
        return f"no release of series {w.series_text} is known"
    return "nearest known: " + " and ".join(near)


#: A rule longer than this is quoted shortened in messages: a finding per clause must not
#: repeat an 8,000-clause rule 8,000 times (quadratic output).
_RULE_QUOTE = 80


def _quoted_rule(text: str, clauses: int) -> str:
    """``text`` (a version set as written), or its first clauses and how many there are."""
    if len(text) <= _RULE_QUOTE:
        return text
    kept: list[str] = []
    used = 0
    for clause in text.split(", "):
        if kept and used + len(clause) > _RULE_QUOTE - 24:
            break
        kept.append(clause)
        used += len(clause) + 2
    return f"{', '.join(kept)}, ... ({clauses} clauses)"


def _rule_key(text: str) -> str:
    """The rule as a fingerprint key: its text, or the text's SHA-256 when it is long (the key
    is hashed again for every finding of the rule)."""
    if len(text) <= 200:
        return text
    import hashlib

    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def unknown_version_ref(ctx: AuditContext) -> list[Finding]:
    """Clauses naming versions no source declares (docs/domain.md#unknown-running-version: a version
    the
    catalogue does not know cannot be checked; usually a typo)."""
    known = set(ctx.known)
    ordered = ctx.known
    out: list[Finding] = []
    for word, rule, target in _rule_sites(ctx):
        clauses = rule.versions.clauses
        text = str(rule.versions)
        shown, key = _quoted_rule(text, len(clauses)), _rule_key(text)
        where = f" of release {target}" if target is not None else ""
        for c in clauses:
            if c.op in (Op.ANY, Op.SERIES) or c.version is None or c.version in known:
                continue
            out.append(_finding(
                "unknown-version-ref",
                f"'{word} {shown}'{where} refers to {c.version}, which no source "
                f"knows as a release ({_neighbours(ordered, c.version)})",
                [rule.source],
                target.canonical if target is not None else "",
                (word, key, c.version.canonical),
            ))
    return out


# The usual cause is a list meant as alternatives (`update from 1.5.01, 1.5.05`); the hint was
# lint's (`verset-empty`) before lint became the audit's document rules.
_CONTRADICT = ("its clauses contradict each other (clauses joined by ',' must all hold; "
               "write one statement per alternative)")


def never_matches(ctx: AuditContext) -> list[Finding]:
    """Rules that admit nothing they could apply to (docs/domain.md#same-series: updates
    and rollbacks stay inside a series; policy-format.md: `update from` governs upgrades and
    reinstalls, `rollback to` older versions, `deny from` overrides `update from`)."""
    out: list[Finding] = []
    for word, rule, target in _rule_sites(ctx):
        span = span_of(rule.versions)
        subject = target.canonical if target is not None else ""
        keys = (word, str(rule.versions))
        if target is None:
            if not span:
                out.append(_finding(
                    "never-matches",
                    f"'{word} {rule.versions}' can never match: {_CONTRADICT}",
                    [rule.source], subject, keys,
                ))
            continue
        if word == "rollback to":
            dom, what = rollback_domain(target), (
                f"a rollback from {target} goes to an older {target.series_text}.x version")
        else:
            dom, what = update_domain(target), (
                f"a runtime update into {target} comes from a running "
                f"{target.series_text}.x version not newer than {target}")
        if span & dom:
            continue
        why = (_CONTRADICT if not span
               else f"{what}, and none satisfies '{rule.versions}'")
        out.append(_finding(
            "never-matches",
            f"'{word} {rule.versions}' of release {target} can never match: {why}",
            [rule.source], subject, keys,
        ))
    # An `update from` whose every admitted version is denied never takes effect.
    for v in ctx.known:
        dom = update_domain(v)
        denies = [x for d in ctx.decls[v] for x in d.block.deny_from]
        if not denies:
            continue
        denied = Span()
        for x in denies:
            denied = denied | span_of(x.versions)
        for d in ctx.decls[v]:
            for u in d.block.update_from:
                adm = span_of(u.versions) & dom
                if adm and adm.issubset(denied):
                    hit = [x for x in denies if span_of(x.versions) & adm]
                    out.append(_finding(
                        "never-matches",
                        f"'update from {u.versions}' of release {v} never takes effect: every "
                        f"version it admits is denied by "
                        + ", ".join(f"'deny from {x.versions}' at {x.source}" for x in hit),
                        [u.source] + [x.source for x in hit],
                        v.canonical,
                        ("update from", str(u.versions), "denied"),
                    ))
    return out


def unreachable_release(ctx: AuditContext) -> list[Finding]:
    """A release with an update policy that admits no older known release of its series
    (after `deny from` and the SVN rule), although older ones exist: hosts on them need a
    reboot (docs/domain.md#update-rule and #svn). Releases with no policy at all are
    `no-update-policy`; rules that admit nothing are `never-matches`; withdrawn releases and
    site `deny to` are unreachable on purpose and not reported."""
    out: list[Finding] = []
    site_denied = Span()
    for doc in ctx.documents:
        for dt in doc.deny_to:
            site_denied = site_denied | span_of(dt.versions)
    for v in ctx.known:
        rules = [u for d in ctx.decls[v] for u in d.block.update_from]
        if not rules or v in site_denied:
            continue
        status = ctx.first_fact(v, "status")
        if status is not None and status.value.kind.value == "withdrawn":
            continue
        adm = ctx.admitted(v)
        if not adm:
            continue
        older = ctx.older(v)
        if not older:
            continue  # first release of its series: installed at boot
        tsvn = ctx.first_fact(v, "svn")

        def svn_ok(r: Version) -> bool:
            rsvn = ctx.first_fact(r, "svn")
            if rsvn is None or tsvn is None:
                return True  # unknown is not proof of unreachability
            return bool(rsvn.value.major == tsvn.value.major
                        and tsvn.value.minor >= rsvn.value.minor)

        if any(r in adm and svn_ok(r) for r in older):
            continue
        blocked_by_svn = [r for r in older if r in adm]
        if blocked_by_svn and tsvn is not None:
            shown = ", ".join(f"{r} (SVN {ctx.first_fact(r, 'svn').value})"  # type: ignore[union-attr]
                              for r in blocked_by_svn)
            reason = (f"its policy admits {shown}, but P-SEAMLDR refuses an update to the "
                      f"lower or other-major SVN {tsvn.value} of {v}")
        else:
            reason = (f"its update policy ({_rules_text(rules, 'update from')}) admits none "
                      f"of the older releases {', '.join(r.text for r in older)}")
        out.append(_finding(
            "unreachable-release",
            f"no older release can update into {v} at runtime: {reason}; hosts on older "
            f"releases need a reboot to reach it",
            [u.source for u in rules],
            v.canonical,
            (",".join(r.canonical for r in older),),
        ))
    return out


def stale_document(ctx: AuditContext) -> list[Finding]:
    """A document past its `expires` date (policy-format.md, Document statements)."""
    out: list[Finding] = []
    for doc in ctx.documents:
        exp = doc.meta.expires
        if exp is None or exp.value >= ctx.today:
            continue
        out.append(_finding(
            "stale-document",
            f"document expired on {exp.value.isoformat()} (today is {ctx.today.isoformat()}): "
            f"verdicts that use it warn (policy-fresh) and fail under --strict; review it and "
            f"issue it again with a new expires date",
            [exp.source],
            doc.file,
            (exp.value.isoformat(),),
        ))
    return out


def image_invalid(ctx: AuditContext) -> list[Finding]:
    """Images failing a kernel or P-SEAMLDR check (docs/domain.md#image-formats)."""
    out: list[Finding] = []
    for img in ctx.images:
        for f in img.failures:
            out.append(_finding(
                "image-invalid",
                f"image {img.path} does not verify ({f.code}): {f.message}",
                [f.location],
                img.path,
                (f.code,),
            ))
    return out


_IMAGE_FACTS = ("svn", "platforms", "handoff", "debug")


def image_mismatch(ctx: AuditContext) -> list[Finding]:
    """Image identity and facts against the sources (docs/domain.md#sigstruct: seamhash is the
    MRSEAM; docs/cli.md#commands: a mismatch denies)."""
    out: list[Finding] = []
    for img in ctx.images:
        if not img.parsed:
            continue
        claimed = name_version(img.path)
        sh = img.facts.seamhash
        by_hash = sorted(ctx.by_hash.get(_hash(sh.value), ())) if sh is not None else []
        if sh is not None and not by_hash:
            extra, related = "", []
            if claimed is not None and claimed in ctx.decls:
                known_h = ctx.facts(claimed, "mrseam") + ctx.facts(claimed, "seamhash")
                if known_h:
                    extra = (f"; its file name says {claimed}, whose MRSEAM is "
                             f"{show_fact('mrseam', known_h[0].value)}")
                    related = [h.source for h in known_h]
            out.append(_finding(
                "image-mismatch",
                f"image {img.path}: seamhash {show_fact('seamhash', sh.value)} is the MRSEAM "
                f"of no known release{extra}",
                [sh.source] + related,
                img.path,
                ("hash-unknown", _hash(sh.value)),
            ))
            continue
        if sh is not None and claimed is not None and claimed not in by_hash:
            named = ", ".join(v.text for v in by_hash)
            out.append(_finding(
                "image-mismatch",
                f"image {img.path}: the file name says {claimed} but its seamhash is the "
                f"MRSEAM of {named}; identify images by hash, not by name",
                [sh.source] + [h.source for v in by_hash
                               for h in ctx.facts(v, "mrseam") + ctx.facts(v, "seamhash")],
                img.path,
                ("name", claimed.canonical, named),
            ))
        for v in by_hash:
            for name in _IMAGE_FACTS:
                mine = getattr(img.facts, name)
                if mine is None:
                    continue
                theirs = [d for d in ctx.facts(v, name)
                          if fact_key(name, d.value) != fact_key(name, mine.value)]
                if not theirs:
                    continue
                shown = ", ".join(f"{show_fact(name, d.value)} at {d.source}" for d in theirs)
                out.append(_finding(
                    "image-mismatch",
                    f"image {img.path} (release {v} by its seamhash) has {name} "
                    f"{show_fact(name, mine.value)}, but the sources say {shown}",
                    [mine.source] + [d.source for d in theirs],
                    img.path,
                    ("fact", v.canonical, name, show_fact(name, mine.value)),
                ))
    return out


#: P-SEAMLDR lines Intel has published (mapping_file.json ``min_seamldr_versions``).
KNOWN_SEAMLDR_SERIES = ((1, 5), (2, 0))


def no_expiry(ctx: AuditContext) -> list[Finding]:
    """A policy document with release blocks and no `expires` date never goes stale
    (policy-format.md, Document statements: `expires DATE`). Intel's sources carry no
    ``format`` statement and are not policy documents in this sense."""
    out: list[Finding] = []
    for doc in ctx.documents:
        meta = doc.meta
        if meta.expires is None and doc.releases and meta.format is not None:
            out.append(_finding(
                "no-expiry",
                "document has no 'expires' date, so it never goes stale; add 'expires DATE'",
                [meta.format.source],
                doc.file,
            ))
    return out


def seamldr_unknown_line(ctx: AuditContext) -> list[Finding]:
    """A `seamldr` minimum on a P-SEAMLDR line Intel has not published can never be met by a
    real loader (docs/domain.md#seamldr: the check compares within the loader's line)."""
    known = ", ".join(f"{a}.{b}" for a, b in KNOWN_SEAMLDR_SERIES)
    out: list[Finding] = []
    for doc in ctx.documents:
        for b in doc.releases:
            fact = b.facts.seamldr
            if fact is None:
                continue
            for line in fact.value:
                if line.series in KNOWN_SEAMLDR_SERIES:
                    continue
                out.append(_finding(
                    "seamldr-unknown-line",
                    f"release {b.version}: seamldr {line} is not a known P-SEAMLDR line "
                    f"(known: {known})",
                    [fact.source],
                    b.version.canonical,
                    (str(line),),
                ))
    return out


def platforms_duplicate(ctx: AuditContext) -> list[Finding]:
    """A platform listed twice in one `platforms` fact: harmless to the CPU check
    (docs/domain.md#cpu compares sets) but usually a typo for another platform."""
    out: list[Finding] = []
    for doc in ctx.documents:
        for b in doc.releases:
            fact = b.facts.platforms
            if fact is not None and len(set(fact.value)) != len(fact.value):
                out.append(_finding(
                    "platforms-duplicate",
                    f"release {b.version}: a platform is listed twice",
                    [fact.source],
                    b.version.canonical,
                ))
    return out


# --- the rule table ---------------------------------------------------------------------------
#
# Order is the SARIF ``ruleIndex``: new rules go at the end, so existing indexes stay stable.

@value
class RuleInfo:
    """One rule: its description (also the SARIF ``reportingDescriptor``) and its check.

    ``security_severity`` is GitHub code scanning's score for the rule (a decimal string from
    0.1 to 10.0: low below 4, medium below 7, high below 9, critical from 9); docs/audit.md
    gives the reason for each. ``check`` is the pure function that finds it.
    """

    id: str
    name: str  # CamelCase, SARIF `name`
    severity: Severity
    scope: Scope
    security_severity: str
    short: str
    full: str
    help: str
    basis: str  # the docs/domain.md / policy-format.md rule it rests on
    check: Callable[[AuditContext], list[Finding]]


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        "no-update-policy",
        "NoUpdatePolicy",
        Severity.WARNING,
        Scope.CATALOGUE,
        "2.0",
        "Release has a published MRSEAM but no update policy.",
        "Intel published the release (its MRSEAM is in the release table) but no source gives "
        "it an `update from` rule, so no running module may be updated into it at runtime.",
        "Add the release's update policy (Intel's mapping_file.json entry, or an `update from` "
        "line in a policy document) once Intel publishes it; until then the release can only "
        "be loaded at boot.",
        "policy-format.md, 'Meaning of a missing fact': a release with no `update from` rule "
        "cannot be updated into at runtime; docs/domain.md#known-gaps.",
        check=no_update_policy,
    ),
    RuleInfo(
        "no-published-mrseam",
        "NoPublishedMrseam",
        Severity.WARNING,
        Scope.CATALOGUE,
        "5.0",
        "Release has an image or update policy but no published MRSEAM.",
        "A release that can be installed (an update policy or an image exists) has no MRSEAM "
        "in any source, so the measurement of the module cannot be checked against Intel's "
        "published table and remote attestation verifiers will not recognise it.",
        "Check the image's seamhash against a trusted source before using it; add the MRSEAM "
        "to a policy document (`mrseam 0x...`) once Intel publishes it.",
        "docs/domain.md#sigstruct: seamhash = SHA-384 of the module pages = the published "
        "MRSEAM; #known-gaps: 2.0.05 has an image and a mapping entry but no MRSEAM row.",
        check=no_published_mrseam,
    ),
    RuleInfo(
        "source-disagreement",
        "SourceDisagreement",
        Severity.ERROR,
        Scope.DOCUMENT,
        "7.0",
        "Sources state different values for the same fact of a release.",
        "Two sources (Intel's mapping JSON, Intel's README table, the MRSEAM table, policy "
        "documents, images) give a release different facts (SVN, platforms, P-SEAMLDR lines, "
        "MRSEAM/seamhash, TDX_FEATURES0, handoff, ...) or admit different running versions in "
        "their update rules. Merging refuses such documents; the audit names every place.",
        "Find out which source is right and correct or remove the other declaration.",
        "policy-format.md, 'Merging': a fact declared in several places must have the same "
        "value everywhere; docs/domain.md#update-rule.",
        check=source_disagreement,
    ),
    RuleInfo(
        "svn-decrease",
        "SvnDecrease",
        Severity.ERROR,
        Scope.CATALOGUE,
        "8.0",
        "SEAM SVN decreases (or changes major) as the version increases inside a series.",
        "P-SEAMLDR refuses an update whose SVN is lower than the running module's (EBADSIG) or "
        "whose major SVN differs (EUNSUPPORTED), after the running module has shut down, which "
        "kills every TD. A newer release with a lower SVN makes the upgrade from the older one "
        "destructive.",
        "Check the SVN declarations; never update from the older release into the newer one "
        "at runtime.",
        "docs/domain.md#svn: T.major == R.major else EUNSUPPORTED; T.minor >= R.minor "
        "else EBADSIG.",
        check=svn_decrease,
    ),
    RuleInfo(
        "features-lost",
        "FeaturesLost",
        Severity.WARNING,
        Scope.CATALOGUE,
        "4.0",
        "TDX_FEATURES0 bits are lost on an upgrade inside a series.",
        "A runtime upgrade from the older release to the newer one removes TDX_FEATURES0 bits "
        "that the older release reports; software that detected a feature at boot may rely on "
        "it after the update.",
        "Check with the hypervisor and guest owners that no feature named here is in use "
        "before updating; prefer a path that keeps the bits.",
        "docs/domain.md#known-gaps: `tdx_feature0` bits disappear on some 2.0.x upgrades; "
        "#linux-interface: TDX_FEATURES0 bit 1 gates the runtime-update interface itself.",
        check=features_lost,
    ),
    RuleInfo(
        "unknown-version-ref",
        "UnknownVersionRef",
        Severity.WARNING,
        Scope.CATALOGUE,
        "3.0",
        "A rule refers to a version that no source knows.",
        "An `update from`, `deny from`, `rollback to` or `deny to` clause names a version that "
        "no source declares as a release: often a typo, or a bound that does not mean what "
        "was intended.",
        "Correct the version, or add the release to a policy document if it exists.",
        "docs/domain.md#unknown-running-version: a running or target version that the "
        "catalogue does not know cannot be checked (fail closed).",
        check=unknown_version_ref,
    ),
    RuleInfo(
        "never-matches",
        "NeverMatches",
        Severity.WARNING,
        Scope.DOCUMENT,
        "3.0",
        "A rule can never match.",
        "The rule's clauses admit no version it could apply to: `update from` and `deny from` "
        "apply to running versions of the same series not newer than the release, `rollback "
        "to` to older versions of the series; clauses may contradict each other; or every "
        "version an `update from` admits is denied by `deny from`.",
        "Fix the version set; delete the rule if it is not needed.",
        "docs/domain.md#same-series and #update-rule; policy-format.md, Rules (`deny from` "
        "overrides every `update from`).",
        check=never_matches,
    ),
    RuleInfo(
        "unreachable-release",
        "UnreachableRelease",
        Severity.WARNING,
        Scope.CATALOGUE,
        "2.0",
        "No older release can ever update into this release at runtime.",
        "The release's update policy (and its SVN) admits no other known release of its series "
        "although older ones exist: hosts running them need a reboot to reach it.",
        "If the policy is intended, plan a reboot for hosts on older releases; otherwise fix "
        "the `update from` rule.",
        "docs/domain.md#update-rule and #svn; policy-format.md, 'Meaning of a missing "
        "fact'.",
        check=unreachable_release,
    ),
    RuleInfo(
        "stale-document",
        "StaleDocument",
        Severity.WARNING,
        Scope.DOCUMENT,
        "4.0",
        "A document's `expires` date has passed.",
        "After its `expires` date a document is stale: every verdict that uses it warns "
        "(`policy-fresh`) and fails under `--strict`.",
        "Review the document and issue it again with a new `expires` date.",
        "policy-format.md, Document statements: `expires DATE`.",
        check=stale_document,
    ),
    RuleInfo(
        "image-invalid",
        "ImageInvalid",
        Severity.ERROR,
        Scope.IMAGE,
        "8.0",
        "An image does not verify.",
        "The image fails a check the kernel or P-SEAMLDR makes (header, checksum, sigstruct "
        "constants, signature, module hash, ...). P-SEAMLDR's checks run after the running "
        "module has shut down: uploading it would kill every TD.",
        "Do not use the image; obtain it again from Intel's repository.",
        "docs/domain.md#image-formats and #sigstruct-checks.",
        check=image_invalid,
    ),
    RuleInfo(
        "image-mismatch",
        "ImageMismatch",
        Severity.ERROR,
        Scope.IMAGE,
        "7.5",
        "An image does not match the catalogue.",
        "The image's seamhash is the MRSEAM of no known release, its file name names another "
        "version than its hash identifies, or its sigstruct facts (SVN, platforms, handoff, "
        "debug) differ from what the sources say about that release. Decisions made from the "
        "catalogue would not hold for this image.",
        "Identify the image by its seamhash, not its file name; obtain the right image, or "
        "correct the catalogue.",
        "docs/domain.md#sigstruct: seamhash = SHA-384 of the module = the published MRSEAM; "
        "docs/cli.md#commands: image facts are cross-checked against the catalogue.",
        check=image_mismatch,
    ),
    RuleInfo(
        "no-expiry",
        "NoExpiry",
        Severity.WARNING,
        Scope.DOCUMENT,
        "2.0",
        "A policy document has no `expires` date.",
        "A policy document that declares releases but no `expires` date never goes stale: "
        "nothing reminds its owner to review it when Intel publishes new releases or "
        "advisories.",
        "Add `expires DATE` (and `issued DATE`) to the document and renew it before then.",
        "policy-format.md, Document statements: `expires DATE`; a stale document makes "
        "verdicts warn (`policy-fresh`).",
        check=no_expiry,
    ),
    RuleInfo(
        "seamldr-unknown-line",
        "SeamldrUnknownLine",
        Severity.WARNING,
        Scope.DOCUMENT,
        "3.0",
        "A `seamldr` minimum names a P-SEAMLDR line Intel has not published.",
        "The release's `seamldr` fact asks for a P-SEAMLDR version on a line (major.minor) "
        "that Intel has not published (known: 1.5, 2.0). A loader is only compared with the "
        "minimum of its own line, so such an entry is usually a typo and never applies.",
        "Correct the version (Intel's mapping_file.json `min_seamldr_versions` lists the "
        "lines), or remove it.",
        "docs/domain.md#seamldr: the running P-SEAMLDR must have the `major.minor` of one of "
        "the release's minimums and at least its update number.",
        check=seamldr_unknown_line,
    ),
    RuleInfo(
        "platforms-duplicate",
        "PlatformsDuplicate",
        Severity.WARNING,
        Scope.DOCUMENT,
        "1.0",
        "A platform is listed twice in one `platforms` fact.",
        "The same CPUID is listed twice in a release's `platforms`. The CPU check compares "
        "sets, so nothing changes, but a duplicate is often a typo for a platform that is "
        "now missing.",
        "Remove the duplicate, and check that every platform the release supports is listed.",
        "docs/domain.md#cpu: every CPU package's CPUID (stepping cleared) must be one of the "
        "release's platforms.",
        check=platforms_duplicate,
    ),
)

RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULES)
#: The rules ``lint`` runs: ``audit`` restricted to what documents say.
DOCUMENT_RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULES if r.scope is Scope.DOCUMENT)
_BY_ID = {r.id: r for r in RULES}


def rule_info(rule_id: str) -> RuleInfo:
    return _BY_ID[rule_id]
