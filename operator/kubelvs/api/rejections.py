"""What a judgement says of an object it does not accept, and the order that decides who keeps a claim.

Its own module because :mod:`.claims` and :mod:`.set_rules` both speak it, and set_rules builds on claims.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.problems import Problem


class Rejection(enum.StrEnum):
    """Why an object is not accepted; the value is the Accepted condition's reason.

    :func:`set_judgement` gives the last six; the operator adds the first three (a spec that fails its own
    rules, a VIP outside the VIP pools or on a node).
    """

    INVALID_SPEC = "InvalidSpec"
    VIP_OUTSIDE_POOLS = "VIPOutsidePools"
    VIP_IS_NODE_ADDRESS = "VIPIsNodeAddress"
    SERVICE_CONFLICT = "ServiceConflict"
    VIRTUAL_SERVER_MISSING = "VirtualServerMissing"
    VIRTUAL_SERVER_NOT_ACCEPTED = "VirtualServerNotAccepted"
    INCOMPATIBLE = "IncompatibleWithVirtualServer"
    DUPLICATE_DESTINATION = "DuplicateDestination"
    VIP_SHARING_REFUSED = "VIPSharingRefused"


@dataclass(frozen=True)
class SetProblem:
    """A problem of one object (``kind``, ``key``) with the others, and the rule it broke."""

    kind: str
    key: str
    reason: Rejection
    problem: Problem


@dataclass(frozen=True)
class Ordering:
    """Who keeps a service or a destination that several objects claim: the one with the smallest sort key."""

    key: Callable[[VirtualServer | RealServer], Any]
    first: str = ""
    """How a message names the object that kept the claim: ``""`` or ``"the older "``."""


BY_NAME = Ordering(lambda obj: obj.key)
"""``namespace/name`` order: what ``kubelvs validate`` and the standalone agent go by (no object has an age)."""
