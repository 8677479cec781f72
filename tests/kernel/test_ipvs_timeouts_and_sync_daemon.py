"""``ipvsadm --set`` timeouts and the connection-sync daemon, set through the table and read back."""

from __future__ import annotations

import pytest

from kubelvs.kernel.ipvs import IpvsTableError


def test_timeouts_are_set_and_zero_leaves_a_value_alone(ipvs, ipvs_ns):
    ipvs.set_timeouts(900, 120, 300)
    assert ipvs.timeouts() == (900, 120, 300)
    ipvs.set_timeouts(0, 60, 0)
    assert ipvs.timeouts() == (900, 60, 300)
    listing = ipvs_ns.exec("ipvsadm", "-Ln", "--timeout").stdout
    assert "Timeout (tcp tcpfin udp): 900 60 300" in listing


def test_negative_timeout_is_refused_before_reaching_the_kernel(ipvs):
    before = ipvs.timeouts()
    with pytest.raises(ValueError, match="timeout udp must be"):
        ipvs.set_timeouts(10, 10, -1)
    assert ipvs.timeouts() == before


def test_sync_daemons_start_read_back_and_stop(ipvs, ipvs_ns):
    ipvs_ns.ip("link", "add", "sync0", "type", "dummy")
    ipvs_ns.ip("link", "set", "sync0", "multicast", "on", "up")
    ipvs_ns.address("sync0", "10.77.0.1/24")
    assert ipvs.sync_daemons() == {}

    ipvs.start_sync_daemon("master", "sync0", 5)
    ipvs.start_sync_daemon("backup", "sync0", 5)
    assert ipvs.sync_daemons() == {"master": ("sync0", 5), "backup": ("sync0", 5)}
    listing = ipvs_ns.exec("ipvsadm", "-Ln", "--daemon").stdout
    assert "master sync daemon (mcast=sync0, syncid=5" in listing
    assert "backup sync daemon (mcast=sync0, syncid=5" in listing

    ipvs.stop_sync_daemon("master")
    assert ipvs.sync_daemons() == {"backup": ("sync0", 5)}
    ipvs.stop_sync_daemon("backup")
    assert ipvs.sync_daemons() == {}


@pytest.mark.parametrize(
    ("state", "interface", "syncid", "message"),
    [
        pytest.param("primary", "sync0", 1, "state must be 'master' or 'backup'", id="bad-state"),
        pytest.param("master", "x" * 16, 1, "interface must be 1..15 bytes", id="long-interface"),
        pytest.param("master", "sync0", 256, "syncid must be 0..255", id="big-syncid"),
    ],
)
def test_bad_daemon_settings_are_refused_with_the_field(ipvs, state, interface, syncid, message):
    with pytest.raises(ValueError, match=message):
        ipvs.start_sync_daemon(state, interface, syncid)
    assert ipvs.sync_daemons() == {}


def test_daemon_on_a_missing_interface_is_a_kernel_error(ipvs):
    with pytest.raises(IpvsTableError, match="start sync daemon master on nosuch0 syncid 1: No such device"):
        ipvs.start_sync_daemon("master", "nosuch0", 1)
