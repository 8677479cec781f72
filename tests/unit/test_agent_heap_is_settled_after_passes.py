"""The agent freezes its heap after the first pass and settles it again (collect, freeze) only now and then;
only an agent that owns its process (the command line) does."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator

import pytest

from kubelvs.agent.heap import HeapSettler
from kubelvs.agent.options import ClusterOptions, add_arguments, cluster_options, standalone_options


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # leave the test process as it found it


def test_first_pass_freezes_later_ones_wait_for_the_period() -> None:
    now = [100.0]
    settler = HeapSettler(every=600.0, clock=lambda: now[0])
    assert settler.after_pass() and gc.get_freeze_count() > 0
    gc.unfreeze()
    now[0] += 599.0
    assert not settler.after_pass() and gc.get_freeze_count() == 0, "no full collection within the period"
    now[0] += 1.0
    assert settler.after_pass() and gc.get_freeze_count() > 0


def test_what_a_full_collection_leaves_between_settlings_is_frozen_and_nothing_else() -> None:
    now = [0.0]
    settler = HeapSettler(every=600.0, clock=lambda: now[0])
    settler.after_pass()
    frozen = gc.get_freeze_count()
    kept = [[i] for i in range(10_000)]  # long-lived objects made after the settling
    now[0] += 1.0
    assert not settler.after_pass() and gc.get_freeze_count() == frozen, "no full collection: nothing to freeze"
    gc.collect()  # as the thresholds run one
    assert not settler.after_pass()
    assert gc.get_freeze_count() >= frozen + len(kept), "the survivors stay out of the next full walk"
    grown = gc.get_freeze_count()
    assert not settler.after_pass() and gc.get_freeze_count() == grown, "the same collection is not seen twice"


def test_a_cycle_made_between_settlings_is_collected_at_the_next() -> None:
    now = [0.0]
    settler = HeapSettler(every=10.0, clock=lambda: now[0])
    settler.after_pass()

    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    marker = id(first)
    del first, second
    now[0] += 10.0
    assert settler.after_pass()
    assert all(id(obj) != marker for obj in gc.get_objects()), "the cycle outlived the settling"


def test_the_command_line_agents_settle_their_heap_and_in_process_ones_do_not() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    standalone = parser.parse_args(["--standalone", "--manifests", "m.yaml"])
    cluster = parser.parse_args(["--no-sync-daemon"])
    assert standalone_options(standalone).settle_heap and cluster_options(cluster).settle_heap
    assert not ClusterOptions(node="n", lease_namespace="kube-lvs").settle_heap  # a test's or a library's agent
