"""Every check of one move R -> T, and :func:`decide`.

Each check is a small function returning an :data:`Outcome`: the :class:`Result` at once, and
a zero-argument function that builds the operator's message, the facts used and the source
location only when a :class:`Check` is wanted. :func:`decide` builds every check; the path
search (``plan.py``) calls the very same functions but only looks at the results, so a hop the
search accepts is by construction a hop :func:`decide` allows.

The checks fall in three groups, which the search evaluates at different times:

- *target* checks depend only on T, the host's constant facts and the options
  (``target-known``, ``seamldr``, ``cpu``, ``debug``, ``support-status``, ``advisory``);
- *pair* checks depend on R and T (``running-known``, ``same-series``, ``update-rule``,
  ``policy-deny``, ``svn``, ``handoff``, ``rollback-rule``, ``policy-fresh``, ``features``);
- the *state* check ``remaining-updates`` depends on the budget left at that hop.

Rules are quoted from ``docs/domain.md#move-rules`` and
``docs/policy-format.md``; ``docs/cli.md#contract`` fixes the codes and the meaning of
``--assume-unknown-ok``: it relaxes only *host* facts that were not given (P-SEAMLDR
version, CPUID, remaining updates), never a fact the catalogue lacks.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace
from typing import Any, Callable, Mapping

from ..catalogue import Catalogue, Release, distinct_versets, show_fact
from ..hostfacts import HostFacts, cpuid_family_model, format_cpuid
from ..model import Location, Sourced, StatusKind
from ..verdict import (
    Check,
    CheckCode,
    MoveKind,
    MoveOptions,
    Result,
    Reversibility,
    FEATURES_LOST_WORD,
    Verdict,
)
from ..version import Version

__all__ = [
    "CHECK_ORDER",
    "TDX_FEATURES0_NAMES",
    "decide",
    "feature_bits",
    "move_kind",
    "Outcome",
    "target_outcomes",
    "pair_outcomes",
    "state_outcome",
]

#: The stable order in which checks are listed (the CLI contract's list of check codes).
CHECK_ORDER: tuple[str, ...] = tuple(c.value for c in CheckCode)

Detail = Callable[[], tuple[str, Mapping[str, Any], Location | None]]
#: (result, builder of (message, facts, source)); the builder runs only for a Check.
Outcome = tuple[Result, Detail]
Named = tuple[str, Outcome]

_PASS, _FAIL, _WARN, _UNKNOWN = Result.PASS, Result.FAIL, Result.WARN, Result.UNKNOWN
_RELAXED_NOTE = "(relaxed by --assume-unknown-ok)"


def move_kind(running: Version | None, target: Version) -> MoveKind | None:
    """docs/domain.md#direction: T > R upgrade, T == R reinstall (the loader allows it and
    it uses one update), T < R rollback — by the integer triple, never by text. Across
    series the move is "cross-series" whatever the order. None when R is unknown."""
    if running is None:
        return None
    if running.series != target.series:
        return MoveKind.CROSS_SERIES
    if target.key > running.key:
        return MoveKind.UPGRADE
    if target.key == running.key:
        return MoveKind.REINSTALL
    return MoveKind.ROLLBACK


def _detail(message: str, facts: Mapping[str, Any] | None = None,
            source: Location | None = None) -> Detail:
    f = {} if facts is None else facts
    return lambda: (message, f, source)


def _not_in_catalogue(role: str, version: Version) -> Detail:
    return _detail(f"{role} release {version} is not in the catalogue: its facts are unknown",
                   {role + "_version": version.text})


def _unknown_host_fact(what: str, flag: str, options: MoveOptions,
                       facts: Mapping[str, Any]) -> Outcome:
    """A host fact that was not given: ``unknown`` (denies), or ``warn`` when the operator
    passed --assume-unknown-ok (docs/cli.md#host-facts)."""
    if options.assume_unknown_ok:
        return _WARN, _detail(f"not checked: {what} unknown {_RELAXED_NOTE}", facts)
    return _UNKNOWN, _detail(
        f"{what} unknown: give {flag} or probe the host "
        "(--assume-unknown-ok relaxes it for off-line planning)", facts)


# --- target checks -------------------------------------------------------------------------


def _target_known(target: Version, t: Release | None) -> Outcome:
    # docs/cli.md#host-facts: a target the catalogue does not know fails, never relaxed.
    if t is None:
        return _FAIL, _detail(
            f"release {target} is not in any policy source: its SVN, CPUID table and update "
            "policy cannot be checked; add a policy document that declares it",
            {"to_version": target.text})
    return _PASS, _detail(f"release {target} is in the catalogue", {"to_version": target.text},
                          t.declared_at[0] if t.declared_at else None)


def _seamldr(target: Version, t: Release | None, facts: HostFacts,
             options: MoveOptions) -> Outcome:
    # docs/domain.md#seamldr (Intel's reference selector): the running P-SEAMLDR L satisfies
    # one entry m of T's min_seamldr_versions: L.major.minor == m.major.minor and
    # L.update >= m.update. The catalogue's list unknown: unknown, never relaxed. This is
    # Intel's compatibility table, not a rule P-SEAMLDR is known to enforce itself: the
    # messages say what the table says, never what the loader would do.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    accepted = t.facts.seamldr
    if accepted is None:
        return _UNKNOWN, _detail(
            f"release {target}'s accepted P-SEAMLDR versions are not known to any policy "
            "source: add a 'seamldr' fact", {"to_version": target.text})
    loader = facts.seamldr_version
    lines = [m.text for m in accepted.value]
    if loader is None:
        return _unknown_host_fact("P-SEAMLDR version", "--seamldr", options,
                                  {"seamldr_version": None, "accepted": lines})
    used = {"seamldr_version": loader.text, "accepted": lines}
    for m in accepted.value:
        if loader.major == m.major and loader.minor == m.minor and loader.update >= m.update:
            return _PASS, _detail(f"P-SEAMLDR {loader} satisfies {m}", used, accepted.source)
    return _FAIL, _detail(
        f"P-SEAMLDR {loader} is not accepted by release {target} (needs one of "
        f"{', '.join(lines) or 'none'}: same major.minor, update at least that): Intel's "
        "compatibility table (min_seamldr_versions) does not list this P-SEAMLDR for it; "
        "update the P-SEAMLDR (BIOS) or choose another release",
        used, accepted.source)


def _cpu(target: Version, t: Release | None, facts: HostFacts, options: MoveOptions) -> Outcome:
    # docs/domain.md#cpu: for EVERY CPU package, CPUID.1.EAX & ~0xF equals some
    # entry & ~0xF of T's sigstruct CPUID table (stepping ignored). Enforced by P-SEAMLDR.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    table = t.facts.platforms
    if table is None:
        return _UNKNOWN, _detail(
            f"release {target}'s CPUID table is not known to any policy source: add a "
            "'platforms' fact", {"to_version": target.text})
    cpus = facts.cpuid
    shown = [format_cpuid(p) for p in table.value]
    if cpus is None:
        return _unknown_host_fact("CPUID of the CPU packages", "--cpuid", options,
                                  {"cpuid": None, "platforms": shown})
    if not cpus:
        # An empty list names no package, so "every package matches" would hold vacuously:
        # fail closed, and do not relax it (it was given, wrongly). Sources refuse it too.
        return _UNKNOWN, _detail("no CPU package given: give the CPUID of every package "
                                 "(--cpuid, repeatable)", {"cpuid": [], "platforms": shown})
    masked = {cpuid_family_model(p) for p in table.value}
    used = {"cpuid": [format_cpuid(c) for c in cpus], "platforms": shown}
    bad = [c for c in cpus if cpuid_family_model(c) not in masked]
    if not bad:
        return _PASS, _detail(
            f"every CPU package ({', '.join(format_cpuid(c) for c in dict.fromkeys(cpus))}) is in "
            f"release {target}'s CPUID table", used, table.source)
    return _FAIL, _detail(
        f"CPU {', '.join(format_cpuid(c) for c in dict.fromkeys(bad))} (stepping ignored) is not in "
        f"release {target}'s CPUID table ({', '.join(shown) or 'empty'}): P-SEAMLDR would "
        "refuse the image on this platform", used, table.source)


def _debug(target: Version, t: Release | None, options: MoveOptions) -> Outcome:
    # domain.md rule "debug": a debug-signed module (sigstruct module_type bit 31) is refused
    # unless explicitly allowed. The bit is known only from the release's image (a `debug`
    # fact, or a `seamhash` read from the image without one: ReleaseFacts.signing); a release
    # known only from Intel's mapping file or tables has no such fact: unknown, never relaxed.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    debug, proof = t.facts.signing()
    if debug is None:
        return _UNKNOWN, _detail(
            f"whether release {target} is debug-signed is not known to any policy source (no "
            "image of it was read: no 'seamhash' or 'debug' fact); give its image with "
            "--image PATH or add a policy document with its 'seamhash' (and 'debug' if set)",
            {"debug": None, "to_version": target.text})
    used = {"debug": debug, "by": "debug" if t.facts.debug is not None else "seamhash"}
    if not debug:
        how = ("its image's module_type bit 31 is clear" if t.facts.debug is not None else
               "its image was read (seamhash) and no source records module_type bit 31")
        return _PASS, _detail(f"release {target} is production-signed: {how}", used, proof)
    if options.allow_debug:
        return _WARN, _detail(
            f"release {target} is debug-signed; permitted by --allow-debug (the platform "
            "must be debug-unlocked)", used, proof)
    return _FAIL, _detail(
        f"release {target} is debug-signed: production platforms refuse it; pass "
        "--allow-debug only on a debug-unlocked platform", used, proof)


def _support(target: Version, t: Release | None) -> Outcome:
    # policy-format.md `status`: preview -> moves into it warn; withdrawn -> denied.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    s = t.facts.status
    if s is None:
        # A status is a policy statement, not a property of the image: no source restricting
        # T is itself the fact, cited by T's declaration.
        return _PASS, _detail(f"release {target} has no support restriction (no 'status' in "
                              "any policy source)", {"status": None},
                              t.declared_at[0] if t.declared_at else None)
    st = s.value
    used = {"status": st.kind.value, "reason": st.reason}
    if st.kind is StatusKind.WITHDRAWN:
        return _FAIL, _detail(f"release {target} is withdrawn: {st.reason}", used, s.source)
    return _WARN, _detail(f"release {target} is a preview: {st.reason}", used, s.source)


def _advisories(target: Version, t: Release | None, options: MoveOptions) -> list[Outcome]:
    # policy-format.md `advisory WORD STRING`: a caution shown with every move into T; one
    # check per advisory, passing once acknowledged (`--acknowledge WORD` or `all`).
    if t is None:
        return [(_UNKNOWN, _not_in_catalogue("target", target))]
    if not t.advisories:
        return [(_PASS, _detail(f"release {target} carries no advisory", {"advisories": []}))]
    out: list[Outcome] = []
    ack = options.acknowledged
    for a in t.advisories:
        used = {"word": a.word, "acknowledged": a.word in ack or "all" in ack}
        if used["acknowledged"]:
            out.append((_PASS, _detail(f"acknowledged ({a.word}): {a.text}", used, a.source)))
        else:
            out.append((_WARN, _detail(
                f"{a.text} (acknowledge with --acknowledge {a.word})", used, a.source)))
    return out


def target_outcomes(target: Version, t: Release | None, facts: HostFacts,
                    options: MoveOptions) -> list[Named]:
    """The checks that depend only on T, the host's constant facts and the options."""
    out: list[Named] = [
        ("target-known", _target_known(target, t)),
        ("seamldr", _seamldr(target, t, facts, options)),
        ("cpu", _cpu(target, t, facts, options)),
        ("debug", _debug(target, t, options)),
        ("support-status", _support(target, t)),
    ]
    out.extend(("advisory", o) for o in _advisories(target, t, options))
    return out


# --- pair checks ---------------------------------------------------------------------------


def _running_known(running: Version | None, r: Release | None) -> Outcome:
    # docs/domain.md#move-rules: the running module's SVN and handoff values are not exposed by the
    # kernel; they come from the catalogue entry for R. Unknown R: fail closed, never relaxed.
    if running is None:
        return _FAIL, _detail(
            "the running module version is not given: pass --from VERSION, --facts FILE, or "
            "probe the host", {"from_version": None})
    if r is None:
        return _FAIL, _detail(
            f"running release {running} is not in any policy source (BIOS updates can ship "
            "modules before Intel publishes them): its SVN and handoff values cannot be "
            "checked; add a policy document that declares it", {"from_version": running.text})
    return _PASS, _detail(f"running release {running} is in the catalogue",
                          {"from_version": running.text},
                          r.declared_at[0] if r.declared_at else None)


def _same_series(running: Version | None, target: Version) -> Outcome:
    # docs/domain.md#same-series: T.major.minor == R.major.minor; runtime updates stay
    # inside one series (Z-stream).
    if running is None:
        return _UNKNOWN, _detail("running version unknown: the series cannot be compared",
                                 {"from_series": None, "to_series": target.series_text})
    used = {"from_series": running.series_text, "to_series": target.series_text}
    if running.series == target.series:
        return _PASS, _detail(f"both in series {target.series_text}", used)
    return _FAIL, _detail(
        f"{running} -> {target} crosses from series {running.series_text} to "
        f"{target.series_text}: runtime updates stay within one major.minor; moving series "
        "needs a reboot with the new module", used)


def _update_rule(running: Version | None, target: Version, t: Release | None) -> Outcome:
    # docs/domain.md#update-rule: T's policy admits R (Intel's
    # min_module_version_for_td_preserving X is `update from >= X` in the series); a release
    # with no `update from` rule cannot be updated into at runtime (policy-format.md).
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    if not t.update_from:
        return _FAIL, _detail(
            f"release {target} has no runtime-update policy: it cannot be updated into at "
            "runtime (install it with a reboot, or add an 'update from' rule)",
            {"update_from": []}, t.declared_at[0] if t.declared_at else None)
    rules = distinct_versets(t.update_from)
    if running is None:
        return _UNKNOWN, _detail(
            "running version unknown: cannot tell whether release "
            f"{target}'s update policy admits it", {"from_version": None, "update_from": rules})
    if running.series != target.series:
        # policy-format.md: `update from >= X` holds "within the series" (Intel's
        # min_module_version_for_td_preserving compares update numbers of one series), so
        # `>= 1.5.01` never admits 2.0.08 however the triples compare.
        return _FAIL, _detail(
            f"release {target} admits runtime updates only from its own series "
            f"{target.series_text} (update from {' | '.join(rules)}); {running} is in series "
            f"{running.series_text}", {"from_version": running.text, "update_from": rules},
            t.update_from[0].source)
    for u in t.update_from:
        if u.versions.matches(running):
            return _PASS, _detail(
                f"release {target} admits updates from {running} (update from {u.versions})",
                {"from_version": running.text, "update_from": rules}, u.source)
    return _FAIL, _detail(
        f"release {target} does not admit runtime updates from {running} (update from "
        f"{' | '.join(rules)}): move to an admitted version first (see `tdxpolicy path`)",
        {"from_version": running.text, "update_from": rules}, t.update_from[0].source)


def _policy_deny(catalogue: Catalogue, running: Version | None, target: Version,
                 t: Release | None) -> Outcome:
    # policy-format.md: `deny from VERSET STRING` overrides every `update from`; a document's
    # `deny to VERSET STRING` is a site blocklist: no move into those versions.
    if t is not None:
        for d in t.deny_from:
            if running is not None and d.versions.matches(running):
                return _FAIL, _detail(
                    f"release {target} denies updates from {running}: {d.reason}",
                    {"rule": "deny from", "versions": str(d.versions), "reason": d.reason},
                    d.source)
    for dt in catalogue.deny_to:
        if dt.versions.matches(target):
            return _FAIL, _detail(
                f"site policy denies moves to {target}: {dt.reason}",
                {"rule": "deny to", "versions": str(dt.versions), "reason": dt.reason},
                dt.source)
    if running is None and t is not None and t.deny_from:
        return _UNKNOWN, _detail(
            f"running version unknown: cannot tell whether release {target}'s 'deny from' "
            "rules apply", {"rule": "deny from"})
    return _PASS, _detail("no deny rule matches", {})


def _svn(running: Version | None, target: Version, r: Release | None,
         t: Release | None) -> Outcome:
    # docs/domain.md#svn (P-SEAMLDR seamldr_install.c): SEAM SVN T.major == R.major else
    # EUNSUPPORTED; T.minor >= R.minor else EBADSIG — after the running module has shut down.
    # Both values only come from the catalogue: unknown is never relaxed.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    if running is None:
        return _UNKNOWN, _detail("running version unknown: its SVN cannot be compared",
                                 {"from_svn": None})
    if r is None:
        return _UNKNOWN, _not_in_catalogue("running", running)
    ts, rs = t.facts.svn, r.facts.svn
    if ts is None or rs is None:
        missing = [str(v) for v, s in ((target, ts), (running, rs)) if s is None]
        return _UNKNOWN, _detail(
            f"SEAM SVN of release {' and '.join(missing)} is not known to any policy source: "
            "P-SEAMLDR's SVN rule cannot be checked; add an 'svn' fact",
            {"from_svn": None if rs is None else str(rs.value),
             "to_svn": None if ts is None else str(ts.value)},
            None if ts is None else ts.source)
    a, b = rs.value, ts.value
    used = {"from_svn": str(a), "to_svn": str(b)}
    if a.major != b.major:
        return _FAIL, _detail(
            f"SEAM SVN major differs ({running} has {a}, {target} has {b}): P-SEAMLDR returns "
            "EUNSUPPORTED", used, ts.source)
    if b.minor < a.minor:
        return _FAIL, _detail(
            f"SEAM SVN would fall from {a} ({running}) to {b} ({target}): P-SEAMLDR rejects "
            "with EBADSIG after the running module has shut down: every running TD would be "
            "killed", used, ts.source)
    return _PASS, _detail(f"SEAM SVN {a} -> {b} (major equal, minor not lower)", used,
                          ts.source)


def _handoff(running: Version | None, target: Version, r: Release | None,
             t: Release | None) -> Outcome:
    # docs/domain.md#handoff: the merged kernel shuts R down at R's native handoff version
    # R.module_hv, so T needs T.min_update_hv <= R.module_hv <= T.module_hv.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    if running is None:
        return _UNKNOWN, _detail("running version unknown: its handoff version cannot be "
                                 "compared", {"from_module_hv": None})
    if r is None:
        return _UNKNOWN, _not_in_catalogue("running", running)
    th, rh = t.facts.handoff, r.facts.handoff
    if th is None or rh is None:
        missing = [str(v) for v, s in ((target, th), (running, rh)) if s is None]
        return _UNKNOWN, _detail(
            f"handoff versions of release {' and '.join(missing)} are not known to any policy "
            "source: the handoff rule cannot be checked; add a 'handoff' fact",
            {}, None if th is None else th.source)
    hv = rh.value.module_hv
    lo, hi = th.value.min_update_hv, th.value.module_hv
    used = {"from_module_hv": hv, "to_min_update_hv": lo, "to_module_hv": hi}
    if lo <= hv <= hi:
        return _PASS, _detail(
            f"{running} hands off at version {hv}; {target} imports {lo}..{hi}", used,
            th.source)
    return _FAIL, _detail(
        f"{running} hands off at version {hv} but {target} imports only {lo}..{hi}: the new "
        "module could not import the TD state after the old one shut down: every running TD "
        "would be killed", used, th.source)


def _rollback_rule(kind: MoveKind | None, running: Version | None, target: Version,
                   r: Release | None, options: MoveOptions, svn: Result,
                   handoff: Result) -> Outcome:
    # docs/domain.md#direction and the issue: a rollback is permitted only by the running
    # release's `rollback to` rule or by --allow-rollback, and NEVER when the svn or handoff
    # check does not pass (P-SEAMLDR would reject it after shutdown: every TD killed). The
    # guard below is structural: no option and no rule reaches the pass/warn branches then.
    if kind is None:
        return _UNKNOWN, _detail("running version unknown: the direction of the move is "
                                 "unknown", {"kind": None})
    if kind is not MoveKind.ROLLBACK:
        return _PASS, _detail(f"not a rollback ({kind.value})", {"kind": kind.value})
    assert running is not None
    if svn is not _PASS or handoff is not _PASS:
        failing = [c for c, res in (("svn", svn), ("handoff", handoff)) if res is not _PASS]
        return _FAIL, _detail(
            f"rollback {running} -> {target} is never permitted while the "
            f"{' and '.join(failing)} check does not pass: P-SEAMLDR would reject it after the "
            "running module has shut down", {"kind": "rollback", "blocked_by": failing})
    if r is None:
        return _UNKNOWN, _not_in_catalogue("running", running)
    for rb in r.rollback_to:
        if rb.versions.matches(target):
            return _PASS, _detail(
                f"release {running} permits a rollback to {target} (rollback to {rb.versions})",
                {"kind": "rollback", "rollback_to": str(rb.versions)}, rb.source)
    if options.allow_rollback:
        return _WARN, _detail(
            "operator permits a rollback the policy does not grant; loader rules still apply",
            {"kind": "rollback", "allow_rollback": True})
    return _FAIL, _detail(
        f"release {running} grants no runtime rollback to {target} (no matching 'rollback "
        "to' rule); the loader rules pass, so --allow-rollback would permit it",
        {"kind": "rollback", "allow_rollback": False})


def _contributing_documents(catalogue: Catalogue) -> dict[str, list[Sourced[_dt.date]]]:
    """file -> the ``expires`` dates of the documents read from it; cached on the (immutable)
    catalogue."""
    cache: dict[str, Any] = catalogue.__dict__.setdefault("_engine_cache", {})
    docs: dict[str, list[Sourced[_dt.date]]] | None = cache.get("expires")
    if docs is None:
        docs = {}
        for d in catalogue.documents:
            if d.meta.expires is not None:
                docs.setdefault(d.file, []).append(d.meta.expires)
        cache["expires"] = docs
    return docs


def _fresh(catalogue: Catalogue, r: Release | None, t: Release | None,
           options: MoveOptions) -> list[Outcome]:
    # policy-format.md `expires DATE`: after this date the document is stale: every verdict
    # that uses it warns (policy-fresh), and fails under --strict (Verdict.strict). The
    # documents used: those declaring T's or R's release, and those with a `deny to`.
    today = options.today
    by_file = _contributing_documents(catalogue)
    if not by_file:
        return [(_PASS, _detail("no document used has an expiry date", {}))]
    files: dict[str, None] = {}
    for rel in (t, r):
        if rel is not None:
            for loc in rel.declared_at:
                files[loc.file] = None
    for dt in catalogue.deny_to:
        files[dt.source.file] = None
    out: list[Outcome] = []
    for name in files:
        for exp in by_file.get(name, ()):
            date = exp.value
            if today is None:
                # Nothing proves the document current: a warning (denies under --strict),
                # never a pass. Only API callers get here; the CLI always passes the date.
                out.append((_WARN, _detail(
                    f"policy document {name} expires on {date.isoformat()} but no current "
                    "date was given (MoveOptions.today): its freshness is not checked",
                    {"document": name, "expires": date.isoformat(), "today": None},
                    exp.source)))
            elif date < today:
                out.append((_WARN, _detail(
                    f"policy document {name} expired on {date.isoformat()}: refresh it "
                    "(--strict denies moves that use stale documents)",
                    {"document": name, "expires": date.isoformat(),
                     "today": today.isoformat()}, exp.source)))
    if not out:
        if today is None:
            return [(_PASS, _detail("no document used has an expiry date", {}))]
        return [(_PASS, _detail(f"every document used is valid on {today.isoformat()}",
                                {"today": today.isoformat()}))]
    return out


#: TDX_FEATURES0 bits that Linux names (docs/engine.md, "features", cites each patch). A bit
#: not listed here is reported by its number only: nothing is guessed.
TDX_FEATURES0_NAMES: Mapping[int, str] = {
    1: "TD_PRESERVING",  # arch/x86/include/asm/tdx.h, runtime-update series (merged)
    6: "TDXCONNECT",  # arch/x86/include/asm/tdx.h, TDX Connect series
    18: "NO_RBP_MOD",  # arch/x86/include/asm/tdx.h (merged)
    20: "TOPOLOGY_ENUM",  # arch/x86/kvm/vmx/tdx_arch.h MD_FIELD_ID_FEATURES0_TOPOLOGY_ENUM
    23: "CLFLUSH_BEFORE_ALLOC",  # arch/x86/include/asm/tdx.h, runtime-update v9 era
    36: "DYNAMIC_PAMT",  # arch/x86/include/asm/tdx.h, Dynamic PAMT series
    47: "UPDATE_COMPAT",  # arch/x86/include/asm/tdx.h, runtime-update v9 (dropped in v10)
}


def feature_bits(mask: int) -> list[str]:
    """``["31", "36 (DYNAMIC_PAMT)"]``: each set bit by number, with Linux's name if any."""
    out = []
    for bit in range(mask.bit_length()):
        if mask >> bit & 1:
            name = TDX_FEATURES0_NAMES.get(bit)
            out.append(f"{bit} ({name})" if name else str(bit))
    return out


def _features(running: Version | None, target: Version, r: Release | None,
              t: Release | None, options: MoveOptions) -> Outcome:
    # docs/domain.md#intel-data: TDX_FEATURES0 is not checked by P-SEAMLDR; after an update the
    # kernel only logs that features changed and may not take effect. So a bit the running
    # module has and T lacks is a warning (never a loader failure) that the operator must
    # acknowledge like an advisory (--acknowledge features-lost, or all); under --strict an
    # unacknowledged one denies. An unknown TDX_FEATURES0 cannot prove that no bit is lost:
    # it is treated as the worst case of this check (the same acknowledgeable warning), not
    # as a pass, and not as worse than a known loss.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    if running is None:
        return _UNKNOWN, _detail("running version unknown: its TDX_FEATURES0 cannot be "
                                 "compared", {"from_features0": None})
    if r is None:
        return _UNKNOWN, _not_in_catalogue("running", running)
    ack = FEATURES_LOST_WORD in options.acknowledged or "all" in options.acknowledged
    how = f"acknowledge with --acknowledge {FEATURES_LOST_WORD}"
    tf, rf = t.facts.features0, r.facts.features0
    if tf is None or rf is None:
        missing = [str(v) for v, f in ((running, rf), (target, tf)) if f is None]
        used: dict[str, Any] = {
            "from_features0": None if rf is None else show_fact("features0", rf.value),
            "to_features0": None if tf is None else show_fact("features0", tf.value),
            "lost": None, "word": FEATURES_LOST_WORD, "acknowledged": ack}
        what = (f"TDX_FEATURES0 of release {' and '.join(missing)} is not known to any policy "
                "source: cannot tell whether the move loses features")
        where = None if tf is None else tf.source
        if ack:
            return _PASS, _detail(f"acknowledged ({FEATURES_LOST_WORD}): {what}", used, where)
        return _WARN, _detail(f"{what} ({how}, or add a 'features0' fact)", used, where)
    lost = rf.value & ~tf.value
    used = {"from_features0": show_fact("features0", rf.value),
            "to_features0": show_fact("features0", tf.value),
            "lost": [b for b in range(lost.bit_length()) if lost >> b & 1]}
    if not lost:
        return _PASS, _detail(
            f"release {target} has every TDX_FEATURES0 bit of {running} "
            f"({used['from_features0']} -> {used['to_features0']})", used, tf.source)
    used.update(word=FEATURES_LOST_WORD, acknowledged=ack)
    bits = ", ".join(feature_bits(lost))
    plural = "s" if len(used["lost"]) > 1 else ""
    what = (f"release {target} lacks TDX_FEATURES0 bit{plural} {bits} that the running "
            f"{running} has ({used['from_features0']} -> {used['to_features0']}): P-SEAMLDR "
            "does not check this; the kernel only logs it after the update, and what the "
            "running module offered may stop working")
    if ack:
        return _PASS, _detail(f"acknowledged ({FEATURES_LOST_WORD}): {what}", used, tf.source)
    return _WARN, _detail(f"{what} ({how})", used, tf.source)


def pair_outcomes(catalogue: Catalogue, running: Version | None, target: Version,
                  r: Release | None, t: Release | None, options: MoveOptions) -> list[Named]:
    """The checks that depend on both R and T."""
    kind = move_kind(running, target)
    svn = _svn(running, target, r, t)
    handoff = _handoff(running, target, r, t)
    out: list[Named] = [
        ("running-known", _running_known(running, r)),
        ("same-series", _same_series(running, target)),
        ("update-rule", _update_rule(running, target, t)),
        ("policy-deny", _policy_deny(catalogue, running, target, t)),
        ("rollback-rule", _rollback_rule(kind, running, target, r, options, svn[0],
                                         handoff[0])),
        ("svn", svn),
        ("handoff", handoff),
    ]
    out.extend(("policy-fresh", o) for o in _fresh(catalogue, r, t, options))
    out.append(("features", _features(running, target, r, t, options)))
    return out


# --- state check ---------------------------------------------------------------------------


def state_outcome(remaining: int | None, options: MoveOptions) -> Outcome:
    # docs/domain.md#remaining-updates: num_remaining_updates >= 1; each runtime update
    # uses one and only a reboot resets the log.
    if remaining is None:
        return _unknown_host_fact("number of remaining runtime updates", "--remaining",
                                  options, {"num_remaining_updates": None})
    used = {"num_remaining_updates": remaining}
    if remaining >= 1:
        return _PASS, _detail(f"{remaining} runtime update(s) remain; this move uses one", used)
    return _FAIL, _detail(
        f"P-SEAMLDR has {remaining} runtime updates left: reboot to reset its log (the reboot "
        "can load the target directly)", used)


# --- decide --------------------------------------------------------------------------------


def _check(code: str, outcome: Outcome) -> Check:
    result, detail = outcome
    message, facts, source = detail()
    return Check(code=code, result=result, message=message, source=source, facts=facts)


def _build(catalogue: Catalogue, facts: HostFacts, target: Version,
           options: MoveOptions) -> Verdict:
    running = facts.module_version
    r = None if running is None else catalogue.get(running)
    t = catalogue.get(target)
    named = target_outcomes(target, t, facts, options)
    named += pair_outcomes(catalogue, running, target, r, t, options)
    named.append(("remaining-updates", state_outcome(facts.num_remaining_updates, options)))
    rank = {c: i for i, c in enumerate(CHECK_ORDER)}
    # sorted() is stable: several advisory/policy-fresh checks keep their own order.
    named.sort(key=lambda n: rank[n[0]])
    return Verdict(
        from_version=running,
        to_version=target,
        kind=move_kind(running, target),
        checks=tuple(_check(code, o) for code, o in named),
        strict=options.strict,
    )


def decide(catalogue: Catalogue, facts: HostFacts, target: Version,
           options: MoveOptions) -> Verdict:
    """Decide one runtime move from ``facts.module_version`` to ``target``.

    Every check is listed in :data:`CHECK_ORDER` (several ``advisory``/``policy-fresh`` checks
    may appear); :attr:`Verdict.allowed` denies on fail/unknown (and warn under strict). An
    allowed verdict says whether a runtime move back will be possible afterwards.
    """
    verdict = _build(catalogue, facts, target, options)
    if verdict.allowed:
        verdict = replace(verdict, reversibility=reversibility(catalogue, facts, verdict,
                                                               options))
    return verdict


def reversibility(catalogue: Catalogue, facts: HostFacts, verdict: Verdict,
                  options: MoveOptions) -> Reversibility:
    """Would a runtime move back T -> R be allowed once T runs (from facts.after_update(T))?"""
    running, target = verdict.from_version, verdict.to_version
    assert running is not None
    if verdict.kind is MoveKind.REINSTALL:
        return Reversibility(True, f"a reinstall keeps {running} running: nothing to move "
                                   "back from (it uses one runtime update)")
    after = facts.after_update(target)
    back = _build(catalogue, after, running, options)
    if back.allowed:
        rule = next((c for c in back.checks if c.code == "rollback-rule"), None)
        how = ""
        if rule is not None and rule.result is Result.WARN:
            how = " with --allow-rollback"
        elif back.kind is MoveKind.ROLLBACK and rule is not None and rule.source is not None:
            how = f" (rollback permitted by {rule.source})"
        return Reversibility(True, f"yes: a runtime move back to {running} would be "
                                   f"allowed{how}")
    codes = {c.code: c for c in back.failed}
    svn = codes.get("svn")
    if svn is not None:
        f = svn.facts
        if f.get("from_svn") and f.get("to_svn"):
            # Forward R -> T raised the SVN (from R's to T's); back, T is running.
            return Reversibility(False, f"no: SVN minor rises {f['to_svn']} -> "
                                        f"{f['from_svn']}; P-SEAMLDR refuses a lower SVN")
        return Reversibility(False, f"no: {svn.message}")
    if "handoff" in codes:
        return Reversibility(False, f"no: {codes['handoff'].message}")
    if set(codes) == {"rollback-rule"} and not options.allow_rollback:
        return Reversibility(False, f"only with --allow-rollback: release {target} grants no "
                                    f"rollback to {running}; the loader rules would accept it")
    if set(codes) == {"remaining-updates"}:
        return Reversibility(False, "no: no runtime update would remain after this one "
                                    "(a reboot resets the log)")
    return Reversibility(False, "no: the move back would fail "
                                + ", ".join(dict.fromkeys(c.code for c in back.failed)))

