"""The vocabularies of the API, spelled as ipvsadm and keepalived spell them."""

from __future__ import annotations

import enum


class Protocol(enum.StrEnum):
    """``ipvsadm -t | -u | --sctp-service``."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class Scheduler(enum.StrEnum):
    """Every IPVS scheduler a Linux kernel ships (``ipvsadm -s``)."""

    RR = "rr"
    WRR = "wrr"
    LC = "lc"
    WLC = "wlc"
    LBLC = "lblc"
    LBLCR = "lblcr"
    DH = "dh"
    SH = "sh"
    SED = "sed"
    NQ = "nq"
    FO = "fo"
    OVF = "ovf"
    MH = "mh"


class SchedulerFlag(enum.StrEnum):
    """``ipvsadm -b``: flags that only the source-hashing schedulers understand."""

    SH_FALLBACK = "sh-fallback"
    SH_PORT = "sh-port"
    MH_FALLBACK = "mh-fallback"
    MH_PORT = "mh-port"

    @property
    def scheduler(self) -> Scheduler:
        return Scheduler.SH if self.value.startswith("sh-") else Scheduler.MH


class Forwarding(enum.StrEnum):
    """Packet-forwarding method: ``-g`` (dr), ``-m`` (nat), ``-i`` (tun)."""

    DR = "dr"
    NAT = "nat"
    TUN = "tun"


class NatReturnPath(enum.StrEnum):
    """How replies of a NAT real server find their way back through the director.

    ``route``: the backend's agent adds a policy route (source RIP:port) via ``directors.gateway``;
    the node's default route is never replaced and clients' addresses are kept.
    ``snat``: the director masquerades traffic it sends to real servers; works on any network,
    but real servers see the director's address instead of the client's.
    ``none``: the network already routes replies through the director (the classic LVS-NAT setup).
    """

    ROUTE = "route"
    SNAT = "snat"
    NONE = "none"


class AddressFamily(enum.StrEnum):
    """Address family of a fwmark service (``ipvsadm -6``)."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"


class HealthCheckType(enum.StrEnum):
    """keepalived's TCP_CHECK, HTTP_GET and SSL_GET; ``none`` turns checking off."""

    TCP = "tcp"
    HTTP = "http"
    HTTPS = "https"
    NONE = "none"


class OnFailure(enum.StrEnum):
    """What a failed real server gets: weight 0 (keepalived ``inhibit_on_failure``) or removal."""

    QUIESCE = "quiesce"
    REMOVE = "remove"
