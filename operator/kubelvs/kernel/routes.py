"""Policy routes for the LVS-NAT return path on a backend, over rtnetlink (pyroute2).

A NAT real server must send its replies back through the director, but the node's default route belongs
to the node. So each ``PolicyRoute`` becomes

    ip rule add priority 32100 from <RIP>/32 ipproto <tcp|udp|sctp> sport <port> lookup <table>
    ip route replace default via <gateway> table <table>

and the main table is never touched. ``ipproto``/``sport`` selectors (FRA_IP_PROTO, FRA_SPORT_RANGE) need
Linux >= 4.17. kube-lvs owns rule priorities ``PRIORITIES`` and tables ``TABLES``; ``list`` reports only
rules inside both ranges, so foreign rules are never read as ours (nor removed). Routes that share a table
share its default route: the planner gives one table per gateway.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kubelvs.netstate import Family, PolicyRoute, Proto

logger = logging.getLogger(__name__)

RULE_PRIORITY = 32100  # before "main" (32766), after anything an admin usually adds at low numbers
PRIORITIES = range(32100, 32200)
TABLES = range(2000, 3000)
GONE = {errno.ENOENT, errno.ESRCH}


class PolicyRouteError(OSError):
    """The kernel refused a rule or route; the message names the PolicyRoute."""


def check(route: PolicyRoute, *, gateway: bool = True) -> None:
    """Raise ValueError naming the field if ``route`` cannot be a kube-lvs policy route.

    ``gateway=False`` checks only what selects the rule: removing a route whose table lost its default
    route (listed with gateway "") must still work.
    """
    if route.table not in TABLES:
        raise ValueError(
            f"policy route {route.source}: table {route.table} is outside {TABLES.start}..{TABLES.stop - 1}"
        )
    if route.protocol not in (Proto.TCP, Proto.UDP, Proto.SCTP):
        raise ValueError(f"policy route {route.source}: protocol {route.protocol!r} must be TCP, UDP or SCTP")
    if not 1 <= route.port <= 65535:
        raise ValueError(f"policy route {route.source}: port {route.port} is outside 1..65535")
    for field in ("source", "gateway") if gateway else ("source",):
        value = getattr(route, field)
        try:
            version = ipaddress.ip_address(value).version
        except ValueError:
            raise ValueError(f"policy route: {field} {value!r} is not an IP address") from None
        if (version == 4) != (route.family == Family.INET):
            raise ValueError(f"policy route: {field} {value} does not match family {route.family.name}")


def _selector(route: PolicyRoute) -> dict[str, Any]:
    source = ipaddress.ip_address(route.source)
    return {
        "family": int(route.family),
        "priority": RULE_PRIORITY,
        "table": route.table,
        "src": source.compressed,
        "src_len": source.max_prefixlen,
        "ip_proto": int(route.protocol),
        "sport_range": f"{route.port}:{route.port}",
    }


def _ours(rule: Any) -> bool:
    priority = rule.get("FRA_PRIORITY") or 0
    table = rule.get("FRA_TABLE") or rule["table"]
    return priority in PRIORITIES and table in TABLES


def _gateways(ipr: IPRoute, family: int, table: int) -> str:
    for route in ipr.get_routes(family=family, table=table):
        if route["dst_len"] == 0 and route.get("RTA_GATEWAY"):
            return str(ipaddress.ip_address(route.get("RTA_GATEWAY")).compressed)
    return ""  # no default route: reported so the diff sees it differs from what was asked


def _parse(rule: Any, gateway: str) -> PolicyRoute | None:
    source = rule.get("FRA_SRC")
    sport = rule.get("FRA_SPORT_RANGE")
    proto = rule.get("FRA_IP_PROTO")
    if not source or not sport or proto not in (Proto.TCP, Proto.UDP, Proto.SCTP):
        return None
    start, _, end = str(sport).partition(":")
    if start != end or rule["src_len"] != ipaddress.ip_address(source).max_prefixlen:
        return None
    return PolicyRoute(
        family=Family(rule["family"]),
        source=ipaddress.ip_address(source).compressed,
        protocol=Proto(proto),
        port=int(start),
        gateway=gateway,
        table=int(rule.get("FRA_TABLE") or rule["table"]),
    )


class NetlinkPolicyRoutes:
    """The ``PolicyRoutes`` gateway in the current network namespace."""

    def list(self) -> set[PolicyRoute]:
        """kube-lvs' own rules (priority and table in our ranges) with their tables' gateways."""
        found: set[PolicyRoute] = set()
        with IPRoute() as ipr:
            for family in (socket.AF_INET, socket.AF_INET6):
                gateways: dict[int, str] = {}
                for rule in ipr.get_rules(family=family):
                    if not _ours(rule):
                        continue
                    table = int(rule.get("FRA_TABLE") or rule["table"])
                    if table not in gateways:
                        gateways[table] = _gateways(ipr, family, table)
                    parsed = _parse(rule, gateways[table])
                    if parsed is None:
                        logger.warning(
                            "ignoring a rule in kube-lvs' priority/table range it did not write: %s", rule
                        )
                    else:
                        found.add(parsed)
        return found

    def add(self, route: PolicyRoute) -> None:
        """Install the table's default route, then the rule (route first, so the rule never points nowhere)."""
        check(route)
        with IPRoute() as ipr:
            try:
                ipr.route("replace", family=int(route.family), dst_len=0, gateway=route.gateway, table=route.table)
            except NetlinkError as error:
                raise PolicyRouteError(
                    error.code, f"default via {route.gateway} table {route.table} for {route.source}: {error}"
                ) from error
            try:
                ipr.rule("add", **_selector(route))
            except NetlinkError as error:
                if error.code != errno.EEXIST:
                    raise PolicyRouteError(error.code, f"ip rule for {route}: {error}") from error
                return
        logger.info(
            "policy route %s %s:%d via %s (table %d)",
            route.protocol.name,
            route.source,
            route.port,
            route.gateway,
            route.table,
        )

    def remove(self, route: PolicyRoute) -> None:
        """Delete the rule; drop the table's default route once no rule of ours uses the table."""
        check(route, gateway=False)
        with IPRoute() as ipr:
            try:
                ipr.rule("del", **_selector(route))
            except NetlinkError as error:
                if error.code not in GONE:
                    raise PolicyRouteError(error.code, f"ip rule for {route}: {error}") from error
            in_use = any(
                _ours(rule) and (rule.get("FRA_TABLE") or rule["table"]) == route.table
                for rule in ipr.get_rules(family=int(route.family))
            )
            if not in_use:
                try:
                    ipr.route("del", family=int(route.family), dst_len=0, table=route.table)
                except NetlinkError as error:
                    if error.code not in GONE:
                        raise PolicyRouteError(
                            error.code, f"default route of table {route.table}: {error}"
                        ) from error
        logger.info(
            "removed policy route %s %s:%d (table %d)", route.protocol.name, route.source, route.port, route.table
        )
