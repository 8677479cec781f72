"""What the agent has programmed, kept across restarts in a small JSON file.

The kernel holds other people's rules too (kube-proxy's IPVS services, an admin's addresses), so the
agent only ever removes what it recorded here, what its desired state names, or (with VIP pools) what
lies inside its pools. Sysctls keep the value they had before the agent changed them, so giving up a
role restores the node. The file is written atomically: a crash leaves the old or the new record.

What ``kubelvs agent --cleanup`` needs beyond that (tunl0 or ip6tnl0 brought up, the IPVS timeouts and sync daemons
before the agent's) are optional keys of the same version: a record written before them reads as "not
recorded", and cleanup leaves those alone.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelvs.netstate import AddressKey, Family, Proto, ServiceKey

logger = logging.getLogger(__name__)

DEFAULT_PATH = Path("/var/lib/kubelvs/owned.json")
VERSION = 1


@dataclass
class Record:
    """Services and addresses the agent programmed; sysctl path -> the value it found before."""

    services: set[ServiceKey] = field(default_factory=set)
    addresses: set[AddressKey] = field(default_factory=set)
    sysctls: dict[str, str] = field(default_factory=dict)
    tunnel: bool | None = None  # True: the agent brought tunl0 up; False: it found it up; None: not recorded
    tunnel6: bool | None = None  # the same for ip6tnl0
    timeouts: tuple[int, int, int] | None = None  # IPVS tcp, tcpfin, udp before the agent first set them
    sync_daemons: dict[str, tuple[str, int]] = field(default_factory=dict)  # state -> (interface, syncid) started

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "services": [
                [k.family.value, k.protocol.value, k.address, k.port, k.fwmark] for k in sorted(self.services)
            ],
            "addresses": [[k.interface, k.address, k.prefixlen] for k in sorted(self.addresses)],
            "sysctls": dict(sorted(self.sysctls.items())),
            "tunnel": self.tunnel,
            "tunnel6": self.tunnel6,
            "timeouts": list(self.timeouts) if self.timeouts is not None else None,
            "sync_daemons": {state: list(daemon) for state, daemon in sorted(self.sync_daemons.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r} is not {VERSION}")
        return cls(
            services={
                ServiceKey(Family(f), Proto(p), str(a), int(port), int(mark))
                for f, p, a, port, mark in data.get("services", [])
            },
            addresses={AddressKey(str(i), str(a), int(n)) for i, a, n in data.get("addresses", [])},
            sysctls={str(k): str(v) for k, v in data.get("sysctls", {}).items()},
            tunnel=None if data.get("tunnel") is None else bool(data["tunnel"]),
            tunnel6=None if data.get("tunnel6") is None else bool(data["tunnel6"]),
            timeouts=_timeouts(data.get("timeouts")),
            sync_daemons={str(s): (str(i), int(n)) for s, (i, n) in (data.get("sync_daemons") or {}).items()},
        )


def _timeouts(value: Any) -> tuple[int, int, int] | None:
    if value is None:
        return None
    tcp, tcpfin, udp = (int(v) for v in value)
    return tcp, tcpfin, udp


class Store:
    """Loads and saves the record; ``path=None`` keeps it in memory only (tests, dry runs)."""

    def __init__(self, path: Path | None = DEFAULT_PATH) -> None:
        self.path = path

    def load(self) -> Record:
        if self.path is None or not self.path.exists():
            return Record()
        try:
            return Record.from_json(json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError, KeyError) as error:
            # Losing the record only loses the memory of leftovers; the pools and desired state still rule.
            logger.warning("ignoring unreadable ownership record %s: %s", self.path, error)
            return Record()

    def save(self, record: Record) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(record.to_json(), indent=1)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
