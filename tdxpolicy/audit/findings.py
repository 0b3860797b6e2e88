"""Audit findings and the catalogue of audit rules.

A :class:`Finding` is one thing the audit found: a stable rule id, a severity, a message an
operator can act on, and every place involved (document lines, JSON paths, image byte offsets),
the first being the primary one. Findings are data; renderers (:mod:`tdxpolicy.audit.report`,
:mod:`tdxpolicy.render.sarif`) turn them into text, JSON and SARIF.

:data:`RULES` describes every rule (id, default severity, descriptions, and the docs/domain.md
rule it rests on). Ids are part of the CLI contract: add, never rename.
"""

from __future__ import annotations

import hashlib
from enum import Enum

from .._value import value
from ..model import Location
from ..render.safe_text import os_bytes

__all__ = ["Severity", "Finding", "RuleInfo", "RULES", "RULE_IDS", "rule_info", "fingerprint"]


class Severity(str, Enum):
    ERROR = "error"  # a move the loader or kernel would break on, or data that cannot be trusted
    WARNING = "warning"  # the data is incomplete or a rule does not do what it says
    NOTE = "note"  # worth knowing, nothing is wrong


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}


def severity_rank(s: Severity) -> int:
    return _RANK[s]


@value
class Finding:
    """One finding. ``locations[0]`` is the primary place; the others are related places.

    ``subject`` names what the finding is about (a release version, an image path, a document);
    ``keys`` are the values that identify the finding across runs (they feed the SARIF
    ``partialFingerprints``; line numbers never do, so moving a line keeps the identity).
    """

    rule: str
    severity: Severity
    message: str
    locations: tuple[Location, ...]
    subject: str = ""
    keys: tuple[str, ...] = ()

    @property
    def primary(self) -> Location | None:
        return self.locations[0] if self.locations else None

    @property
    def related(self) -> tuple[Location, ...]:
        return self.locations[1:]


def fingerprint(f: Finding) -> str:
    """A stable identity: rule id + the primary location's file (normalised) and logical
    anchor (JSON path) + subject + key values. Not line numbers: a finding keeps its identity
    when lines move above it."""
    p = f.primary
    where = ""
    if p is not None:
        where = p.file.replace("\\", "/")
        if p.path is not None:
            where += "#" + p.path
    text = "\x1f".join((f.rule, where, f.subject, *f.keys))
    # os_bytes: a file name that is not valid UTF-8 hashes as its real bytes (UTF-8 text
    # hashes exactly as before), instead of failing to encode.
    return hashlib.sha256(os_bytes(text)).hexdigest()[:32]


