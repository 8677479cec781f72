"""Director groups: which VirtualServers share one Lease (one VRRP instance in keepalived terms).

Every VirtualServer with the same ``directors.nodeSelector`` and ``directors.preferred`` has the same
candidates and the same priorities, so one election decides all their VIPs: 1,000 VirtualServers on one
pair of directors cost one Lease renewal per period, not 1,000. The name is a stable digest, so every
agent derives it alone, without coordination.
"""

from __future__ import annotations

import functools
import hashlib
import json

from kubelvs.api.models import Directors

LEASE_PREFIX = "kubelvs-directors-"


def director_group(directors: Directors) -> str:
    """Lease name of the group these directors settings belong to (a valid DNS-1123 name)."""
    return _group_name(tuple(sorted(directors.node_selector.items())), tuple(directors.preferred))


@functools.lru_cache(maxsize=4096)  # a cluster has a handful of groups; every plan asks once per VirtualServer
def _group_name(node_selector: tuple[tuple[str, str], ...], preferred: tuple[str, ...]) -> str:
    material = json.dumps({"nodeSelector": node_selector, "preferred": preferred}, separators=(",", ":"))
    return LEASE_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:12]
