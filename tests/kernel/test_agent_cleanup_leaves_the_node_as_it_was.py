"""``kubelvs agent --cleanup`` after a crashed agent: the node's kernel is exactly as it was before kube-lvs.

One node plays every role at once: director of a NAT service with the snat return path (VIP, masquerade
rules in nftables, ip_forward and the IPVS conntrack sysctl) and of a fwmark service (its mark rule), DR
backend (VIP on lo, the ARP sysctls), TUN backend (tunl0 up with the VIP, rp_filter off) and NAT backend with
the route return path (a policy rule and its table), with the IPVS TCP timeout changed, and a sync daemon
running as the in-cluster agent runs it (started by hand: the standalone agent runs none). The agent is a real
process, SIGKILLed after its first pass; the cleanup is a real process with the same flags and no API server.
Every listing of the node's state (IPVS, timeouts, addresses, links, rules, routes, nftables, sysctls) equals
the one taken before, and a service outside the VIP pools (kube-proxy's) is still there. A second cleanup
finds nothing and exits 0.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from _fault_launcher import spawn
from agentrun import DIRECTOR_LABEL, DIRECTORS, rs, vs, write
from netns import Namespace, Netns

from kubelvs.testbed.stack import Child

ELSEWHERE = {"nodeSelector": {"kubelvs.io/director": "elsewhere"}}  # directed by another node
KUBE_PROXY = "10.96.0.1:443"
SYSCTLS = [
    "net.ipv4.ip_forward",
    "net.ipv4.vs.conntrack",
    "net.ipv6.conf.all.forwarding",
    *(
        f"net.ipv4.conf.{device}.{key}"
        for device in ("all", "default", "lo", "eth0", "tunl0")
        for key in ("arp_ignore", "arp_announce", "rp_filter", "forwarding")
    ),
]


def manifests() -> list[dict]:
    routed = {"forwarding": "nat", "natReturnPath": "route"}
    route_return = {**ELSEWHERE, "gateway": {"address": "10.9.0.200", "interface": "eth1"}}
    marked = {"destination": "192.0.2.101", "ports": [80, 8080]}
    return [
        vs("nat-web", address="192.0.2.100", port=80, forwarding="nat", natReturnPath="snat", directors=DIRECTORS),
        rs("nat-web-1", "nat-web", "10.9.0.21", port=8080),
        vs("marked", fwmark=7, fwmarkMatch=marked, scheduler="rr", directors=DIRECTORS),
        rs("marked-1", "marked", "10.9.0.22"),
        vs("dr-web", address="192.0.2.110", port=80, forwarding="dr", directors=ELSEWHERE),
        rs("dr-web-1", "dr-web", "10.9.0.11"),
        vs("tun-web", address="192.0.2.111", port=80, forwarding="tun", directors=ELSEWHERE),
        rs("tun-web-1", "tun-web", "10.9.0.11"),
        vs("nat-route", address="192.0.2.112", port=80, directors=route_return, **routed),
        rs("nat-route-1", "nat-route", "10.9.0.11", port=8080),
    ]


def once_up(listing: str) -> str:
    """A device that was ever up keeps what the kernel gave it then, and no interface takes it off: the qdisc
    attached (``noqueue`` in place of ``noop``) and IPv6's per-device state (``addrgenmode``). Those traces of
    tunl0's having been up are normalised, so everything else compares exactly."""
    blocks = re.split(r"(?m)^(?=\d+: )", listing)
    return "".join(
        block.replace(" qdisc noqueue ", " qdisc noop ", 1).replace(" addrgenmode eui64", "")
        if re.match(r"\d+: tunl0@", block)
        else block
        for block in blocks
    )


def snapshot(node: Namespace) -> dict[str, str]:
    """Everything kube-lvs may touch, as the usual tools list it."""
    return {
        "ipvsadm -Sn": node.exec("ipvsadm", "-Sn").stdout,
        "ipvsadm -Ln --timeout": node.exec("ipvsadm", "-Ln", "--timeout").stdout,
        "ipvsadm -Ln --daemon": node.exec("ipvsadm", "-Ln", "--daemon").stdout,
        "ip -d addr": once_up(node.ip("-d", "addr").stdout),
        "ip -d link": once_up(node.ip("-d", "link").stdout),
        "ip rule": node.ip("rule").stdout + node.ip("-6", "rule").stdout,
        "ip route show table all": node.ip("route", "show", "table", "all").stdout
        + node.ip("-6", "route", "show", "table", "all").stdout,
        "nft list ruleset": node.exec("nft", "list", "ruleset").stdout,
        "sysctls": node.exec("sysctl", *SYSCTLS).stdout,
    }


