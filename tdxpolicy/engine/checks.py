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
from typing import Any, Callable, Iterator, Mapping

from .._value import replace
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
    denies,
)
from ..version import Version, encode_all

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
    # the rules, on plain keys, and the path search's provider
    "HopRules",
    "ReleaseKeys",
    "SeriesKeys",
    "series_keys",
    "advisory_rule",
    "cpu_rule",
    "debug_rule",
    "features_rule",
    "fresh_rule",
    "handoff_rule",
    "policy_deny_rule",
    "rollback_rule",
    "seamldr_rule",
    "support_rule",
    "svn_rule",
    "unknown_host_fact_rule",
    "update_rule",
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


def unknown_host_fact_rule(relax: bool) -> Result:
    """A host fact that was not given: ``unknown`` (denies), or ``warn`` when the operator
    passed --assume-unknown-ok (docs/cli.md#host-facts)."""
    return _WARN if relax else _UNKNOWN


def _unknown_host_fact(what: str, flag: str, options: MoveOptions,
                       facts: Mapping[str, Any]) -> Outcome:
    result = unknown_host_fact_rule(options.assume_unknown_ok)
    if result is _WARN:
        return result, _detail(f"not checked: {what} unknown {_RELAXED_NOTE}", facts)
    return result, _detail(
        f"{what} unknown: give {flag} or probe the host "
        "(--assume-unknown-ok relaxes it for off-line planning)", facts)

# --- rules ---------------------------------------------------------------------------------
#
# Each check's result, stated once, on plain keys. The checks below explain the result they
# get from these functions; the path search (plan.py, through :class:`HopRules`) asks the same
# functions with keys it computes once per release, so a hop it accepts is a hop
# :func:`decide` allows, with no second statement of any rule to drift.

Triple = tuple[int, int, int]


def seamldr_key(accepted: Sourced[tuple[Version, ...]] | None) -> tuple[Triple, ...] | None:
    """A release's accepted P-SEAMLDR versions as integer triples (``Version.key``, spelled
    out: this runs for every release on the cold path of ``path``)."""
    if accepted is None:
        return None
    return tuple([(m.major, m.minor, m.update) for m in accepted.value])


def platforms_key(table: Sourced[tuple[int, ...]] | None) -> frozenset[int] | None:
    """A release's CPUID table with the stepping masked off (docs/domain.md#cpu)."""
    return None if table is None else frozenset([cpuid_family_model(p) for p in table.value])


def cpus_key(cpus: tuple[int, ...] | None) -> frozenset[int] | None:
    """The host's CPU packages with the stepping masked off (None: not given)."""
    return None if cpus is None else frozenset([cpuid_family_model(c) for c in cpus])


def svn_key(svn: Sourced[Any] | None) -> tuple[int, int] | None:
    return None if svn is None else (svn.value.major, svn.value.minor)


def handoff_key(handoff: Sourced[Any] | None) -> tuple[int, int] | None:
    """(min_update_hv, module_hv): the handoff versions a release imports."""
    return None if handoff is None else (handoff.value.min_update_hv, handoff.value.module_hv)


def seamldr_entry(accepted: tuple[Triple, ...], loader: Triple) -> int | None:
    """The index of the first accepted entry m the loader L satisfies: L.major.minor ==
    m.major.minor and L.update >= m.update (docs/domain.md#seamldr)."""
    major, minor, update = loader
    for i, m in enumerate(accepted):
        if m[0] == major and m[1] == minor and update >= m[2]:
            return i
    return None


def seamldr_rule(accepted: tuple[Triple, ...] | None, loader: Triple | None,
                 relax: bool) -> Result:
    """seamldr: T's list unknown is unknown, never relaxed; the host's loader unknown is
    relaxed by --assume-unknown-ok (``relax``)."""
    if accepted is None:
        return _UNKNOWN
    if loader is None:
        return unknown_host_fact_rule(relax)
    return _FAIL if seamldr_entry(accepted, loader) is None else _PASS


