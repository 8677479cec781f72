"""Policy routes for the LVS-NAT return path on a backend, over rtnetlink (pyroute2).

A NAT real server must send its replies back through the director, but the node's default route belongs
to the node. So each ``PolicyRoute`` becomes

    ip rule add priority 32100 from <RIP>/32 ipproto <tcp|udp|sctp> sport <port> lookup <table>
    ip route replace <gateway's subnet> dev <dev> scope link src <src> table <table>   # copied from main
    ip route replace default via <gateway> table <table>

and the main table is never touched. The copied connected route is what classic LVS-NAT (default gateway =
director) does for free: replies to peers on the gateway's own subnet, such as a standby director's health
checks, go straight to them, and only the rest goes via the gateway (which sits on a dead node until the
standby takes it over). The price is classic LVS-NAT's too: a client of the VIP on that same subnet gets
its replies straight from the real server's address, which it does not expect (use natReturnPath snat
there). A route in the table, not a second ``to <subnet> lookup main`` rule: the table is
already ours and goes with its last rule, ``list`` keeps reading one rule per PolicyRoute, and no rule of
ours widens what the node's other traffic looks up.

``ipproto``/``sport`` selectors (FRA_IP_PROTO, FRA_SPORT_RANGE) need Linux >= 4.17. kube-lvs owns rule
priorities ``PRIORITIES`` and tables ``TABLES``; ``list`` reports only rules inside both ranges, so foreign
rules are never read as ours (nor removed). Routes that share a table share its routes: the planner gives one
table per gateway. A table whose routes are not what ``add`` would write (no default route, or a subnet route
that no longer matches main's, e.g. after the node's address changed) is listed with gateway ``""``, so the
reconciler's diff removes and re-adds its routes.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kubelvs.netstate import Family, PolicyRoute, Proto

logger = logging.getLogger(__name__)

RULE_PRIORITY = 32100  # before "main" (32766), after anything an admin usually adds at low numbers
PRIORITIES = range(32100, 32200)
TABLES = range(2000, 3000)
MAIN_TABLE = 254
RTN_UNICAST = 1
GONE = {errno.ENOENT, errno.ESRCH}


class PolicyRouteError(OSError):
    """The kernel refused a rule or route; the message names the PolicyRoute."""


@dataclass(frozen=True, order=True)
class TableRoute:
    """One non-default route of a routing table, with what copying, comparing and deleting it needs."""

    dst: str
    dst_len: int
    priority: int = 0
    oif: int = 0
    scope: int = 0
    prefsrc: str = ""
    gateway: str = ""  # "" for a connected (on-link) route
    kind: int = RTN_UNICAST  # rtm_type: unicast, blackhole, ...

    @property
    def connected(self) -> bool:
        return self.kind == RTN_UNICAST and not self.gateway and self.oif > 0 and self.dst_len > 0

    def contains(self, address: str) -> bool:
        return ipaddress.ip_address(address) in ipaddress.ip_network(f"{self.dst}/{self.dst_len}", strict=False)

    def fields(self) -> dict[str, Any]:
        """Keyword arguments of ``IPRoute.route`` that write (or, for "del", select exactly) this route."""
        fields: dict[str, Any] = {"dst_len": self.dst_len, "scope": self.scope}
        optional = {
            "dst": self.dst,
            "priority": self.priority,
            "oif": self.oif,
            "prefsrc": self.prefsrc,
            "gateway": self.gateway,
        }
        fields.update({name: value for name, value in optional.items() if value})
        return fields

    def __str__(self) -> str:
        via = f" via {self.gateway}" if self.gateway else ""
        src = f" src {self.prefsrc}" if self.prefsrc else ""
        return f"{self.dst}/{self.dst_len}{via} oif {self.oif}{src} metric {self.priority}"


def connected_routes(main: Iterable[TableRoute], gateway: str) -> list[TableRoute]:
    """Main's connected route(s) of the subnet that holds ``gateway`` (the longest such prefix).

    One per (prefix, metric), the first as the kernel lists it (the one it uses): a table keeps only one
    route per key, so copying two would never compare equal. Empty if no connected route holds the gateway.
    """
    holding = [route for route in main if route.connected and route.contains(gateway)]
    if not holding:
        return []
    longest = max(route.dst_len for route in holding)
    chosen: dict[tuple[str, int, int], TableRoute] = {}
    for route in holding:
        if route.dst_len == longest:
            chosen.setdefault((route.dst, route.dst_len, route.priority), route)
    return list(chosen.values())


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


def _table(message: Any) -> int:
    """The table of a rule or route message (FRA_TABLE/RTA_TABLE carry numbers above 255)."""
    return int(message.get("FRA_TABLE") or message.get("RTA_TABLE") or message["table"])


def _ours(rule: Any) -> bool:
    priority = rule.get("FRA_PRIORITY") or 0
    return priority in PRIORITIES and _table(rule) in TABLES


def _address(value: Any) -> str:
    return ipaddress.ip_address(value).compressed if value else ""


def _parse_route(message: Any) -> TableRoute:
    return TableRoute(
        dst=_address(message.get("RTA_DST")),
        dst_len=int(message["dst_len"]),
        priority=int(message.get("RTA_PRIORITY") or 0),
        oif=int(message.get("RTA_OIF") or 0),
        scope=int(message["scope"]),
        prefsrc=_address(message.get("RTA_PREFSRC")),
        gateway=_address(message.get("RTA_GATEWAY")),
        kind=int(message["type"]),
    )


def _routes(ipr: IPRoute, family: int) -> dict[int, list[TableRoute]]:
    """Every route of ``family`` in main and in kube-lvs' tables, by table (one dump)."""
    tables: dict[int, list[TableRoute]] = {}
    for message in ipr.get_routes(family=family):
        table = _table(message)
        if table == MAIN_TABLE or table in TABLES:
            tables.setdefault(table, []).append(_parse_route(message))
    return tables


