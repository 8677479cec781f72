"""The IPIP tunnel device ``tunl0`` that LVS-TUN backends decapsulate on, over rtnetlink (pyroute2).

``tunl0`` is the ipip module's fallback device: it exists in every namespace once the module is loaded and
accepts IPIP from any source. If it is missing we ask rtnetlink for ``link add tunl0 type ipip``: the kernel
loads ``ipip`` on demand (``rtnl-link-ipip``), the module creates ``tunl0`` itself, and our request then
fails with EEXIST, which is the success we wanted. (With ``net.core.fb_tunnels_only_for_init_net`` set the
request instead creates an ordinary wildcard ipip device named tunl0, which receives the same way.)

What a TUN backend needs besides ``tunl0`` up (the planner's job, not this module's):

- the VIP on ``tunl0`` as /32 (/128), so the decapsulated packet is local;
- ``net/ipv4/conf/tunl0/rp_filter=0`` and ``net/ipv4/conf/all/rp_filter=0`` (the kernel uses the larger
  of the two), because the inner source (the client) is not routed via ``tunl0``;
- ``arp_ignore=1`` / ``arp_announce=2`` (on ``all``) when the VIP's subnet is reachable on the backend's
  LAN, so the backend never answers ARP for the VIP in place of the director.
"""

from __future__ import annotations

import errno
import logging

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

logger = logging.getLogger(__name__)

TUNNEL = "tunl0"
IFF_UP = 0x1


class TunnelError(OSError):
    """tunl0 could not be created or brought up."""


class NetlinkTunnel:
    """The ``Tunnel`` gateway for ``tunl0`` in the current network namespace."""

    def ensure_up(self) -> None:
        """Make tunl0 exist (loading ipip if needed) and be up."""
        with IPRoute() as ipr:
            if not ipr.link_lookup(ifname=TUNNEL):
                try:
                    ipr.link("add", ifname=TUNNEL, kind="ipip")
                except NetlinkError as error:
                    if error.code != errno.EEXIST:
                        raise TunnelError(
                            error.code, f"cannot create {TUNNEL} (is the ipip module available?): {error}"
                        ) from error
                logger.info("created %s", TUNNEL)
            found = ipr.link_lookup(ifname=TUNNEL)
            if not found:
                raise TunnelError(errno.ENODEV, f"{TUNNEL} is still missing after creating it")
            ipr.link("set", index=found[0], state="up")

    def set_down(self) -> bool:
        """tunl0 administratively down (it stays: the ipip module owns it); False if it was missing or down."""
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=TUNNEL)
            if not found:
                return False
            (link,) = ipr.link("get", index=found[0])
            if not link["flags"] & IFF_UP:
                return False
            ipr.link("set", index=found[0], state="down")
            return True

    def is_up(self) -> bool:
        """tunl0 exists and is administratively up."""
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=TUNNEL)
            if not found:
                return False
            (link,) = ipr.link("get", index=found[0])
            return bool(link["flags"] & IFF_UP)
