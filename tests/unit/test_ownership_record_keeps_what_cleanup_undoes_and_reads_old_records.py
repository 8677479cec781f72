"""The ownership record: what ``kubelvs agent --cleanup`` needs (tunl0 brought up, the IPVS timeouts and sync
daemons before the agent's) survives a save and a load, and a record written before those keys existed still
loads, with them "not recorded" (cleanup leaves those alone)."""

from __future__ import annotations

import json
from pathlib import Path

from kubelvs.agent.ownership import Record, Store
from kubelvs.netstate import AddressKey, Family, Proto, ServiceKey

OLD_RECORD = {  # as an agent before the cleanup keys wrote it
    "version": 1,
    "services": [[2, 6, "192.0.2.10", 80, 0]],
    "addresses": [["eth0", "192.0.2.10", 32]],
    "sysctls": {"net/ipv4/conf/all/arp_ignore": "0"},
}


def test_cleanup_keys_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "owned.json")
    record = Record(
        services={ServiceKey(Family.INET, Proto.TCP, "192.0.2.10", 80)},
        addresses={AddressKey("tunl0", "192.0.2.11", 32)},
        sysctls={"net/ipv4/conf/tunl0/rp_filter": "1"},
        tunnel=True,
        timeouts=(900, 120, 300),
        sync_daemons={"backup": ("eth1", 7), "master": ("eth1", 7)},
    )
    store.save(record)
    assert store.load() == record


def test_a_record_without_the_cleanup_keys_loads_with_them_unrecorded(tmp_path: Path) -> None:
    path = tmp_path / "owned.json"
    path.write_text(json.dumps(OLD_RECORD))
    record = Store(path).load()
    assert record.services == {ServiceKey(Family.INET, Proto.TCP, "192.0.2.10", 80)}
    assert record.sysctls == {"net/ipv4/conf/all/arp_ignore": "0"}
    assert (record.tunnel, record.timeouts, record.sync_daemons) == (None, None, {})
