"""Director groups: which VirtualServers share one Lease (one VRRP instance in keepalived terms).

Every VirtualServer with the same ``directors.nodeSelector`` and ``directors.preferred`` has the same
candidates and the same priorities, so one election decides all their VIPs: 1,000 VirtualServers on one
pair of directors cost one Lease renewal per period, not 1,000. The name is a stable digest, so every
agent derives it alone, without coordination.
"""

from __future__ import annotations

import hashlib
import json

from kubelvs.api.models import Directors

LEASE_PREFIX = "kubelvs-directors-"


def director_group(directors: Directors) -> str:
    """Lease name of the group these directors settings belong to (a valid DNS-1123 name)."""
    material = json.dumps(
        {"nodeSelector": sorted(directors.node_selector.items()), "preferred": directors.preferred},
        separators=(",", ":"),
    )
    return LEASE_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:12]
