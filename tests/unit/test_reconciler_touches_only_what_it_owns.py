"""Other people's IPVS services and addresses share the kernel; the reconciler never touches them."""

from __future__ import annotations

import ipaddress

from reconciling import Node

from kubelvs.netstate import (
    Address,
    AddressKey,
    DeleteService,
    Destination,
    DestKey,
    Family,
    Fwd,
    NodeState,
    Proto,
    Service,
    ServiceKey,
    Sysctl,
)

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
KUBE_PROXY = ServiceKey(Family.INET, Proto.TCP, "10.96.0.1", 443)
POOL = (ipaddress.ip_network("192.0.2.0/24"),)


def web_state(*addresses: AddressKey) -> NodeState:
    d = Destination(DestKey(WEB, "10.9.0.11", 80), Fwd.DROUTE)
    return NodeState(
        services={WEB: Service(WEB)}, destinations={d.key: d}, addresses={a: Address(a) for a in addresses}
    )


def foreign(node: Node) -> None:
    node.ipvs.table[KUBE_PROXY] = Service(KUBE_PROXY, "rr")
    d = Destination(DestKey(KUBE_PROXY, "10.244.0.5", 6443), Fwd.MASQ)
    node.ipvs.dests[d.key] = d


def test_a_service_it_never_created_survives_every_pass(tmp_path):
    node = Node.new()
    foreign(node)
    node.reconciler(tmp_path / "owned.json").reconcile(web_state())
    node.reconciler(tmp_path / "owned.json").reconcile(NodeState())
    assert KUBE_PROXY in node.ipvs.table
    assert len(node.ipvs.dests) == 1
    assert all(getattr(op, "key", None) != KUBE_PROXY for op in node.ipvs.applied)


def test_standalone_removes_what_its_previous_run_recorded(tmp_path):
    node = Node.new()
    node.reconciler(tmp_path / "owned.json").reconcile(web_state())
    node.ipvs.applied.clear()
    node.reconciler(tmp_path / "owned.json").reconcile(NodeState())  # a restart after the manifest went away
    assert node.ipvs.applied == [DeleteService(WEB)]


def test_without_a_record_or_pools_an_unknown_service_is_left_alone():
    node = Node.new()
    node.reconciler().reconcile(web_state())
    node.ipvs.applied.clear()
    node.reconciler().reconcile(NodeState())  # no state file: the new run knows nothing of WEB
    assert WEB in node.ipvs.table


def test_with_pools_every_service_inside_them_is_ours():
    node = Node.new()
    foreign(node)
    node.reconciler().reconcile(web_state())
    node.reconciler(pools=POOL).reconcile(NodeState())
    assert set(node.ipvs.table) == {KUBE_PROXY}


def test_a_desired_service_already_in_the_kernel_is_adopted_and_edited():
    node = Node.new()
    node.ipvs.table[WEB] = Service(WEB, "rr")  # e.g. made by hand with ipvsadm before the agent ran
    outcome = node.reconciler().reconcile(web_state())
    assert node.ipvs.table[WEB].scheduler == "wlc"
    assert outcome.writes == {"ipvs.edit_service": 1, "ipvs.add_destination": 1}


def test_addresses_it_did_not_add_are_kept(tmp_path):
    node = Node.new()
    node_ip = AddressKey("eth0", "192.0.2.10", 24)  # inside the pool, but a subnet address: the node's own
    stray = AddressKey("eth0", "198.51.100.7", 32)
    node.addresses.present |= {node_ip, stray}
    vip = AddressKey("eth0", "192.0.2.100", 32)
    reconciler = node.reconciler(tmp_path / "owned.json", pools=POOL)
    reconciler.reconcile(web_state(vip))
    reconciler.reconcile(NodeState())
    assert node_ip in node.addresses.present and stray in node.addresses.present
    assert vip not in node.addresses.present


def test_a_restarted_agent_removes_a_vip_it_recorded(tmp_path):
    node = Node.new()
    vip = AddressKey("eth0", "192.0.2.100", 32)
    node.reconciler(tmp_path / "owned.json").reconcile(web_state(vip))
    node.reconciler(tmp_path / "owned.json").reconcile(NodeState())
    assert vip not in node.addresses.present


def test_sysctls_are_restored_after_a_restart_from_the_record(tmp_path):
    node = Node.new()
    want = NodeState(sysctls={"net/ipv4/conf/all/arp_ignore": Sysctl("net/ipv4/conf/all/arp_ignore", "1")})
    node.reconciler(tmp_path / "owned.json").reconcile(want)
    assert node.sysctls.values["net/ipv4/conf/all/arp_ignore"] == "1"
    node.reconciler(tmp_path / "owned.json").reconcile(NodeState())
    assert node.sysctls.values["net/ipv4/conf/all/arp_ignore"] == "0"


def test_an_unreadable_record_is_ignored_not_fatal(tmp_path):
    (tmp_path / "owned.json").write_text("{not json")
    node = Node.new()
    outcome = node.reconciler(tmp_path / "owned.json").reconcile(web_state())
    assert not outcome.errors
    assert WEB in node.ipvs.table
