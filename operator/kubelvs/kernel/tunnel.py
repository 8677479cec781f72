"""The tunnel devices LVS-TUN backends decapsulate on, over rtnetlink (pyroute2): ``tunl0`` (IPv4 in IPv4)
and ``ip6tnl0`` (IPv6 in IPv6).

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

IPv6: IPVS's ``ip_vs_tunnel_xmit_v6`` wraps an IPv6 packet in an IPv6 header with next header 41 (ip6ip6).
``ip6tnl0`` is the ip6_tunnel module's fallback device, created in each namespace like ``tunl0``, in mode
ip6ip6 and for any source; it receives only while up. The VIP goes on it as /128 (it is NOARP, so no
neighbour discovery and no DAD); IPv6 has no rp_filter, and ``ip6_tnl_rcv_ctl`` only asks that the outer
destination (the real server's address) is local and not tentative and the outer source is not.
"""

from __future__ import annotations

import errno
import logging

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

logger = logging.getLogger(__name__)

TUNNEL = "tunl0"
TUNNEL6 = "ip6tnl0"
KINDS = {TUNNEL: ("ipip", "ipip"), TUNNEL6: ("ip6tnl", "ip6_tunnel")}  # device -> (link kind, module)
IFF_UP = 0x1


class TunnelError(OSError):
    """The tunnel device could not be created or brought up."""


class NetlinkTunnel:
    """The ``Tunnel`` gateway for one fallback tunnel device (``tunl0`` by default, or ``ip6tnl0``) in the
    current network namespace."""

    def __init__(self, device: str = TUNNEL) -> None:
        if device not in KINDS:
            raise ValueError(f"tunnel device {device!r} is not one of {', '.join(KINDS)}")
        self.device = device

    def ensure_up(self) -> None:
        """Make the device exist (loading its module if needed) and be up."""
        device, (kind, module) = self.device, KINDS[self.device]
        with IPRoute() as ipr:
            if not ipr.link_lookup(ifname=device):
                try:
                    ipr.link("add", ifname=device, kind=kind)
                except NetlinkError as error:
                    if error.code != errno.EEXIST:
                        raise TunnelError(
                            error.code, f"cannot create {device} (is the {module} module available?): {error}"
                        ) from error
                logger.info("created %s", device)
            found = ipr.link_lookup(ifname=device)
            if not found:
                raise TunnelError(errno.ENODEV, f"{device} is still missing after creating it")
            ipr.link("set", index=found[0], state="up")

    def set_down(self) -> bool:
        """The device administratively down (it stays: its module owns it); False if it was missing or down."""
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=self.device)
            if not found:
                return False
            (link,) = ipr.link("get", index=found[0])
            if not link["flags"] & IFF_UP:
                return False
            ipr.link("set", index=found[0], state="down")
            return True

    def is_up(self) -> bool:
        """The device exists and is administratively up."""
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=self.device)
            if not found:
                return False
            (link,) = ipr.link("get", index=found[0])
            return bool(link["flags"] & IFF_UP)
