"""Sysctls: /proc/sys of the calling thread's namespace, missing keys as None or a clear error."""

from __future__ import annotations

import sys

import pytest
from netns import Netns

from kubelvs.kernel.sysctl import ProcSysctls, SysctlError, SysctlNotFound
from kubelvs.testbed.namespaces import inside


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param("net/ipv4/conf/lo/arp_ignore", "1", id="arp-ignore-on-lo"),
        pytest.param("net/ipv4/conf/all/arp_announce", "2", id="arp-announce-on-all"),
        pytest.param("net/ipv4/conf/eth0.100/rp_filter", "2", id="dotted-interface-name"),
        pytest.param("net/ipv4/vs/conntrack", "1", id="ipvs-conntrack"),
        pytest.param("net/ipv4/ip_local_port_range", "20000 30000", id="two-values"),
    ],
)
def test_write_then_read_changes_only_this_namespace(netns: Netns, path: str, value: str) -> None:
    node, other = netns.namespace("node"), netns.namespace("other")
    for ns in (node, other):
        ns.ip("link", "add", "eth0", "type", "dummy")
        ns.ip("link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100")
    sysctls = ProcSysctls()
    with inside("other"):
        untouched = sysctls.read(path)
    with inside("node"):
        sysctls.write(path, value)
        assert sysctls.read(path) == value
    with inside("other"):
        assert sysctls.read(path) == untouched != value
    shown = node.exec("sysctl", "-n", path).stdout  # procps takes the slashed form too
    assert " ".join(shown.split()) == value


def test_missing_key_reads_none_and_refuses_writes(netns: Netns) -> None:
    netns.namespace("node")
    sysctls = ProcSysctls()
    with inside("node"):
        assert sysctls.read("net/ipv4/conf/tunl9/rp_filter") is None
        with pytest.raises(SysctlNotFound, match=r"net/ipv4/conf/tunl9/rp_filter does not exist"):
            sysctls.write("net/ipv4/conf/tunl9/rp_filter", "0")


def test_value_the_kernel_refuses_is_an_error_naming_key_and_value(netns: Netns) -> None:
    netns.namespace("node")
    sysctls = ProcSysctls()
    with inside("node"):
        before = sysctls.read("net/ipv4/conf/lo/arp_ignore")
        with pytest.raises(SysctlError, match=r"net/ipv4/conf/lo/arp_ignore: the kernel refused 'nine'"):
            sysctls.write("net/ipv4/conf/lo/arp_ignore", "nine")
        assert sysctls.read("net/ipv4/conf/lo/arp_ignore") == before


def test_works_under_ip_netns_exec(netns: Netns) -> None:
    node = netns.namespace("node")
    code = (
        "from kubelvs.kernel.sysctl import ProcSysctls as S; s = S(); "
        "s.write('net/ipv4/conf/lo/arp_ignore', '1'); print(s.read('net/ipv4/conf/lo/arp_ignore'))"
    )
    assert node.exec(sys.executable, "-c", code).stdout.strip() == "1"
    assert node.exec("sysctl", "-n", "net.ipv4.conf.lo.arp_ignore").stdout.strip() == "1"
    assert netns.namespace("other").exec("sysctl", "-n", "net.ipv4.conf.lo.arp_ignore").stdout.strip() == "0"
