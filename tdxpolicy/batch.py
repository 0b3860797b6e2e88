"""Decide for many hosts from Python: the ``fleet`` command as an iterator of plain rows.

    >>> import tdxpolicy
    >>> rows = tdxpolicy.decide_many(
    ...     [{"host": "a", "module_version": "1.5.06", "seamldr_version": "2.0.00",
    ...       "cpuid": ["0x806F8"], "num_remaining_updates": 5},
    ...      {"host": "b", "module_version": "1.5.16"}],
    ...     target="1.5.16", options=tdxpolicy.MoveOptions(acknowledged=frozenset({"all"})))
    >>> [(r["host"], r["action"], r["allowed"]) for r in rows]
    [('a', 'update', True), ('b', 'current', False)]

Every row is a ``dict`` of scalars (str, int, bool or None) with the same keys, so that a list of
rows is a table (pandas, Spark, Dask, CSV): ``host``, ``line`` (1-based position in the input),
``from``, ``to``, ``kind``, ``action`` (``update`` | ``current`` | ``blocked`` | ``error``),
``allowed``, ``failed`` and ``unknown`` (check codes separated by spaces, ``""`` when none),
``hops`` (``--select``: hops to the selected release; None otherwise), ``error`` (the message of
a malformed item, else None), then the ``keep`` columns. Items are dicts shaped like
``schemas/host-facts.schema.json`` or JSON lines (str or bytes); a malformed item is an
``error`` row, never an exception, exactly as in ``tdxpolicy fleet``.

A :class:`Decider` holds the catalogue, the options and the memo of answers; it pickles
without its memo (small, and rebuilt on first use), so one can be built on a driver and shipped
to workers. docs/fleet.md shows it under Spark ``mapInPandas`` and Dask ``map_partitions``.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

from .catalogue import Catalogue
from .fleet import FleetDecider, FleetSummary
from .verdict import MoveOptions
from .version import Version, parse_version

__all__ = ["Decider", "decide_many", "ROW_COLUMNS"]

ROW_COLUMNS = ("host", "line", "from", "to", "kind", "action", "allowed", "failed", "unknown",
               "hops", "error")


class Decider:
    """Decide many hosts against one catalogue: ``target`` (one move per host) or
    ``select=True`` (the newest release each host can reach within ``max_hops``)."""

    def __init__(
        self,
        target: Version | str | None = None,
        *,
        select: bool = False,
        catalogue: Catalogue | None = None,
        options: MoveOptions | None = None,
        max_hops: int = 1,
        keep: Sequence[str] = (),
    ) -> None:
        if (target is None) == (not select):
            raise ValueError("give exactly one of target=VERSION or select=True")
        if target is not None and max_hops != 1:
            raise ValueError("max_hops applies only with select=True (a target is one move)")
        if max_hops < 1:
            raise ValueError("max_hops must be at least 1")
        if isinstance(target, str):
            target = parse_version(target)
        if catalogue is None:
            from .api import load_catalogue

            catalogue = load_catalogue()
        self._decider = FleetDecider(catalogue, options or MoveOptions(), target=target,
                                     max_hops=max_hops, file="<rows>", fmt="json", keep=keep)

    @property
    def columns(self) -> tuple[str, ...]:
        """The keys of every row, in order."""
        return ROW_COLUMNS + self._decider.keep

    def rows(self, facts: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """One row per item of ``facts``, in order (lazily)."""
        return self._decider.rows(facts)

    __call__ = rows

    def summary(self) -> FleetSummary:
        """Counts over every row this decider produced (in this process)."""
        return self._decider.summary()


def decide_many(
    facts: Iterable[Any],
    target: Version | str | None = None,
    *,
    select: bool = False,
    catalogue: Catalogue | None = None,
    options: MoveOptions | None = None,
    max_hops: int = 1,
    keep: Sequence[str] = (),
) -> Iterator[dict[str, Any]]:
    """One compact row per host of ``facts`` (see the module docs); ``catalogue`` defaults to
    the embedded one, ``options`` to :class:`MoveOptions` defaults."""
    return Decider(target, select=select, catalogue=catalogue, options=options,
                   max_hops=max_hops, keep=keep).rows(facts)
