"""Kubernetes node-feature-discovery (NFD) feature file: the host's TDX module facts as labels.

NFD's ``local`` feature source reads plain files from
``/etc/kubernetes/node-feature-discovery/features.d/`` (NFD customization guide, "Local feature
source" / "Input format"): one ``<namespace>/<name>[=<value>]`` per line, ``#`` comments, and a
``# +expiry-time=<RFC 3339 time>`` directive after which the lines below it are ignored; a file
above 64 kB is ignored whole. Every label here is in NFD's own namespace
``feature.node.kubernetes.io`` under the name prefix ``tdx-module.`` (docs/exporters.md lists
them all)::

    # +expiry-time=2026-11-26T12:30:00Z
    feature.node.kubernetes.io/tdx-module.version=1.5.06
    feature.node.kubernetes.io/tdx-module.update-allowed=false
    feature.node.kubernetes.io/tdx-module.blocked.seamldr=unknown

Names and values obey the Kubernetes label syntax (the name part and the value at most 63
characters of ``[A-Za-z0-9._-]``, beginning and ending with a letter or digit): a value that
does not fit is rewritten (:func:`label_value`) and marked with a hash of what it was, so two
different values never collapse into one label. A fact that is unknown is the value
``unknown`` (no version, count or boolean is spelled that way, and NFD's numeric operators
``Gt``/``Lt`` do not match it). ``update-allowed`` is ``true`` only when every decision given
allows the move (fail closed: a probe alone, or a select that found nothing, says ``false``).

No I/O: returns the text; :func:`tdxpolicy.atomic.write_atomic` writes it as NFD asks
(a dot-file renamed into place).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from typing import TYPE_CHECKING, Sequence

from ..errors import InvalidArgument
from ..hostfacts import HostFacts
from ..verdict import Result, SelectResult, Verdict
from .exported import SEVERITY, Decision, decisions

if TYPE_CHECKING:
    from ..host.probe import ProbeResult

__all__ = ["nfd_features", "label_value", "label_name", "NAMESPACE", "PREFIX", "UNKNOWN",
           "MAX_FILE_BYTES"]

NAMESPACE = "feature.node.kubernetes.io"
PREFIX = "tdx-module."
UNKNOWN = "unknown"
# NFD ignores a feature file larger than this (customization guide, "Input format").
MAX_FILE_BYTES = 64 * 1024
# The Kubernetes label rules (name part and value): at most 63 characters, alphanumerics at
# both ends, '-', '_' and '.' between. A value may also be empty (never produced here).
_MAX = 63
_LABEL_RE = re.compile(r"\A[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
_BAD_RUN = re.compile(r"[^-A-Za-z0-9_.]+")
_EDGE = re.compile(r"\A[^A-Za-z0-9]+|[^A-Za-z0-9]+\Z")
_HASH_LEN = 8


def _fit(text: str, limit: int) -> str:
    """``text`` if it is a valid label part of at most ``limit`` characters; else the valid
    characters kept (each run of others becomes ``_``), cut to fit, with ``-`` and 8 hex
    digits of the SHA-256 of the original appended, so the result stays distinct."""
    if len(text) <= limit and _LABEL_RE.match(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    kept = _EDGE.sub("", _BAD_RUN.sub("_", text))
    kept = _EDGE.sub("", kept[: limit - _HASH_LEN - 1])
    return f"{kept}-{digest}" if kept else f"x{digest}"


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value (at most 63 characters of ``[A-Za-z0-9._-]``,
    alphanumerics at both ends); rewritten and hash-marked when it does not fit."""
    return _fit(text, _MAX)


def label_name(suffix: str) -> str:
    """The full label name ``feature.node.kubernetes.io/tdx-module.<suffix>``; the part after
    the slash is kept within the 63-character rule the same way as values."""
    return f"{NAMESPACE}/{_fit(PREFIX + suffix, _MAX)}"


def _rfc3339(when: _dt.datetime) -> str:
    if type(when) is not _dt.datetime or when.utcoffset() is None:
        raise InvalidArgument.expected(
            "nfd_features() argument 'expires'",
            "a timezone-aware datetime (datetime.now(timezone.utc) + timedelta(...))", when)
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _blocking(found: Sequence[Decision]) -> dict[str, Result]:
    """Every denying check code of the run with its most severe result."""
    out: dict[str, Result] = {}
    for d in found:
        for c in d.blocking:
            old = out.get(c.code)
            if old is None or SEVERITY[c.result] > SEVERITY[old]:
                out[c.code] = c.result
    return out


def nfd_features(
    *,
    expires: _dt.datetime,
    probe: ProbeResult | None = None,
    facts: HostFacts | None = None,
    verdicts: Sequence[Verdict] = (),
    select: SelectResult | None = None,
) -> str:
    """The feature file for one host.

    - ``expires``: when NFD must stop trusting the labels (timezone-aware; written as the
      ``# +expiry-time=`` directive in UTC). Pick it a little beyond the refresh interval, so
      a host whose refresh stopped loses its labels instead of showing stale ones.
    - ``probe``: the probe of this host (``probe``; also gives ``update-interface``).
    - ``facts``: the host facts decided on (``can-upgrade``/``select``); defaults to
      ``probe.facts``.
    - ``verdicts``: the verdicts of the run (``can-upgrade``: one).
    - ``select``: the result of ``select``.

    Labels: ``version``, ``seamldr``, ``remaining-updates`` (``unknown`` when not known),
    ``update-interface`` (with a probe), ``update-allowed``, ``update-target`` (with a
    decision) and one ``blocked.<check-code>`` per denying check, valued ``fail``,
    ``unknown`` or ``warn`` (a warning under ``--strict``).
    """
    stamp = _rfc3339(expires)
    if facts is None and probe is not None:
        facts = probe.facts
    if facts is None:
        facts = HostFacts()
    found = decisions(verdicts, select, facts.module_version)

    labels: list[tuple[str, str]] = []

    def put(suffix: str, val: str) -> None:
        labels.append((label_name(suffix), label_value(val)))

    mv, sv, left = facts.module_version, facts.seamldr_version, facts.num_remaining_updates
    put("version", mv.text if mv is not None else UNKNOWN)
    put("seamldr", sv.text if sv is not None else UNKNOWN)
    put("remaining-updates", str(left) if left is not None else UNKNOWN)
    if probe is not None:
        put("update-interface", "true" if probe.interface.usable else "false")
    allowed = bool(found) and all(d.allowed for d in found)
    put("update-allowed", "true" if allowed else "false")
    if found:
        put("update-target", found[-1].target.text)
    for code, result in sorted(_blocking(found).items()):
        put("blocked." + code, result.value)

    lines = [
        "# tdxpolicy: TDX module facts and update decision (docs/exporters.md)",
        # NFD reads the expiry directive for the lines that follow it.
        f"# +expiry-time={stamp}",
    ]
    seen: set[str] = set()
    for name, val in labels:
        if name in seen:  # NFD would keep one of two equal names anyway; say it once
            continue
        seen.add(name)
        lines.append(f"{name}={val}")
    return "\n".join(lines) + "\n"