def cpu_rule(platforms: frozenset[int] | None, cpus: frozenset[int] | None,
             relax: bool) -> Result:
    """cpu: every package (masked) is in T's table (masked). An empty package list names no
    package: unknown, not a vacuous pass, and not relaxed (it was given, wrongly)."""
    if platforms is None:
        return _UNKNOWN
    if cpus is None:
        return unknown_host_fact_rule(relax)
    if not cpus:
        return _UNKNOWN
    return _PASS if cpus <= platforms else _FAIL


def debug_rule(debug: bool | None, allow_debug: bool) -> Result:
    """debug: unknown signing is unknown; a debug-signed T fails, or warns with
    --allow-debug."""
    if debug is None:
        return _UNKNOWN
    if not debug:
        return _PASS
    return _WARN if allow_debug else _FAIL


def support_rule(kind: StatusKind | None) -> Result:
    """support-status: no status passes, withdrawn fails, preview warns."""
    if kind is None:
        return _PASS
    return _FAIL if kind is StatusKind.WITHDRAWN else _WARN


def advisory_rule(word: str | None, acknowledged: frozenset[str]) -> Result:
    """advisory (and the features-lost word): passes once acknowledged by its word or
    ``all``; ``word`` None is a release without advisories."""
    if word is None or word in acknowledged or "all" in acknowledged:
        return _PASS
    return _WARN


def update_rule(has_rules: bool, admitted: bool | None) -> Result:
    """update-rule: T without an ``update from`` rule fails; ``admitted`` (None: R unknown)
    is whether one of T's rules admits R (never across series)."""
    if not has_rules:
        return _FAIL
    if admitted is None:
        return _UNKNOWN
    return _PASS if admitted else _FAIL


def policy_deny_rule(denied_from: bool | None, denied_to: bool) -> Result:
    """policy-deny: a matching ``deny from`` of T or ``deny to`` of the site fails;
    ``denied_from`` None is an unknown R facing T's ``deny from`` rules. The two halves are
    independent (either one fails), which lets the search judge ``deny to`` once per
    target."""
    if denied_from or denied_to:
        return _FAIL
    return _UNKNOWN if denied_from is None else _PASS


def svn_rule(running: tuple[int, int] | None, target: tuple[int, int] | None) -> Result:
    """svn: (major, minor) of R and T; major equal and minor not lower, unknown never
    relaxed."""
    if running is None or target is None:
        return _UNKNOWN
    if running[0] != target[0] or target[1] < running[1]:
        return _FAIL
    return _PASS


def handoff_rule(running_module_hv: int | None, target: tuple[int, int] | None) -> Result:
    """handoff: T.min_update_hv <= R.module_hv <= T.module_hv."""
    if running_module_hv is None or target is None:
        return _UNKNOWN
    return _PASS if target[0] <= running_module_hv <= target[1] else _FAIL


def rollback_rule(kind: MoveKind | None, svn: Result, handoff: Result, granted: bool | None,
                  allow_rollback: bool) -> Result:
    """rollback-rule: only a rollback is judged; never while svn or handoff does not pass;
    then R's ``rollback to`` (``granted``, None: R unknown) or --allow-rollback (warns)."""
    if kind is None:
        return _UNKNOWN
    if kind is not MoveKind.ROLLBACK:
        return _PASS
    if svn is not _PASS or handoff is not _PASS:
        return _FAIL
    if granted is None:
        return _UNKNOWN
    if granted:
        return _PASS
    return _WARN if allow_rollback else _FAIL


def fresh_rule(expires: _dt.date, today: _dt.date | None) -> Result:
    """policy-fresh, one document: stale after its date, and unproven without a date."""
    return _WARN if today is None or expires < today else _PASS


