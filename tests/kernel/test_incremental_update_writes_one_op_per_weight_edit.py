"""The agents' incremental path on a real IPVS table: one RealServer weight edit is exactly one netlink op.

A kept Planner re-plans the edited VirtualServer; ``Reconciler.update`` reads only that service's destinations
and writes one SET, which ``ipvsadm -Sn`` (libipvs, an independent reader) shows. The same state again writes
nothing, and a service deleted behind the agent's back makes the update fall back to the full pass, which
puts the table right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ipvsadm_view import dest_line, option, rules, service_name
from netns import Namespace

from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Store
from kubelvs.agent.reconciler import Outcome, Reconciler
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.netstate import Family, IpvsOp, Proto, ServiceKey
from kubelvs.planner import NodeFacts, Planner

API = "lvs.kubelvs.io/v1alpha1"
LABELS = {"kubelvs.io/director": "true"}
FACTS = NodeFacts(node="dir1", labels=LABELS)
SERVICES, DESTS = 20, 5


def virtual_server(index: int) -> VirtualServer:
    raw = {
        "apiVersion": API,
        "kind": "VirtualServer",
        "metadata": {"name": f"svc-{index}", "namespace": "default"},
        "spec": {"address": f"192.0.2.{index + 1}", "port": 80, "scheduler": "wrr",
                 "directors": {"nodeSelector": LABELS}},
    }  # fmt: skip
    parsed = parse_object(raw)
    assert isinstance(parsed, VirtualServer), parsed
    return parsed


def real_server(index: int, dest: int, weight: int) -> RealServer:
    raw = {
        "apiVersion": API,
        "kind": "RealServer",
        "metadata": {"name": f"svc-{index}-rs-{dest}", "namespace": "default"},
        "spec": {"virtualServer": f"svc-{index}", "address": f"10.77.{index}.{dest + 1}", "port": 80,
                 "weight": weight},
    }  # fmt: skip
    parsed = parse_object(raw)
    assert isinstance(parsed, RealServer), parsed
    return parsed


class Counted:
    """The real table; only counts the ops that reach it and the services whose destinations are read."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.ops: list[IpvsOp] = []
        self.read: list[ServiceKey] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        self.ops.extend(ops)
        result: list[str | None] = self.real.apply(ops)
        return result

    def destinations(self, services: Sequence[ServiceKey]) -> Any:
        self.read.extend(services)
        return self.real.destinations(services)


def weight_in_ipvsadm(ns: Namespace, index: int, dest: int) -> str | None:
    key = ServiceKey(Family.INET, Proto.TCP, f"192.0.2.{index + 1}", 80)
    return option(dest_line(rules(ns), key, f"10.77.{index}.{dest + 1}", 80), "-w")


def test_one_weight_edit_is_one_netlink_op_and_drift_takes_the_full_pass(ipvs_ns: Namespace) -> None:
    from kubelvs.agent.standalone import open_kernel  # pyroute2 is slow to import in the guest

    with ipvs_ns.entered():
        kernel = open_kernel()
        table = Counted(kernel.ipvs)
        kernel.ipvs = table
        reconciler = Reconciler(kernel, Store(None), Drainer(0.0))
        planner = Planner()

        def step() -> Outcome:  # as the agent's pipeline does: the plan says how its tables changed
            plan = planner.plan(FACTS, set())
            return reconciler.update(plan.state, plan.changes)

        planner.replace_all(
            [virtual_server(i) for i in range(SERVICES)],
            [real_server(i, d, d + 1) for i in range(SERVICES) for d in range(DESTS)],
        )
        first = step()  # nothing applied yet: the full pass
        assert not first.errors and len(table.ops) == SERVICES * (DESTS + 1)
        assert len(rules(ipvs_ns)) == SERVICES * (DESTS + 1)

        table.ops.clear()
        planner.put(real_server(7, 3, 42))
        edit = step()
        assert not edit.errors and edit.total_writes == 1
        assert [type(op).__name__ for op in table.ops] == ["EditDestination"]
        assert table.read == [ServiceKey(Family.INET, Proto.TCP, "192.0.2.8", 80)]
        assert weight_in_ipvsadm(ipvs_ns, 7, 3) == "42"

        table.ops.clear()
        table.read.clear()
        again = step()
        assert (again.total_writes, table.ops, table.read) == (0, [], [])

        ipvs_ns.exec("ipvsadm", "-D", *service_name(ServiceKey(Family.INET, Proto.TCP, "192.0.2.3", 80)))
        planner.put(real_server(2, 0, 9))
        repaired = step()
        # the read or the write into the missing service failed, so the full pass ran and put the service back
        assert repaired.writes["ipvs.add_service"] == 1
        assert len(rules(ipvs_ns)) == SERVICES * (DESTS + 1)  # the full pass that followed put it back
        assert weight_in_ipvsadm(ipvs_ns, 2, 0) == "9"
        assert step().total_writes == 0
        kernel.ipvs = table.real
        table.real.close()
