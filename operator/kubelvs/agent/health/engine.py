"""The health-check engine: keepalived's checker life cycle, owned in one place.

The engine owns everything but the probe itself: the check interval (``delay_loop``), the retries
(``nb_get_retry``) spaced by ``delay_before_retry``, the connect timeout, and the state of every target.
A checker (:mod:`.tcp`, :mod:`.http`) only answers "did one attempt succeed?".

Semantics, as keepalived's:

- A target starts ``Unknown``, which counts as serving -- keepalived's default (without ``alpha``): an
  agent restart must not take healthy real servers out of rotation before their first check.
- A serving target goes ``Unhealthy`` after ``retries`` consecutive failed attempts within one check
  cycle, spaced by ``delay_before_retry``; an unhealthy target is probed once per cycle and comes back
  ``Healthy`` on the first success.
- Callers hear of *changes* only (including ``Unknown`` -> ``Healthy``, which matters to status reports).

Cost: one asyncio task per target, no threads; starts are jittered across one interval so 1,000
targets at 1 s make a steady trickle of probes instead of a burst (CPU measured in
``tests/unit/test_health_thousand_targets.py``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from kubelvs.api.enums import HealthCheckType
from kubelvs.api.models import HealthCheck

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class Health(enum.StrEnum):
    """Spelled as ``RealServer.status.health``."""

    UNKNOWN = "Unknown"
    UP = "Healthy"
    DOWN = "Unhealthy"

    @property
    def serving(self) -> bool:
        """Whether the real server should get new connections (Unknown does, as in keepalived)."""
        return self is not Health.DOWN


@dataclass(frozen=True)
class CheckSpec:
    """What to probe and how often: one real server's check, with the API's defaults."""

    type: HealthCheckType
    address: str
    port: int
    interval: float = 6.0
    connect_timeout: float = 5.0
    retries: int = 1
    delay_before_retry: float = 1.0
    path: str = "/"
    expect_status: frozenset[int] = frozenset({200})
    host: str | None = None

    @classmethod
    def from_model(cls, check: HealthCheck, address: str, port: int) -> CheckSpec:
        """The check of a real server at ``address:port`` (``check.port`` wins, as connect_port does)."""
        http = check.http
        return cls(
            type=check.type,
            address=address,
            port=check.port if check.port is not None else port,
            interval=check.interval,
            connect_timeout=check.effective_connect_timeout,
            retries=check.retries,
            delay_before_retry=check.delay_before_retry,
            path=http.path if http else "/",
            expect_status=frozenset(http.expect_status) if http else frozenset({200}),
            host=http.host if http else None,
        )

    @property
    def endpoint(self) -> tuple[HealthCheckType, str, int]:
        return (self.type, self.address, self.port)


@dataclass(frozen=True)
class Result:
    """Outcome of one attempt; ``detail`` says why, for logs and Events ("connection refused")."""

    ok: bool
    detail: str = ""


class Checker(Protocol):
    """One kind of probe. Every checker has the same life cycle: check as often as asked, then close."""

    async def check(self, target: CheckSpec, timeout: float) -> Result: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Transition(Generic[K]):
    """A target's health changed."""

    key: K
    old: Health
    new: Health
    result: Result


@dataclass
class _Target(Generic[K]):
    spec: CheckSpec
    health: Health = Health.UNKNOWN
    last: Result = field(default_factory=lambda: Result(False, "not checked yet"))
    task: asyncio.Task[None] | None = None


class HealthEngine(Generic[K]):
    """Checks a set of targets, each keyed by ``K`` (e.g. a RealServer's key), and reports changes."""

    def __init__(
        self,
        checkers: Mapping[HealthCheckType, Checker],
        on_change: Callable[[Transition[K]], None] | None = None,
        jitter: bool = True,
    ) -> None:
        self._checkers = dict(checkers)
        self._on_change = on_change
        self._jitter = jitter
        self._targets: dict[K, _Target[K]] = {}

    def set_targets(self, targets: Mapping[K, CheckSpec]) -> None:
        """Check exactly these targets from now on (must run inside the event loop).

        New keys start ``Unknown``; removed keys stop and are forgotten; a changed spec restarts the
        target's loop, keeping its health unless it now probes a different endpoint.
        Targets of type ``none`` are not checked (and have no state).
        """
        wanted = {key: spec for key, spec in targets.items() if spec.type is not HealthCheckType.NONE}
        for key, spec in wanted.items():
            if spec.type not in self._checkers:
                raise ValueError(f"health check type {spec.type.value!r} of {key!r} has no checker configured")
        for key in set(self._targets) - set(wanted):
            self._stop(self._targets.pop(key))
        for key, spec in wanted.items():
            target = self._targets.get(key)
            if target is not None and target.spec == spec:
                continue
            if target is None or target.spec.endpoint != spec.endpoint:
                if target is not None:
                    self._stop(target)
                target = self._targets[key] = _Target(spec)
            else:
                self._stop(target)
                target.spec = spec
            target.task = asyncio.create_task(self._run(key, target), name=f"health {key!r}")

    def states(self) -> dict[K, Health]:
        """Health of every target now."""
        return {key: target.health for key, target in self._targets.items()}

    def last_results(self) -> dict[K, Result]:
        """The latest attempt's outcome of every target (for messages)."""
        return {key: target.last for key, target in self._targets.items()}

    async def close(self) -> None:
        """Stop every check and close the checkers (their sessions and sockets)."""
        tasks = [target.task for target in self._targets.values() if target.task is not None]
        for target in self._targets.values():
            self._stop(target)
        self._targets.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
        for checker in self._checkers.values():
            await checker.close()

    async def __aenter__(self) -> HealthEngine[K]:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @staticmethod
    def _stop(target: _Target[K]) -> None:
        if target.task is not None:
            target.task.cancel()
            target.task = None

    async def _run(self, key: K, target: _Target[K]) -> None:
        spec = target.spec
        if self._jitter:
            await asyncio.sleep(random.uniform(0, spec.interval))
        while True:
            result = await self._cycle(spec, target.health)
            target.last = result
            new = Health.UP if result.ok else Health.DOWN
            if new is not target.health:
                old, target.health = target.health, new
                logger.info("real server %s is %s: %s", key, new.value, result.detail)
                if self._on_change is not None:
                    try:
                        self._on_change(Transition(key, old, new, result))
                    except Exception:
                        logger.exception("health change callback failed for %s", key)
            await asyncio.sleep(spec.interval)

    async def _cycle(self, spec: CheckSpec, health: Health) -> Result:
        """One check cycle: up to ``retries`` attempts while serving, one while down."""
        attempts = 1 if health is Health.DOWN else spec.retries
        result = Result(False, "no attempt")
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(spec.delay_before_retry)
            result = await self._attempt(spec)
            if result.ok:
                break
        return result

    async def _attempt(self, spec: CheckSpec) -> Result:
        checker = self._checkers[spec.type]
        try:
            # The checker honours the timeout; this bound only guards against a checker that does not.
            async with asyncio.timeout(spec.connect_timeout + 1.0):
                return await checker.check(spec, spec.connect_timeout)
        except TimeoutError:
            return Result(False, f"no answer within {spec.connect_timeout:g}s")
        except Exception as error:  # a checker bug must not end the target's loop
            logger.exception("%s checker failed on %s:%s", spec.type.value, spec.address, spec.port)
            return Result(False, f"checker error: {error}")