def features_rule(running: int | None, target: int | None, acknowledged: bool) -> Result:
    """features: a TDX_FEATURES0 bit R has and T lacks, or either mask unknown, warns until
    acknowledged."""
    if acknowledged:
        return _PASS
    if running is None or target is None or running & ~target:
        return _WARN
    return _PASS


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
    loader = facts.seamldr_version
    accepted_key = seamldr_key(accepted)
    result = seamldr_rule(accepted_key, None if loader is None else loader.key,
                          options.assume_unknown_ok)
    if accepted is None:
        return result, _detail(
            f"release {target}'s accepted P-SEAMLDR versions are not known to any policy "
            "source: add a 'seamldr' fact", {"to_version": target.text})
    lines = [m.text for m in accepted.value]
    if loader is None:
        return _unknown_host_fact("P-SEAMLDR version", "--seamldr", options,
                                  {"seamldr_version": None, "accepted": lines})
    used = {"seamldr_version": loader.text, "accepted": lines}
    entry = None if accepted_key is None else seamldr_entry(accepted_key, loader.key)
    if entry is not None:
        m = accepted.value[entry]
        return result, _detail(f"P-SEAMLDR {loader} satisfies {m}", used, accepted.source)
    return result, _detail(
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
    cpus = facts.cpuid
    masked = platforms_key(table)
    result = cpu_rule(masked, cpus_key(cpus), options.assume_unknown_ok)
    if table is None or masked is None:
        return result, _detail(
            f"release {target}'s CPUID table is not known to any policy source: add a "
            "'platforms' fact", {"to_version": target.text})
    shown = [format_cpuid(p) for p in table.value]
    if cpus is None:
        return _unknown_host_fact("CPUID of the CPU packages", "--cpuid", options,
                                  {"cpuid": None, "platforms": shown})
    if not cpus:
        # An empty list names no package, so "every package matches" would hold vacuously:
        # fail closed, and do not relax it (it was given, wrongly). Sources refuse it too.
        return result, _detail("no CPU package given: give the CPUID of every package "
                               "(--cpuid, repeatable)", {"cpuid": [], "platforms": shown})
    used = {"cpuid": [format_cpuid(c) for c in cpus], "platforms": shown}
    if result is _PASS:
        return _PASS, _detail(
            f"every CPU package ({', '.join(format_cpuid(c) for c in dict.fromkeys(cpus))}) is in "
            f"release {target}'s CPUID table", used, table.source)
    bad = [c for c in cpus if cpuid_family_model(c) not in masked]
    return result, _detail(
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
    result = debug_rule(debug, options.allow_debug)
    if debug is None:
        return result, _detail(
            f"whether release {target} is debug-signed is not known to any policy source (no "
            "image of it was read: no 'seamhash' or 'debug' fact); give its image with "
            "--image PATH or add a policy document with its 'seamhash' (and 'debug' if set)",
            {"debug": None, "to_version": target.text})
    used = {"debug": debug, "by": "debug" if t.facts.debug is not None else "seamhash"}
    if result is _PASS:
        how = ("its image's module_type bit 31 is clear" if t.facts.debug is not None else
               "its image was read (seamhash) and no source records module_type bit 31")
        return _PASS, _detail(f"release {target} is production-signed: {how}", used, proof)
    if result is _WARN:
        return result, _detail(
            f"release {target} is debug-signed; permitted by --allow-debug (the platform "
            "must be debug-unlocked)", used, proof)
    return result, _detail(
        f"release {target} is debug-signed: production platforms refuse it; pass "
        "--allow-debug only on a debug-unlocked platform", used, proof)


def _support(target: Version, t: Release | None) -> Outcome:
    # policy-format.md `status`: preview -> moves into it warn; withdrawn -> denied.
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    s = t.facts.status
    result = support_rule(None if s is None else s.value.kind)
    if s is None:
        # A status is a policy statement, not a property of the image: no source restricting
        # T is itself the fact, cited by T's declaration.
        return result, _detail(f"release {target} has no support restriction (no 'status' in "
                              "any policy source)", {"status": None},
                              t.declared_at[0] if t.declared_at else None)
    st = s.value
    used = {"status": st.kind.value, "reason": st.reason}
    if result is _FAIL:
        return _FAIL, _detail(f"release {target} is withdrawn: {st.reason}", used, s.source)
    return result, _detail(f"release {target} is a preview: {st.reason}", used, s.source)


def _advisories(target: Version, t: Release | None, options: MoveOptions) -> list[Outcome]:
    # policy-format.md `advisory WORD STRING`: a caution shown with every move into T; one
    # check per advisory, passing once acknowledged (`--acknowledge WORD` or `all`).
    if t is None:
        return [(_UNKNOWN, _not_in_catalogue("target", target))]
    if not t.advisories:
        return [(advisory_rule(None, options.acknowledged),
                 _detail(f"release {target} carries no advisory", {"advisories": []}))]
    out: list[Outcome] = []
    ack = options.acknowledged
    for a in t.advisories:
        result = advisory_rule(a.word, ack)
        used = {"word": a.word, "acknowledged": result is _PASS}
        if result is _PASS:
            out.append((result, _detail(f"acknowledged ({a.word}): {a.text}", used, a.source)))
        else:
            out.append((result, _detail(
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
    # `update from >= X` holds "within the series" (policy-format.md; Intel's
    # min_module_version_for_td_preserving compares update numbers of one series), so
    # `>= 1.5.01` never admits 2.0.08 however the triples compare.
    admitting = None if running is None or running.series != target.series else next(
        (u for u in t.update_from if u.versions.matches(running)), None)
    result = update_rule(bool(t.update_from),
                         None if running is None else admitting is not None)
    if not t.update_from:
        return result, _detail(
            f"release {target} has no runtime-update policy: it cannot be updated into at "
            "runtime (install it with a reboot, or add an 'update from' rule)",
            {"update_from": []}, t.declared_at[0] if t.declared_at else None)
    rules = distinct_versets(t.update_from)
    if running is None:
        return result, _detail(
            "running version unknown: cannot tell whether release "
            f"{target}'s update policy admits it", {"from_version": None, "update_from": rules})
    if running.series != target.series:
        return result, _detail(
            f"release {target} admits runtime updates only from its own series "
            f"{target.series_text} (update from {' | '.join(rules)}); {running} is in series "
            f"{running.series_text}", {"from_version": running.text, "update_from": rules},
            t.update_from[0].source)
    if admitting is not None:
        return result, _detail(
            f"release {target} admits updates from {running} (update from "
            f"{admitting.versions})", {"from_version": running.text, "update_from": rules},
            admitting.source)
    return result, _detail(
        f"release {target} does not admit runtime updates from {running} (update from "
        f"{' | '.join(rules)}): move to an admitted version first (see `tdxpolicy path`)",
        {"from_version": running.text, "update_from": rules}, t.update_from[0].source)


def _policy_deny(catalogue: Catalogue, running: Version | None, target: Version,
                 t: Release | None) -> Outcome:
    # policy-format.md: `deny from VERSET STRING` overrides every `update from`; a document's
    # `deny to VERSET STRING` is a site blocklist: no move into those versions.
    deny_from = None
    if t is not None and running is not None:
        deny_from = next((d for d in t.deny_from if d.versions.matches(running)), None)
    deny_to = next((d for d in catalogue.deny_to if d.versions.matches(target)), None)
    result = policy_deny_rule(
        None if running is None and t is not None and t.deny_from else deny_from is not None,
        deny_to is not None)
    if deny_from is not None:
        return result, _detail(
            f"release {target} denies updates from {running}: {deny_from.reason}",
            {"rule": "deny from", "versions": str(deny_from.versions),
             "reason": deny_from.reason}, deny_from.source)
    if deny_to is not None:
        return result, _detail(
            f"site policy denies moves to {target}: {deny_to.reason}",
            {"rule": "deny to", "versions": str(deny_to.versions), "reason": deny_to.reason},
            deny_to.source)
    if result is _UNKNOWN:
        return result, _detail(
            f"running version unknown: cannot tell whether release {target}'s 'deny from' "
            "rules apply", {"rule": "deny from"})
    return result, _detail("no deny rule matches", {})


def _both_known(running: Version | None, target: Version, r: Release | None,
                t: Release | None, fact: str, key: str) -> Outcome | None:
    """``unknown`` when a pair rule cannot compare the two releases' ``fact`` because one of
    them is not known (target or running release not in the catalogue, running version not
    given); None when both are there. The svn, handoff and features checks share it."""
    if t is None:
        return _UNKNOWN, _not_in_catalogue("target", target)
    if running is None:
        return _UNKNOWN, _detail(f"running version unknown: its {fact} cannot be compared",
                                 {key: None})
    if r is None:
        return _UNKNOWN, _not_in_catalogue("running", running)
    return None


def _svn(running: Version | None, target: Version, r: Release | None,
         t: Release | None) -> Outcome:
    # docs/domain.md#svn (P-SEAMLDR seamldr_install.c): SEAM SVN T.major == R.major else
    # EUNSUPPORTED; T.minor >= R.minor else EBADSIG — after the running module has shut down.
    # Both values only come from the catalogue: unknown is never relaxed.
    unknown = _both_known(running, target, r, t, "SVN", "from_svn")
    if unknown is not None:
        return unknown
    assert r is not None and t is not None  # what _both_known returning None means
    ts, rs = t.facts.svn, r.facts.svn
    result = svn_rule(svn_key(rs), svn_key(ts))
    if ts is None or rs is None:
        missing = [str(v) for v, s in ((target, ts), (running, rs)) if s is None]
        return result, _detail(
            f"SEAM SVN of release {' and '.join(missing)} is not known to any policy source: "
            "P-SEAMLDR's SVN rule cannot be checked; add an 'svn' fact",
            {"from_svn": None if rs is None else str(rs.value),
             "to_svn": None if ts is None else str(ts.value)},
            None if ts is None else ts.source)
    a, b = rs.value, ts.value
    used = {"from_svn": str(a), "to_svn": str(b)}
    if result is _PASS:
        return _PASS, _detail(f"SEAM SVN {a} -> {b} (major equal, minor not lower)", used,
                              ts.source)
    if a.major != b.major:
        return result, _detail(
            f"SEAM SVN major differs ({running} has {a}, {target} has {b}): P-SEAMLDR returns "
            "EUNSUPPORTED", used, ts.source)
    return result, _detail(
        f"SEAM SVN would fall from {a} ({running}) to {b} ({target}): P-SEAMLDR rejects "
        "with EBADSIG after the running module has shut down: every running TD would be "
        "killed", used, ts.source)


def _handoff(running: Version | None, target: Version, r: Release | None,
             t: Release | None) -> Outcome:
    # docs/domain.md#handoff: the merged kernel shuts R down at R's native handoff version
    # R.module_hv, so T needs T.min_update_hv <= R.module_hv <= T.module_hv.
    unknown = _both_known(running, target, r, t, "handoff version", "from_module_hv")
    if unknown is not None:
        return unknown
    assert r is not None and t is not None  # what _both_known returning None means
    th, rh = t.facts.handoff, r.facts.handoff
    result = handoff_rule(None if rh is None else rh.value.module_hv, handoff_key(th))
    if th is None or rh is None:
        missing = [str(v) for v, s in ((target, th), (running, rh)) if s is None]
        return result, _detail(
            f"handoff versions of release {' and '.join(missing)} are not known to any policy "
            "source: the handoff rule cannot be checked; add a 'handoff' fact",
            {}, None if th is None else th.source)
    hv = rh.value.module_hv
    lo, hi = th.value.min_update_hv, th.value.module_hv
    used = {"from_module_hv": hv, "to_min_update_hv": lo, "to_module_hv": hi}
    if result is _PASS:
        return _PASS, _detail(
            f"{running} hands off at version {hv}; {target} imports {lo}..{hi}", used,
            th.source)
    return result, _detail(
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
    granted = None if r is None or kind is not MoveKind.ROLLBACK else next(
        (rb for rb in r.rollback_to if rb.versions.matches(target)), None)
    result = rollback_rule(kind, svn, handoff, None if r is None else granted is not None,
                           options.allow_rollback)
    if kind is None:
        return result, _detail("running version unknown: the direction of the move is "
                               "unknown", {"kind": None})
    if kind is not MoveKind.ROLLBACK:
        return result, _detail(f"not a rollback ({kind.value})", {"kind": kind.value})
    assert running is not None
    if svn is not _PASS or handoff is not _PASS:
        failing = [c for c, res in (("svn", svn), ("handoff", handoff)) if res is not _PASS]
        return result, _detail(
            f"rollback {running} -> {target} is never permitted while the "
            f"{' and '.join(failing)} check does not pass: P-SEAMLDR would reject it after the "
            "running module has shut down", {"kind": "rollback", "blocked_by": failing})
    if r is None:
        return result, _not_in_catalogue("running", running)
    if granted is not None:
        return result, _detail(
            f"release {running} permits a rollback to {target} (rollback to "
            f"{granted.versions})", {"kind": "rollback", "rollback_to": str(granted.versions)},
            granted.source)
    if result is _WARN:
        return result, _detail(
            "operator permits a rollback the policy does not grant; loader rules still apply",
            {"kind": "rollback", "allow_rollback": True})
    return result, _detail(
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
            result = fresh_rule(date, today)
            if result is _PASS:
                continue
            if today is None:
                # Nothing proves the document current: a warning (denies under --strict),
                # never a pass. Only API callers get here; the CLI always passes the date.
                out.append((result, _detail(
                    f"policy document {name} expires on {date.isoformat()} but no current "
                    "date was given (MoveOptions.today): its freshness is not checked",
                    {"document": name, "expires": date.isoformat(), "today": None},
                    exp.source)))
            else:
                out.append((result, _detail(
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
    unknown = _both_known(running, target, r, t, "TDX_FEATURES0", "from_features0")
    if unknown is not None:
        return unknown
    assert r is not None and t is not None  # what _both_known returning None means
    tf, rf = t.facts.features0, r.facts.features0
    ack = advisory_rule(FEATURES_LOST_WORD, options.acknowledged) is _PASS
    result = features_rule(None if rf is None else rf.value, None if tf is None else tf.value,
                           ack)
    how = f"acknowledge with --acknowledge {FEATURES_LOST_WORD}"
    if tf is None or rf is None:
        missing = [str(v) for v, f in ((running, rf), (target, tf)) if f is None]
        used: dict[str, Any] = {
            "from_features0": None if rf is None else show_fact("features0", rf.value),
            "to_features0": None if tf is None else show_fact("features0", tf.value),
            "lost": None, "word": FEATURES_LOST_WORD, "acknowledged": ack}
        what = (f"TDX_FEATURES0 of release {' and '.join(missing)} is not known to any policy "
                "source: cannot tell whether the move loses features")
        where = None if tf is None else tf.source
        if result is _PASS:
            return result, _detail(f"acknowledged ({FEATURES_LOST_WORD}): {what}", used, where)
        return result, _detail(f"{what} ({how}, or add a 'features0' fact)", used, where)
    lost = rf.value & ~tf.value
    used = {"from_features0": show_fact("features0", rf.value),
            "to_features0": show_fact("features0", tf.value),
            "lost": [b for b in range(lost.bit_length()) if lost >> b & 1]}
    if not lost:
        return result, _detail(
            f"release {target} has every TDX_FEATURES0 bit of {running} "
            f"({used['from_features0']} -> {used['to_features0']})", used, tf.source)
    used.update(word=FEATURES_LOST_WORD, acknowledged=ack)
    bits = ", ".join(feature_bits(lost))
    plural = "s" if len(used["lost"]) > 1 else ""
    what = (f"release {target} lacks TDX_FEATURES0 bit{plural} {bits} that the running "
            f"{running} has ({used['from_features0']} -> {used['to_features0']}): P-SEAMLDR "
            "does not check this; the kernel only logs it after the update, and what the "
            "running module offered may stop working")
    if result is _PASS:
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


# --- the checks as a provider for the path search ------------------------------------------
#
# resolvelib's provider model: the resolver (here plan.py's breadth-first search) owns only
# the search, and asks the provider which candidates exist (``candidates``) and whether a
# candidate is acceptable (``enterable``, ``allows``). HopRules answers with the rule
# functions above, evaluated on keys computed once per release: nothing of a rule is stated
# again here, only which keys each rule is given.


#: A release's keys for the target rules: (seamldr, platforms, debug, status, advisory words).
TargetKey = tuple[tuple[Triple, ...] | None, frozenset[int] | None, bool | None,
                  StatusKind | None, tuple[str, ...]]


class ReleaseKeys:
    """One release's keys for the rules, computed once per catalogue. ``target`` numbers its
    :data:`TargetKey` within the series, so releases with equal target facts share one
    evaluation of the target rules per search; ``rules`` are its ``update from`` rules as
    index intervals of the sorted series (:meth:`VersionSet.index_range`, the interval form
    :meth:`VersionSet.matches` decides with)."""

    __slots__ = ("release", "version", "target", "svn", "handoff", "module_hv", "features0",
                 "has_rules", "rules", "deny_from", "rollback_to", "declared_at")

    def __init__(self, rel: Release, codes: list[int], target_ids: dict[TargetKey, int]) -> None:
        # Built for every release a search touches (all of a 10,000-release series on the cold
        # path of `path`): only the keys are computed here; what is read once per hop, and
        # rarely (deny/rollback rules, declaring files), stays the release's own tuples.
        self.release, self.version = rel, rel.version
        f = rel.facts
        status = f.status
        advisories = rel.advisories
        target: TargetKey = (seamldr_key(f.seamldr), platforms_key(f.platforms),
                             f.signing()[0], None if status is None else status.value.kind,
                             tuple([a.word for a in advisories]) if advisories else ())
        self.target = target_ids.setdefault(target, len(target_ids))
        self.svn = svn_key(f.svn)
        handoff = self.handoff = handoff_key(f.handoff)
        self.module_hv = None if handoff is None else handoff[1]
        self.features0 = None if f.features0 is None else f.features0.value
        self.has_rules = bool(rel.update_from)
        # (lo, hi, excluded): indices lo <= u <= hi admitted, except those in excluded
        self.rules: list[tuple[int, int, frozenset[int] | None]] = []
        for rule in rel.update_from:
            lo, hi, excluded = rule.versions.index_range(codes)
            if lo < hi:
                self.rules.append((lo, hi - 1, frozenset(excluded) if excluded else None))
        self.deny_from = rel.deny_from
        self.rollback_to = rel.rollback_to
        self.declared_at = rel.declared_at

    def files(self) -> Iterator[str]:
        """The documents that declare this release (``policy-fresh``)."""
        return (loc.file for loc in self.declared_at)

    def admits(self, u: int) -> bool:
        """Whether one of this release's ``update from`` rules admits release ``u``."""
        for lo, hi, excluded in self.rules:
            if lo <= u <= hi and (excluded is None or u not in excluded):
                return True
        return False


class SeriesKeys:
    """The releases of one series, oldest first, with their :class:`ReleaseKeys` (built on
    first use, cached on the catalogue by :func:`series_keys`)."""

    __slots__ = ("releases", "versions", "index", "codes", "target_keys", "_keys",
                 "_target_ids")

    def __init__(self, releases: tuple[Release, ...]) -> None:
        self.releases = releases
        self.versions = [r.version for r in releases]
        self.index = {v.key: i for i, v in enumerate(self.versions)}
        self.codes = encode_all(self.versions)  # for VersionSet.index_range
        self._keys: dict[int, ReleaseKeys] = {}
        self._target_ids: dict[TargetKey, int] = {}
        self.target_keys: list[TargetKey] = []

    def __len__(self) -> int:
        return len(self.releases)

    def keys(self, i: int) -> ReleaseKeys:
        k = self._keys.get(i)
        if k is None:
            k = self._keys[i] = ReleaseKeys(self.releases[i], self.codes, self._target_ids)
            if k.target == len(self.target_keys):
                self.target_keys.append(next(reversed(self._target_ids)))
        return k


def series_keys(catalogue: Catalogue, series: tuple[int, int]) -> SeriesKeys:
    cache: dict[str, Any] = catalogue.__dict__.setdefault("_engine_cache", {})
    by_series: dict[tuple[int, int], SeriesKeys] = cache.setdefault("series", {})
    s = by_series.get(series)
    if s is None:
        s = by_series[series] = SeriesKeys(catalogue.series(series))
    return s


class HopRules:
    """The checks of :func:`decide` for hops inside one series, for one (catalogue, host
    facts, options); the path search's provider.

    - :meth:`candidates` (find the candidates): the releases that can precede v at all, the
      intervals of v's ``update from`` rules (``update-rule``).
    - :meth:`enterable` (the target half): the target checks (``seamldr``, ``cpu``, ``debug``,
      ``support-status``, ``advisory``), ``policy-deny``'s ``deny to`` and ``policy-fresh``
      for the documents declaring T or holding a ``deny to``, evaluated once per distinct
      :data:`TargetKey` and cached per release.
    - :meth:`allows` (is satisfied by): the pair checks ``update-rule``, ``policy-deny``'s
      ``deny from``, ``svn``, ``handoff``, ``rollback-rule``, ``policy-fresh`` for the
      documents declaring R, ``features``.

    ``policy-deny`` and ``policy-fresh`` deny when either half does (an OR of matches), so
    judging the halves apart decides the same. Not asked: ``target-known``,
    ``running-known`` and ``same-series`` hold for two releases of one series of the
    catalogue; ``remaining-updates`` is the path's length against the budget (plan.py).
    ``tests/test_search_oracle.py`` compares ``enterable and allows`` with :func:`decide` on
    every ordered pair.
    """

    def __init__(self, catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
                 series: SeriesKeys) -> None:
        self.series = series
        strict = options.strict
        self._denying = frozenset([r for r in Result if denies(r, strict)])
        self._loader = None if facts.seamldr_version is None else facts.seamldr_version.key
        self._cpus = cpus_key(facts.cpuid)
        self._relax = options.assume_unknown_ok
        self._allow_debug = options.allow_debug
        self._allow_rollback = options.allow_rollback
        self._acknowledged = options.acknowledged
        self._features_ack = advisory_rule(FEATURES_LOST_WORD, options.acknowledged) is _PASS
        self._deny_to = [d.versions for d in catalogue.deny_to]
        today = options.today
        self._stale = {name for name, dates in _contributing_documents(catalogue).items()
                       if any(fresh_rule(d.value, today) in self._denying for d in dates)}
        self._stale_everywhere = any(d.source.file in self._stale for d in catalogue.deny_to)
        self._targets: dict[int, bool] = {}
        self._enterable: dict[int, bool] = {}

    def candidates(self, v: int) -> list[tuple[int, int, frozenset[int] | None]]:
        """(lo, hi, excluded): the indices lo <= u <= hi, except excluded, that v's ``update
        from`` rules admit; no other release can precede v."""
        return self.series.keys(v).rules

    def _target_passes(self, key: TargetKey) -> bool:
        seamldr, platforms, debug, status, words = key
        results = [seamldr_rule(seamldr, self._loader, self._relax),
                   cpu_rule(platforms, self._cpus, self._relax),
                   debug_rule(debug, self._allow_debug),
                   support_rule(status)]
        results += [advisory_rule(w, self._acknowledged) for w in words or (None,)]
        return self._denying.isdisjoint(results)

    def enterable(self, i: int) -> bool:
        """No target check denies moving into release i (from any release of the series)."""
        ok = self._enterable.get(i)
        if ok is None:
            ok = self._enterable[i] = self._enterable_uncached(i)
        return ok

    def _enterable_uncached(self, i: int) -> bool:
        k = self.series.keys(i)
        ok = self._targets.get(k.target)
        if ok is None:
            ok = self._targets[k.target] = self._target_passes(
                self.series.target_keys[k.target])
        if not ok:
            return False
        if self._deny_to and policy_deny_rule(
                False, any(d.matches(k.version) for d in self._deny_to)) in self._denying:
            return False
        # policy-fresh: its rule's result per document was judged once, into self._stale.
        return not (self._stale_everywhere or
                    self._stale and any(f in self._stale for f in k.files()))

    def allows(self, u: int, v: int) -> bool:
        """No pair check denies the hop u -> v (v's target half is :meth:`enterable`)."""
        keys = self.series.keys
        ku, kv = keys(u), keys(v)
        denying = self._denying
        if update_rule(kv.has_rules, kv.admits(u)) in denying:
            return False
        if kv.deny_from and policy_deny_rule(
                any(d.versions.matches(ku.version) for d in kv.deny_from), False) in denying:
            return False
        svn = svn_rule(ku.svn, kv.svn)
        if svn in denying:
            return False
        handoff = handoff_rule(ku.module_hv, kv.handoff)
        if handoff in denying:
            return False
        if v < u:  # the series is sorted: a lower index is a rollback (move_kind)
            granted = any(r.versions.matches(kv.version) for r in ku.rollback_to)
            if rollback_rule(MoveKind.ROLLBACK, svn, handoff, granted,
                             self._allow_rollback) in denying:
                return False
        if self._stale and any(f in self._stale for f in ku.files()):
            return False
        return features_rule(ku.features0, kv.features0, self._features_ack) not in denying


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

