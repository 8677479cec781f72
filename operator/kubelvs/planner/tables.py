"""The node's IPVS tables (services, destinations, masquerades) kept merged from one plan to the next.

Only director roles make these three maps, and they are the node state's large ones (a destination and a
masquerade per endpoint). Merging every share into them again on each plan, and diffing the result against
the last, cost the agent O(table) per pass under endpoint churn (P7); :class:`MergedTables` instead takes
out what a changed share had and puts in what it has, and says what changed (:class:`TableChanges`), so the
reconciler need not find it again. The result is the full merge's, map for map (not in its order);
:meth:`MergedTables.rebuild` is that full merge, taken whenever the incremental one could differ from it.

The destination and masquerade maps are written in place: copying them on every change was a large part of
the agent's time under churn (benchmarks/README.md, P7). So a state they went into sees the next update's
writes; only its :class:`TableChanges` say what it was (the reconciler reads them, and falls back on a full
pass). Services, whose old values an edit is made against, are copied on write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from kubelvs.netstate import Destination, DestKey, NodeState, Service, ServiceKey, SnatRule, TableChanges
from kubelvs.planner.parts import Parts

K = TypeVar("K")
V = TypeVar("V", Service, Destination)


EMPTY = Parts()  # a share that is not (or no longer) a director role: never written to


_MISSING = object()  # in an undo log: the key was not in the map


class Overlap(Exception):
    """Two shares make the same service or destination key: only the full merge says which one wins."""


class MergedTables:
    """The three maps of every director share, as of the last :meth:`update` or :meth:`rebuild`."""

    def __init__(self) -> None:
        self.services: dict[ServiceKey, Service] = {}
        self.destinations: dict[DestKey, Destination] = {}
        self.snat_rules: dict[SnatRule, SnatRule] = {}
        self._snat_count: dict[SnatRule, int] = {}  # how many shares make each (two VIP ports, one pod)
        self._made: dict[str, Parts] = {}  # VirtualServer key -> the director parts merged in for it
        self._overlapping = False  # two shares made one service or destination key at the last rebuild

    def rebuild(self, shares: Iterable[tuple[str, Parts | None]]) -> None:
        """Merge ``shares`` (VirtualServer key, director parts) afresh, in order: on equal keys the later wins."""
        services: dict[ServiceKey, Service] = {}
        destinations: dict[DestKey, Destination] = {}
        snat_rules: dict[SnatRule, SnatRule] = {}
        counts: dict[SnatRule, int] = {}
        made: dict[str, Parts] = {}
        made_services = made_destinations = 0
        for key, parts in shares:
            if parts is None:
                continue
            made[key] = parts
            made_services += len(parts.services)
            made_destinations += len(parts.destinations)
            services.update(parts.services)
            destinations.update(parts.destinations)
            snat_rules.update(parts.snat_rules)
            for rule in parts.snat_rules:
                counts[rule] = counts.get(rule, 0) + 1
        self.services, self.destinations, self.snat_rules = services, destinations, snat_rules
        self._snat_count, self._made = counts, made
        self._overlapping = made_services != len(services) or made_destinations != len(destinations)

    def update(self, shares: Mapping[str, Parts | None], since: NodeState) -> TableChanges | None:
        """Bring the maps to ``shares`` (VirtualServer key -> director parts, in plan order); what changed
        since ``since``, the state the last call's maps went into. None: rebuilt from scratch (two shares make
        one key), so only a diff says what changed; the maps handed out before are then as they were."""
        if self._overlapping:  # which share's entry wins is the full merge's order to say
            self.rebuild(shares.items())
            return None
        changed = [key for key, parts in shares.items() if parts is not self._made.get(key)]
        changed += [key for key in self._made if key not in shares]
        if not changed:
            return TableChanges(since)
        services, destinations, snat_rules = self.services, self.destinations, self.snat_rules
        service_changes: tuple[list[Service], set[ServiceKey]] = ([], set())
        destination_changes: tuple[list[Destination], set[DestKey]] = ([], set())
        counts = self._snat_count  # a rebuild after an overlap counts again from nothing
        touched: set[SnatRule] = set()
        undo: list[tuple[DestKey, object]] = []  # the in-place writes, undone if the full merge must decide
        try:
            for key in changed:
                old, new = self._made.get(key, EMPTY), shares.get(key) or EMPTY
                services = _apply(services, self.services, old.services, new.services, service_changes)
                _apply(destinations, None, old.destinations, new.destinations, destination_changes, undo)
                if old.snat_rules is not new.snat_rules:  # set views: the endpoints that stayed cost C time only
                    for rule in old.snat_rules.keys() - new.snat_rules.keys():
                        counts[rule] -= 1
                        touched.add(rule)
                    for rule in new.snat_rules.keys() - old.snat_rules.keys():
                        counts[rule] = counts.get(rule, 0) + 1
                        touched.add(rule)
        except Overlap:
            for dest_key, value in reversed(undo):
                if value is _MISSING:
                    del destinations[dest_key]
                else:
                    destinations[dest_key] = value  # type: ignore[assignment]  # a Destination it held
            self.rebuild(shares.items())
            return None
        added = [rule for rule in touched if counts[rule] and rule not in snat_rules]
        gone = {rule for rule in touched if not counts[rule] and rule in snat_rules}
        snat_rules.update((rule, rule) for rule in added)
        for rule in gone:
            del snat_rules[rule]
            del counts[rule]
        self.services = services
        for key in changed:
            parts = shares.get(key)
            if parts is None:
                self._made.pop(key, None)
            else:
                self._made[key] = parts
        return TableChanges(since, service_changes, destination_changes, (added, gone))


def _apply(
    merged: dict[K, V],
    handed: dict[K, V] | None,
    old: dict[K, V],
    new: dict[K, V],
    changes: tuple[list[V], set[K]],
    undo: list[tuple[K, object]] | None = None,
) -> dict[K, V]:
    """Swap one share's ``old`` entries for its ``new`` ones in ``merged``, copied first if it is still the
    map ``handed`` out, else written in place with each key's value before noted in ``undo``; record what
    changed in ``changes``."""
    if old is new:
        return merged
    changed, removed = changes
    gone = old.keys() - new.keys()
    fresh = new.items() - old.items()  # new or changed entries, found in C (the values are named tuples)
    if not gone and not fresh:
        return merged
    if merged is handed:
        merged = dict(merged)
    for key in gone:
        if undo is not None:
            undo.append((key, merged[key]))
        del merged[key]
        removed.add(key)
    for key, value in fresh:
        if key not in old and key in merged:
            raise Overlap(key)
        if undo is not None:
            undo.append((key, merged.get(key, _MISSING)))
        merged[key] = value
        changed.append(value)
        removed.discard(key)
    return merged