def node_with_a_lan(netns: Netns) -> Namespace:
    # tunl0 is the ipip module's: load it first, so the node has it (down) from the start, as a host would
    netns.namespace("ipip-loader").ip("link", "add", "tunl0", "type", "ipip", check=False)
    node, lan = netns.namespace("node"), netns.namespace("lan")
    netns.veth(node, "eth0", lan, "eth0")
    node.address("eth0", "10.9.0.11/24")
    lan.address("eth0", "10.9.0.254/24")
    node.route("default", via="10.9.0.254")
    deadline = time.monotonic() + 60
    while "tentative" in node.ip("-6", "addr").stdout:  # the link-local address settles before the snapshot
        assert time.monotonic() < deadline, node.ip("-6", "addr").stdout
        time.sleep(0.2)
    for key in ("all", "tunl0"):
        node.sysctl(f"net.ipv4.conf.{key}.rp_filter", "1")  # strict, so turning it off is a change to undo
    node.exec("ipvsadm", "-A", "-t", KUBE_PROXY, "-s", "rr")  # someone else's, outside the VIP pools
    node.exec("ipvsadm", "-a", "-t", KUBE_PROXY, "-r", "10.9.0.50:6443", "-m")
    return node


def wait_for(condition: Callable[[], bool], what: str, child: Child, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{child.tail(60)}"
        time.sleep(0.2)


def cleanup(node: Namespace, flags: list[str], log: Path) -> tuple[int, str]:
    """``kubelvs agent --cleanup FLAGS`` as its own process in ``node``; its exit code and log."""
    child = spawn(["agent", "--cleanup", *flags], node.name, log)
    wait_for(lambda: child.exit_code() is not None, "the cleanup to exit", child)
    code = child.exit_code()
    assert code is not None
    return code, log.read_text()


def test_cleanup_after_a_crash_restores_the_node_exactly(netns: Netns, tmp_path: Path) -> None:
    node = node_with_a_lan(netns)
    before = snapshot(node)
    assert "tunl0" in before["ip -d link"] and "UP" not in before["ip -d link"].split("tunl0")[1].split("\n")[0]
    path = write(tmp_path / "manifests" / "all.yaml", manifests())
    state = tmp_path / "node.json"
    flags = [
        "--standalone", "--manifests", str(path.parent), "--node", node.name, "--node-labels", DIRECTOR_LABEL,
        "--state-file", str(state), "--vip-pools", "192.0.2.0/24", "--tcp-timeout", "1234",
        "--resync-period", "1h",
    ]  # fmt: skip

    agent = spawn(["agent", *flags], node.name, tmp_path / "agent.log")
    try:
        wait_for(lambda: "pass over" in agent.log.read_text(), "the agent's first pass", agent)
    finally:
        agent.stop(signal.SIGKILL, timeout=60)  # a crash: nothing of its own shutdown runs
    # the sync daemon an in-cluster agent with --sync-interface eth0 --sync-id 9 runs (standalone runs none)
    node.exec("ipvsadm", "--start-daemon", "backup", "--mcast-interface", "eth0", "--syncid", "9")
    programmed = snapshot(node)
    said = (tmp_path / "agent.log").read_text()
    assert "errors: 0" in said and "Traceback" not in said, said
    assert "-A -t 192.0.2.100:80" in programmed["ipvsadm -Sn"] and "-A -f 7" in programmed["ipvsadm -Sn"]
    assert "-r 10.9.0.21:8080 -m" in programmed["ipvsadm -Sn"]
    assert "tcp 1234" in programmed["ipvsadm -Ln --timeout"].replace("(tcp tcpfin udp): ", "tcp ")
    rules = programmed["nft list ruleset"]
    assert "table inet kubelvs" in rules and "masquerade" in rules and "mark set" in rules, rules
    assert "sport 8080 lookup 2" in programmed["ip rule"]
    for address, device in (("192.0.2.100", "eth0"), ("192.0.2.110", "lo"), ("192.0.2.111", "tunl0")):
        assert address in node.ip("addr", "show", device).stdout, (address, device)
    assert "UP" in node.ip("link", "show", "tunl0").stdout.split(">")[0]
    assert "backup sync daemon (mcast=eth0, syncid=9" in programmed["ipvsadm -Ln --daemon"]
    assert state.exists()
    for line in (
        "net.ipv4.ip_forward = 1",
        "net.ipv4.vs.conntrack = 1",
        "net.ipv4.conf.all.arp_ignore = 1",
        "net.ipv4.conf.all.arp_announce = 2",
        "net.ipv4.conf.tunl0.rp_filter = 0",
    ):
        assert line in programmed["sysctls"].splitlines(), line

    flags += ["--sync-interface", "eth0", "--sync-id", "9"]
    code, said = cleanup(node, flags, tmp_path / "cleanup.log")
    assert code == 0, said
    assert "ERROR" not in said and "Traceback" not in said, said
    after = snapshot(node)
    differ = [
        f"{what}:\n{listing}--- now ---\n{after[what]}"
        for what, listing in before.items()
        if after[what] != listing
    ]
    assert not differ, "differs after the cleanup: " + "\n\n".join(differ)
    assert f"-A -t {KUBE_PROXY} -s rr" in after["ipvsadm -Sn"]  # never anyone else's
    assert not state.exists()

    code, said = cleanup(node, flags, tmp_path / "cleanup-again.log")
    assert code == 0, said
    assert "cleanup: writes: none; errors: 0" in said, said
    assert snapshot(node) == before