@value
class RuleInfo:
    """Description of one audit rule (also the SARIF ``reportingDescriptor``)."""

    id: str
    name: str  # CamelCase, SARIF `name`
    severity: Severity
    short: str
    full: str
    help: str
    basis: str  # the docs/domain.md / policy-format.md rule it rests on


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        "no-update-policy",
        "NoUpdatePolicy",
        Severity.WARNING,
        "Release has a published MRSEAM but no update policy.",
        "Intel published the release (its MRSEAM is in the release table) but no source gives "
        "it an `update from` rule, so no running module may be updated into it at runtime.",
        "Add the release's update policy (Intel's mapping_file.json entry, or an `update from` "
        "line in a policy document) once Intel publishes it; until then the release can only "
        "be loaded at boot.",
        "policy-format.md, 'Meaning of a missing fact': a release with no `update from` rule "
        "cannot be updated into at runtime; docs/domain.md#known-gaps.",
    ),
    RuleInfo(
        "no-published-mrseam",
        "NoPublishedMrseam",
        Severity.WARNING,
        "Release has an image or update policy but no published MRSEAM.",
        "A release that can be installed (an update policy or an image exists) has no MRSEAM "
        "in any source, so the measurement of the module cannot be checked against Intel's "
        "published table and remote attestation verifiers will not recognise it.",
        "Check the image's seamhash against a trusted source before using it; add the MRSEAM "
        "to a policy document (`mrseam 0x...`) once Intel publishes it.",
        "docs/domain.md#sigstruct: seamhash = SHA-384 of the module pages = the published "
        "MRSEAM; #known-gaps: 2.0.05 has an image and a mapping entry but no MRSEAM row.",
    ),
    RuleInfo(
        "source-disagreement",
        "SourceDisagreement",
        Severity.ERROR,
        "Sources state different values for the same fact of a release.",
        "Two sources (Intel's mapping JSON, Intel's README table, the MRSEAM table, policy "
        "documents, images) give a release different facts (SVN, platforms, P-SEAMLDR lines, "
        "MRSEAM/seamhash, TDX_FEATURES0, handoff, ...) or admit different running versions in "
        "their update rules. Merging refuses such documents; the audit names every place.",
        "Find out which source is right and correct or remove the other declaration.",
        "policy-format.md, 'Merging': a fact declared in several places must have the same "
        "value everywhere; docs/domain.md#update-rule.",
    ),
    RuleInfo(
        "svn-decrease",
        "SvnDecrease",
        Severity.ERROR,
        "SEAM SVN decreases (or changes major) as the version increases inside a series.",
        "P-SEAMLDR refuses an update whose SVN is lower than the running module's (EBADSIG) or "
        "whose major SVN differs (EUNSUPPORTED), after the running module has shut down, which "
        "kills every TD. A newer release with a lower SVN makes the upgrade from the older one "
        "destructive.",
        "Check the SVN declarations; never update from the older release into the newer one "
        "at runtime.",
        "docs/domain.md#svn: T.major == R.major else EUNSUPPORTED; T.minor >= R.minor "
        "else EBADSIG.",
    ),
    RuleInfo(
        "features-lost",
        "FeaturesLost",
        Severity.WARNING,
        "TDX_FEATURES0 bits are lost on an upgrade inside a series.",
        "A runtime upgrade from the older release to the newer one removes TDX_FEATURES0 bits "
        "that the older release reports; software that detected a feature at boot may rely on "
        "it after the update.",
        "Check with the hypervisor and guest owners that no feature named here is in use "
        "before updating; prefer a path that keeps the bits.",
        "docs/domain.md#known-gaps: `tdx_feature0` bits disappear on some 2.0.x upgrades; "
        "#linux-interface: TDX_FEATURES0 bit 1 gates the runtime-update interface itself.",
    ),
    RuleInfo(
        "unknown-version-ref",
        "UnknownVersionRef",
        Severity.WARNING,
        "A rule refers to a version that no source knows.",
        "An `update from`, `deny from`, `rollback to` or `deny to` clause names a version that "
        "no source declares as a release: often a typo, or a bound that does not mean what "
        "was intended.",
        "Correct the version, or add the release to a policy document if it exists.",
        "docs/domain.md#unknown-running-version: a running or target version that the "
        "catalogue does not know cannot be checked (fail closed).",
    ),
    RuleInfo(
        "never-matches",
        "NeverMatches",
        Severity.WARNING,
        "A rule can never match.",
        "The rule's clauses admit no version it could apply to: `update from` and `deny from` "
        "apply to running versions of the same series not newer than the release, `rollback "
        "to` to older versions of the series; clauses may contradict each other; or every "
        "version an `update from` admits is denied by `deny from`.",
        "Fix the version set; delete the rule if it is not needed.",
        "docs/domain.md#same-series and #update-rule; policy-format.md, Rules (`deny from` "
        "overrides every `update from`).",
    ),
    RuleInfo(
        "unreachable-release",
        "UnreachableRelease",
        Severity.WARNING,
        "No older release can ever update into this release at runtime.",
        "The release's update policy (and its SVN) admits no other known release of its series "
        "although older ones exist: hosts running them need a reboot to reach it.",
        "If the policy is intended, plan a reboot for hosts on older releases; otherwise fix "
        "the `update from` rule.",
        "docs/domain.md#update-rule and #svn; policy-format.md, 'Meaning of a missing "
        "fact'.",
    ),
    RuleInfo(
        "stale-document",
        "StaleDocument",
        Severity.WARNING,
        "A document's `expires` date has passed.",
        "After its `expires` date a document is stale: every verdict that uses it warns "
        "(`policy-fresh`) and fails under `--strict`.",
        "Review the document and issue it again with a new `expires` date.",
        "policy-format.md, Document statements: `expires DATE`.",
    ),
    RuleInfo(
        "image-invalid",
        "ImageInvalid",
        Severity.ERROR,
        "An image does not verify.",
        "The image fails a check the kernel or P-SEAMLDR makes (header, checksum, sigstruct "
        "constants, signature, module hash, ...). P-SEAMLDR's checks run after the running "
        "module has shut down: uploading it would kill every TD.",
        "Do not use the image; obtain it again from Intel's repository.",
        "docs/domain.md#image-formats and #sigstruct-checks.",
    ),
    RuleInfo(
        "image-mismatch",
        "ImageMismatch",
        Severity.ERROR,
        "An image does not match the catalogue.",
        "The image's seamhash is the MRSEAM of no known release, its file name names another "
        "version than its hash identifies, or its sigstruct facts (SVN, platforms, handoff, "
        "debug) differ from what the sources say about that release. Decisions made from the "
        "catalogue would not hold for this image.",
        "Identify the image by its seamhash, not its file name; obtain the right image, or "
        "correct the catalogue.",
        "docs/domain.md#sigstruct: seamhash = SHA-384 of the module = the published MRSEAM; "
        "docs/cli.md#commands: image facts are cross-checked against the catalogue.",
    ),
)

RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULES)
_BY_ID = {r.id: r for r in RULES}


def rule_info(rule_id: str) -> RuleInfo:
    return _BY_ID[rule_id]