def _gateway(table: list[TableRoute], main: list[TableRoute]) -> str:
    """The table's default gateway, or "" if the table is not what ``add`` writes for that gateway."""
    gateway = next((route.gateway for route in table if route.dst_len == 0 and route.gateway), "")
    if not gateway:
        return ""  # no default route: reported so the diff sees it differs from what was asked
    subnet = sorted(route for route in table if route.dst_len > 0)
    if subnet != sorted(connected_routes(main, gateway)):
        return ""  # the copy of main's subnet route is missing or stale: reported so it is rewritten
    return gateway


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
        table=_table(rule),
    )


class NetlinkPolicyRoutes:
    """The ``PolicyRoutes`` gateway in the current network namespace."""

    def list(self) -> set[PolicyRoute]:
        """kube-lvs' own rules (priority and table in our ranges) with their tables' gateways."""
        found: set[PolicyRoute] = set()
        with IPRoute() as ipr:
            for family in (socket.AF_INET, socket.AF_INET6):
                rules = [rule for rule in ipr.get_rules(family=family) if _ours(rule)]
                if not rules:
                    continue
                routes = _routes(ipr, family)
                main = routes.get(MAIN_TABLE, [])
                gateways: dict[int, str] = {}
                for rule in rules:
                    table = _table(rule)
                    if table not in gateways:
                        gateways[table] = _gateway(routes.get(table, []), main)
                    parsed = _parse(rule, gateways[table])
                    if parsed is None:
                        logger.warning(
                            "ignoring a rule in kube-lvs' priority/table range it did not write: %s", rule
                        )
                    else:
                        found.add(parsed)
        return found

    def add(self, route: PolicyRoute) -> None:
        """Write the table's routes, then the rule (routes first, so the rule never points nowhere).

        The table gets main's connected route of the gateway's subnet and the default route via the gateway;
        any other route left in it (a stale subnet copy) is deleted after the new ones are in.
        """
        check(route)
        family = int(route.family)
        with IPRoute() as ipr:
            routes = _routes(ipr, family)
            wanted = connected_routes(routes.get(MAIN_TABLE, []), route.gateway)
            for link in wanted:
                self._write(ipr, "replace", route, link)
            try:
                ipr.route("replace", family=family, dst_len=0, gateway=route.gateway, table=route.table)
            except NetlinkError as error:
                raise PolicyRouteError(
                    error.code, f"default via {route.gateway} table {route.table} for {route.source}: {error}"
                ) from error
            for stale in routes.get(route.table, []):
                if stale.dst_len > 0 and stale not in wanted:
                    self._write(ipr, "del", route, stale)
            try:
                ipr.rule("add", **_selector(route))
            except NetlinkError as error:
                if error.code != errno.EEXIST:
                    raise PolicyRouteError(error.code, f"ip rule for {route}: {error}") from error
                return
        logger.info(
            "policy route %s %s:%d via %s (table %d, on-link: %s)",
            route.protocol.name,
            route.source,
            route.port,
            route.gateway,
            route.table,
            ", ".join(f"{link.dst}/{link.dst_len}" for link in wanted) or "none",
        )

    def remove(self, route: PolicyRoute) -> None:
        """Delete the rule; flush the table once no rule of ours uses it."""
        check(route, gateway=False)
        with IPRoute() as ipr:
            try:
                ipr.rule("del", **_selector(route))
            except NetlinkError as error:
                if error.code not in GONE:
                    raise PolicyRouteError(error.code, f"ip rule for {route}: {error}") from error
            in_use = any(
                _ours(rule) and _table(rule) == route.table for rule in ipr.get_rules(family=int(route.family))
            )
            if not in_use:
                try:
                    ipr.flush_routes(family=int(route.family), table=route.table)
                except NetlinkError as error:
                    if error.code not in GONE:
                        raise PolicyRouteError(error.code, f"flushing table {route.table}: {error}") from error
        logger.info(
            "removed policy route %s %s:%d (table %d)", route.protocol.name, route.source, route.port, route.table
        )

    @staticmethod
    def _write(ipr: IPRoute, command: str, route: PolicyRoute, table_route: TableRoute) -> None:
        try:
            ipr.route(command, family=int(route.family), table=route.table, **table_route.fields())
        except NetlinkError as error:
            if command == "del" and error.code in GONE:
                return  # replaced by its new copy already (same prefix and metric)
            raise PolicyRouteError(
                error.code, f"{command} {table_route} table {route.table} for {route.source}: {error}"
            ) from error
