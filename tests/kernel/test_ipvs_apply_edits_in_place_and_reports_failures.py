"""``apply``: an edit is one SET on the live object, a failed op is reported and the ops after it still apply,
and services somebody else made are read but never touched."""

from __future__ import annotations

from ipvsadm_view import rules

from kubelvs.kernel.ipvs import KernelIpvsTable
from kubelvs.netstate import (
    AddDestination,
    AddService,
    DeleteDestination,
    DeleteService,
    Destination,
    DestKey,
    EditDestination,
    EditService,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
)

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
DNS = ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 53)
MISSING = ServiceKey(Family.INET, Proto.TCP, "192.0.2.200", 80)


def test_weight_edit_is_one_set_that_keeps_the_destination_and_its_traffic(lvs, netns):
    director, (rs1, rs2) = lvs.directors[0], lvs.real_servers
    netns.http_servers([rs1, rs2], 8080)
    for server in (rs1, rs2):
        server.ip("route", "replace", "default", "via", lvs.address(director, "back"))  # NAT return path
    director.address("eth0", f"{lvs.vip}/32")
    with director.entered():
        ipvs = KernelIpvsTable()
    web = ServiceKey(Family.INET, Proto.TCP, lvs.vip, 80)
    d1, d2 = (Destination(DestKey(web, lvs.address(s), 8080), forwarding=Fwd.MASQ) for s in (rs1, rs2))
    assert (
        ipvs.apply([AddService(Service(web, scheduler="rr")), AddDestination(d1), AddDestination(d2)])
        == [None] * 3
    )
    assert sorted(lvs.client.http_get(lvs.vip, 80, count=4)) == ["rs1", "rs1", "rs2", "rs2"]
    # connection entries point at their destination object: a delete + re-add would orphan them
    before = ipvs.stats([web])
    assert before[d1.key].active_conns + before[d1.key].inactive_conns == 2

    # rr skips a weight-0 destination: after the SET every request goes to rs1
    assert ipvs.apply([EditDestination(Destination(d2.key, forwarding=Fwd.MASQ, weight=0))]) == [None]
    assert lvs.client.http_get(lvs.vip, 80, count=3) == ["rs1"] * 3
    after = ipvs.stats([web])
    assert after[d2.key].active_conns + after[d2.key].inactive_conns == 2  # same kernel object after the SET
    assert after[d1.key].active_conns + after[d1.key].inactive_conns == 5
    assert list(ipvs.services()) == [web]
    assert ipvs.destinations([web])[d2.key].weight == 0
    ipvs.close()


def test_failed_ops_are_reported_and_the_rest_still_apply(ipvs):
    web_dest = Destination(DestKey(WEB, "10.9.0.11", 80))
    ops = [
        AddService(Service(WEB, scheduler="rr")),
        DeleteDestination(DestKey(WEB, "10.9.0.99", 80)),  # not there
        AddDestination(web_dest),
        AddService(Service(WEB, scheduler="wrr")),  # already there
        AddDestination(Destination(DestKey(MISSING, "10.9.0.11", 80))),  # no such service
        AddService(Service(DNS, scheduler="no-such-scheduler")),
        AddService(Service(ServiceKey(Family.INET, Proto.TCP, "192.0.2.300", 80))),  # not an address
        AddService(Service(DNS, scheduler="sed")),
        AddDestination(Destination(DestKey(DNS, "10.9.0.12", 53), forwarding=Fwd.MASQ)),
        DeleteService(MISSING),
    ]
    results = ipvs.apply(ops)

    assert len(results) == len(ops)
    assert [r is None for r in results] == [True, False, True, False, False, False, False, True, True, False]
    assert results[1].startswith("delete destination TCP 192.0.2.100:80 -> 10.9.0.99:80: ")
    assert "No such file or directory" in results[1]
    assert results[3].endswith("File exists")
    assert "192.0.2.300" in results[6] and "invalid" in results[6]
    assert results[9].startswith("delete service TCP 192.0.2.200:80: ")
    assert {k: s.scheduler for k, s in ipvs.services().items()} == {WEB: "rr", DNS: "sed"}
    assert set(ipvs.destinations([WEB, DNS])) == {web_dest.key, DestKey(DNS, "10.9.0.12", 53)}


def test_results_stay_in_order_across_batches(ipvs_ns):
    with ipvs_ns.entered():
        ipvs = KernelIpvsTable(batch_size=3)
    service = Service(WEB, scheduler="wrr")
    dests = [Destination(DestKey(WEB, f"10.9.0.{i}", 80), weight=i) for i in range(1, 11)]
    ops = [AddService(service), *(AddDestination(d) for d in dests), AddDestination(dests[4])]  # last: duplicate
    results = ipvs.apply(ops)
    assert results[:-1] == [None] * 11
    assert results[-1] is not None and results[-1].endswith("File exists")
    assert ipvs.destinations([WEB]) == {d.key: d for d in dests}
    ipvs.close()


def test_services_of_someone_else_are_read_but_never_touched(ipvs, ipvs_ns):
    ipvs_ns.exec("ipvsadm", "-A", "-t", "203.0.113.5:443", "-s", "lc", "-p", "120")
    ipvs_ns.exec("ipvsadm", "-a", "-t", "203.0.113.5:443", "-r", "10.9.0.50:443", "-m", "-w", "7")
    theirs = ServiceKey(Family.INET, Proto.TCP, "203.0.113.5", 443)
    before = rules(ipvs_ns)

    seen = ipvs.services()
    assert seen[theirs].scheduler == "lc" and seen[theirs].timeout == 120
    assert ipvs.destinations([theirs])[DestKey(theirs, "10.9.0.50", 443)].weight == 7
    ours = Service(WEB, scheduler="rr")
    ops = [
        AddService(ours),
        AddDestination(Destination(DestKey(WEB, "10.9.0.11", 80))),
        EditService(Service(WEB, scheduler="wlc")),
        DeleteDestination(DestKey(WEB, "10.9.0.11", 80)),
        DeleteService(WEB),
    ]
    assert ipvs.apply(ops) == [None] * len(ops)
    assert rules(ipvs_ns) == before
