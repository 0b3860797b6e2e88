"""Prometheus metrics for node_exporter's textfile collector.

node_exporter reads every ``*.prom`` file of its ``--collector.textfile.directory`` and
exposes the samples as its own; the file must be in the Prometheus text exposition format
(prometheus.io, "Exposition formats": ``# HELP`` and ``# TYPE`` lines, then one
``name{label="value",...} number`` line per sample, each line ending in a newline) and must be
replaced atomically (:func:`tdxpolicy.atomic.write_atomic`), because the collector may read it
at any moment.

Names follow Prometheus' naming practices (prometheus.io, "Metric and label naming"): a
single-word prefix per domain (``tdx_module_`` for what the host runs, ``tdxpolicy_`` for what
tdxpolicy decided), base units with the unit as suffix (``_seconds``), ``_info`` for a
pseudo-metric whose labels carry the data and whose value is 1. Every family is a gauge: each
file is a snapshot, nothing here counts up. No sample carries a host label: the scrape's
``instance`` already says which host it is. docs/exporters.md lists every family with an
example.

Fail closed, as everywhere: ``tdxpolicy_update_allowed`` is 1 only for a move a verdict
allows, and a fact that is unknown is either ``"unknown"`` in an info label or a missing
sample (``tdx_module_remaining_updates``), never a number that could read as a good value.

No I/O: returns the text.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..errors import InvalidArgument
from ..hostfacts import HostFacts
from ..verdict import SelectResult, Verdict
from .exported import decisions

if TYPE_CHECKING:
    from ..host.probe import Interface

__all__ = ["prometheus_text", "escape_label_value", "escape_help", "OUTCOMES", "UNKNOWN",
           "METRIC_NAME_RE", "LABEL_NAME_RE"]

UNKNOWN = "unknown"
# The `outcome` values of update records (schemas/update-record.schema.json,
# tdxpolicy.host.upload.Outcome; tests/test_exporters.py keeps the three equal). Listed here so
# rendering does not import the update machinery.
OUTCOMES = ("updated", "rejected", "module-lost", "timeout", "interrupted",
            "unexpected-version", "denied", "dry-run", "host-unavailable")
# The exposition format's name rules; colons are left to recording rules (Prometheus data
# model), so exporters never use them.
METRIC_NAME_RE = re.compile(r"\A[a-zA-Z_][a-zA-Z0-9_]*\Z")
LABEL_NAME_RE = re.compile(r"\A[a-zA-Z_][a-zA-Z0-9_]*\Z")


def escape_label_value(text: str) -> str:
    """A label value as the text format writes it between double quotes: backslash, double
    quote and line feed escaped (the only three escapes the format defines)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """A ``# HELP`` docstring: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


class _Family:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...]) -> None:
        assert METRIC_NAME_RE.match(name) and all(
            LABEL_NAME_RE.match(n) and not n.startswith("__") for n in labels), name
        self.name = name
        self.help = help_text
        self.labels = labels
        # label values -> sample value; a dict, because one time series may appear once only
        self.samples: dict[tuple[str, ...], float] = {}

    def set(self, value: float, *label_values: str, keep_max: bool = False) -> None:
        key = tuple(label_values)
        old = self.samples.get(key)
        self.samples[key] = value if old is None or not keep_max else max(old, value)

    def set_min(self, value: float, *label_values: str) -> None:
        key = tuple(label_values)
        old = self.samples.get(key)
        self.samples[key] = value if old is None else min(old, value)

    def render(self) -> str:
        out = [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} gauge"]
        for key, v in self.samples.items():
            if self.labels:
                inner = ",".join(f'{n}="{escape_label_value(val)}"'
                                 for n, val in zip(self.labels, key))
                out.append(f"{self.name}{{{inner}}} {_number(v)}")
            else:
                out.append(f"{self.name} {_number(v)}")
        return "\n".join(out) + "\n"


def _aware(what: str, when: Any) -> _dt.datetime:
    if type(when) is not _dt.datetime or when.utcoffset() is None:
        raise InvalidArgument.expected(
            f"prometheus_text() argument {what!r}",
            "a timezone-aware datetime (datetime.now(timezone.utc))", when)
    return when


def _record_time(record: Mapping[str, Any]) -> float | None:
    """The time an update attempt finished (``finished``, ISO 8601), as Unix seconds; None when
    the record has no readable time (an old or damaged line must not stop the export)."""
    text = record.get("finished")
    if not isinstance(text, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.utcoffset() is None:
        when = when.replace(tzinfo=_dt.timezone.utc)  # records are written in UTC
    return when.timestamp()


def prometheus_text(
    *,
    now: _dt.datetime,
    facts: HostFacts | None = None,
    interface: Interface | None = None,
    verdicts: Sequence[Verdict] = (),
    select: SelectResult | None = None,
    records: Iterable[Mapping[str, Any]] = (),
) -> str:
    """The textfile-collector file for one host.

    - ``now``: the time of this run (timezone-aware): ``tdxpolicy_last_run_timestamp_seconds``.
    - ``facts``: the host facts (``probe``: ``result.facts``; a move command: the facts it
      decided on).
    - ``interface``: the probed kernel interface (``probe``: ``result.interface``), for the
      ``interface`` label of ``tdx_module_info``; ``unknown`` without a probe.
    - ``verdicts``: the run's verdicts (``can-upgrade``: one); ``select``: ``select``'s result.
    - ``records``: the update records (``tdxpolicy.host.records.read_records(path)``), oldest
      first; the last one gives ``tdxpolicy_last_update_*``. Empty when there are none.
    """
    now = _aware("now", now)
    facts = facts if facts is not None else HostFacts()
    found = decisions(verdicts, select, facts.module_version)

    info = _Family("tdx_module_info",
                   "The running TDX module: version, P-SEAMLDR version and the kernel's update "
                   "interface (kernel generation); value always 1.",
                   ("version", "seamldr_version", "interface"))
    mv, sv = facts.module_version, facts.seamldr_version
    info.set(1, mv.text if mv is not None else UNKNOWN, sv.text if sv is not None else UNKNOWN,
             interface.label if interface is not None else UNKNOWN)

    remaining = _Family("tdx_module_remaining_updates",
                        "Runtime updates P-SEAMLDR still allows before a reboot "
                        "(num_remaining_updates); absent when unknown.", ())
    if facts.num_remaining_updates is not None:
        remaining.set(facts.num_remaining_updates)

    allowed = _Family("tdxpolicy_update_allowed",
                      "1 when tdxpolicy allows the runtime move to target, else 0.",
                      ("target", "kind"))
    failed = _Family("tdxpolicy_check_failed",
                     "1 when the check denies the move to target (fail, unknown, or warn under "
                     "--strict), 0 when it ran and does not.", ("target", "check"))
    for d in found:
        target = d.target.text
        kind = d.kind.value if d.kind is not None else UNKNOWN
        # The same move twice (two verdicts of one run): allowed only if both allow it.
        allowed.set_min(1 if d.allowed else 0, target, kind)
        for c in d.checks:
            failed.set(1 if c.denies else 0, target, c.code, keep_max=True)

    outcome = _Family("tdxpolicy_last_update_outcome",
                      "Outcome of the last recorded update attempt: 1 for it, 0 for every "
                      "other outcome; no sample before the first attempt.", ("outcome",))
    finished = _Family("tdxpolicy_last_update_timestamp_seconds",
                       "When the last recorded update attempt finished (Unix time).", ())
    last: Mapping[str, Any] | None = None
    for record in records:
        last = record
    if last is not None:
        word = last.get("outcome")
        word = word if isinstance(word, str) and word else UNKNOWN
        for o in OUTCOMES:
            outcome.set(1 if o == word else 0, o)
        if word not in OUTCOMES:  # a newer or damaged record: still shown, as itself
            outcome.set(1, word)
        when = _record_time(last)
        if when is not None:
            finished.set(when)

    run = _Family("tdxpolicy_last_run_timestamp_seconds",
                  "When tdxpolicy last wrote this file (Unix time).", ())
    run.set(now.timestamp())

    return "".join(f.render() for f in (info, remaining, allowed, failed, outcome, finished,
                                        run))
