"""One ``KernelIpvsTable`` used from two threads at once, as the in-cluster agent does (its pass thread applies
and reads, its metrics thread reads counters at scrape time): every call gets its own answers, none fails.

Without serialisation the two conversations on the one netlink socket interleave: a dump answered with the other
thread's replies, "Connection reset by peer", or an op retried into "File exists".
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kubelvs.netstate import (
    AddDestination,
    AddService,
    Destination,
    DestKey,
    EditDestination,
    Family,
    Proto,
    Service,
    ServiceKey,
)

SERVICES = [ServiceKey(Family.INET, Proto.TCP, f"192.0.2.{host}", 80) for host in range(1, 11)]
REAL_SERVERS = [f"10.9.0.{host}" for host in range(11, 15)]


def destinations(weight: int) -> list[Destination]:
    return [Destination(DestKey(s, rs, 80), weight=weight) for s in SERVICES for rs in REAL_SERVERS]


@pytest.mark.parametrize("rounds", [pytest.param(30, id="30-rounds")])
def test_edits_and_counter_reads_from_two_threads_each_get_their_own_answers(ipvs: Any, rounds: int) -> None:
    added = [AddService(Service(key, scheduler="rr")) for key in SERVICES]
    assert ipvs.apply([*added, *(AddDestination(d) for d in destinations(1))]) == [None] * (len(added) + 40)
    errors: list[str] = []
    counted: list[int] = []

    def scrape() -> None:  # the metrics thread
        try:
            for _ in range(rounds):
                counted.append(len(ipvs.stats(SERVICES)))
        except Exception as error:  # reported below, with the other thread's
            errors.append(f"stats: {type(error).__name__}: {error}")

    def program() -> None:  # the pass thread
        try:
            for turn in range(rounds):
                results = ipvs.apply([EditDestination(d) for d in destinations(2 + turn % 5)])
                failed = [r for r in results if r]
                if failed:
                    errors.append(f"apply: {failed[0]}")
                if len(ipvs.services()) != len(SERVICES):
                    errors.append("services: a dump came back with another call's replies")
        except Exception as error:
            errors.append(f"apply: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=scrape), threading.Thread(target=program)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert errors == []
    assert counted == [len(SERVICES) * len(REAL_SERVERS)] * rounds
    last = 2 + (rounds - 1) % 5
    assert {d.weight for d in ipvs.destinations(SERVICES).values()} == {last}
