"""``kubelvs agent --cleanup``: undo everything kube-lvs programmed on this node, as ``kube-proxy --cleanup`` does.

What to undo comes from the node's ownership record (:mod:`kubelvs.agent.ownership`) and the VIP pools, never
from an API server: the reconciler brings the kernel to an empty desired state, which removes exactly what it
would remove as leftovers (its IPVS services, recorded or inside the pools, never kube-proxy's; its VIPs; its
nftables table; its policy rules and tables) and sets every recorded sysctl back to the value it found. Then
what only the record knows: tunl0 (and ip6tnl0) down if the agent brought it up, the IPVS timeouts it
changed, the sync daemons it started. A record written before those were recorded says nothing of them: they
are left alone, with a log line. Every failure is one ERROR line; the record is removed only when everything went.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Record, Store
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.netstate import NodeState
from kubelvs.planner.facts import Network

logger = logging.getLogger(__name__)


class TunnelSwitch(Protocol):
    """tunl0's administrative state (``kubelvs.kernel.tunnel.NetlinkTunnel``)."""

    def is_up(self) -> bool: ...

    def set_down(self) -> bool: ...


def clean(
    kernel: Kernel,
    store: Store,
    tunnel: TunnelSwitch,
    vip_pools: tuple[Network, ...] = (),
    sync_daemon: tuple[str, int] | None = None,
    tunnel6: TunnelSwitch | None = None,
) -> Outcome:
    """Remove what kube-lvs programmed in this namespace; ``sync_daemon``: the agent's --sync-interface and
    --sync-id, whose daemons are stopped even when the record does not name them; ``tunnel6``: ip6tnl0's switch
    (None: left as it is). Errors in the outcome."""
    reconciler = Reconciler(kernel, store, Drainer(0.0), vip_pools)
    record = reconciler.record
    try:
        outcome = reconciler.reconcile(NodeState())
    finally:
        reconciler.announcer.close()
    _attempt(outcome, "tunnel tunl0", "tunnel.down", lambda: _tunnel_down(record, tunnel, "tunl0"))
    if tunnel6 is not None:
        _attempt(outcome, "tunnel ip6tnl0", "tunnel.down", lambda: _tunnel_down(record, tunnel6, "ip6tnl0"))
    _attempt(outcome, "ipvs timeouts", "ipvs.set_timeouts", lambda: _timeouts_back(record, kernel))
    _attempt(
        outcome, "ipvs sync daemons", "ipvs.stop_sync", lambda: _stop_sync_daemons(record, kernel, sync_daemon)
    )
    if outcome.errors:
        _save(store, record, outcome)  # what is left stays ours, for the next run
    elif store.path is not None:
        try:
            store.path.unlink(missing_ok=True)
        except OSError as error:
            _fail(outcome, "ownership record", f"remove: {error}")
    logger.info("cleanup: %s", outcome)
    return outcome


def _attempt(outcome: Outcome, obj: str, kind: str, action: Callable[[], int]) -> None:
    try:
        wrote = action()
    except Exception as error:  # one failure must not stop the rest of the cleanup
        _fail(outcome, obj, f"{kind}: {error}")
        return
    if wrote:
        outcome.writes[kind] += wrote


def _fail(outcome: Outcome, obj: str, message: str) -> None:
    logger.error("%s: %s", obj, message)
    outcome.errors.append((obj, message))


# the record's key that says whether kube-lvs brought each fallback tunnel device up
_BROUGHT_UP = {"tunl0": "tunnel", "ip6tnl0": "tunnel6"}


def _tunnel_down(record: Record, tunnel: TunnelSwitch, device: str) -> int:
    field = _BROUGHT_UP[device]
    brought_up: bool | None = getattr(record, field)
    if brought_up is None:
        if tunnel.is_up():
            logger.info("tunnel %s: left up, the record does not say whether kube-lvs brought it up", device)
        return 0
    if not brought_up:
        return 0  # it was up before kube-lvs
    wrote = tunnel.set_down()
    setattr(record, field, None)
    return int(wrote)


def _timeouts_back(record: Record, kernel: Kernel) -> int:
    if record.timeouts is None:
        return 0
    previous = record.timeouts
    if kernel.ipvs.timeouts() == previous:
        record.timeouts = None
        return 0
    kernel.ipvs.set_timeouts(*previous)
    record.timeouts = None
    logger.info("ipvs timeouts: back to tcp %d, tcpfin %d, udp %d", *previous)
    return 1


def _stop_sync_daemons(record: Record, kernel: Kernel, configured: tuple[str, int] | None) -> int:
    wanted = dict(record.sync_daemons)
    running = kernel.ipvs.sync_daemons() if wanted or configured is not None else {}
    stopped = 0
    for state, daemon in sorted(running.items()):
        if wanted.get(state) == daemon or daemon == configured:
            kernel.ipvs.stop_sync_daemon(state)
            logger.info("ipvs sync daemon %s on %s syncid %d: stopped", state, *daemon)
            stopped += 1
    record.sync_daemons.clear()
    return stopped


def _save(store: Store, record: Record, outcome: Outcome) -> None:
    try:
        store.save(record)
    except OSError as error:
        _fail(outcome, "ownership record", f"save: {error}")
