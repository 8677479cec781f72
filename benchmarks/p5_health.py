"""P5: health checking 1,000 real servers every second, on the host: CPU share and detection delay.

The engine is :class:`kubelvs.agent.health.HealthEngine` with its TCP checker (keepalived's TCP_CHECK), one
target per listener on 127.0.0.1 (ephemeral ports), the listeners in a child process so
``time.process_time()`` counts the engine's side only. Each target: interval 1 s, ``retries`` 3, 1 s between
retries (keepalived's ``delay_before_retry``), 1 s connect timeout. After every target is Healthy the CPU share
of one core is taken over a steady window; then some listeners are closed (connection refused from then on) and
each target's delay from its close to its Unhealthy notice is measured.

Goals: CPU < 20 % of one core; every detection <= interval x retries + 0.5 s.
Sizes: ``BENCH_HEALTH_TARGETS`` (1000), ``BENCH_HEALTH_WINDOW`` (10 s), ``BENCH_HEALTH_KILLED`` (50),
``BENCH_HEALTH_TYPE`` (tcp; http checks an aiohttp server's /healthz instead).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from measure import percentile

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, Transition, default_checkers
from kubelvs.api.enums import HealthCheckType

logger = logging.getLogger(__name__)

INTERVAL_S = 1.0
RETRIES = 3
GOAL_CPU = 0.20
GOAL_DETECTION_S = INTERVAL_S * RETRIES + 0.5

# The real servers: N listeners; "close I" on stdin closes listener I and answers its close time (monotonic).
SERVERS = """
import asyncio, json, resource, sys, time
from aiohttp import web

async def main(kind, count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * count + 256)), hard))
    closers, ports = [], []
    if kind == "tcp":
        async def hang_up(reader, writer):
            writer.close()
        for _ in range(count):
            server = await asyncio.start_server(hang_up, "127.0.0.1", 0, backlog=64)
            ports.append(server.sockets[0].getsockname()[1])
            closers.append(server)
    else:
        async def ok(request):
            return web.Response(text="ok")
        app = web.Application()
        app.router.add_get("/healthz", ok)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0)
        await runner.setup()
        for _ in range(count):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=64)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])
            closers.append(site._server)
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        index = int(line.split()[1])
        closers[index].close()
        print(json.dumps(time.monotonic()), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def env(name: str, default: float) -> float:
    return float(os.environ.get(name, "") or default)


async def watch_lag(lags: list[float], period: float = 0.1) -> None:
    """How late the event loop wakes a 100 ms sleep: the scheduling delay every check timer suffers too."""
    while True:
        start = time.monotonic()
        await asyncio.sleep(period)
        lags.append(time.monotonic() - start - period)


async def measure(kind: str, targets: int, window: float, killed: int) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVERS, kind, str(targets)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        ports: list[int] = json.loads(child.stdout.readline())
        down_at: dict[int, float] = {}

        def noticed(change: Transition[int]) -> None:
            if change.new is Health.DOWN:
                down_at.setdefault(change.key, time.monotonic())

        specs = {
            index: CheckSpec(
                HealthCheckType(kind),
                "127.0.0.1",
                port,
                interval=INTERVAL_S,
                connect_timeout=1.0,
                retries=RETRIES,
                delay_before_retry=INTERVAL_S,
                path="/healthz",
            )
            for index, port in enumerate(ports)
        }
        lags: list[float] = []
        async with HealthEngine(default_checkers(), noticed) as engine:
            engine.set_targets(specs)
            monitor = asyncio.create_task(watch_lag(lags))
            deadline = time.monotonic() + 30
            while any(health is not Health.UP for health in engine.states().values()):
                if time.monotonic() > deadline:
                    raise RuntimeError("not every target came up within 30 s")
                await asyncio.sleep(0.05)
            wall, cpu = time.monotonic(), time.process_time()
            await asyncio.sleep(window)
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
            flapped = sum(1 for health in engine.states().values() if health is not Health.UP)
            # kill spread over one interval, so the victims sit at every phase of their check cycle
            victims = list(range(0, targets, max(1, targets // killed)))[:killed]
            closed: dict[int, float] = {}
            for victim in victims:
                child.stdin.write(f"close {victim}\n")
                child.stdin.flush()
                closed[victim] = json.loads(await asyncio.to_thread(child.stdout.readline))
                await asyncio.sleep(INTERVAL_S / len(victims))
            deadline = time.monotonic() + GOAL_DETECTION_S * 3
            while set(victims) - set(down_at) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            monitor.cancel()
        delays = [down_at[v] - closed[v] for v in victims if v in down_at]
        missed = len(victims) - len(delays)
        worst = max(delays, default=float("nan"))
        share = cpu / wall
        return {
            "checker": kind,
            "targets": targets,
            "interval_s": INTERVAL_S,
            "retries": RETRIES,
            "cpu_share_of_one_core": share,
            "window_s": wall,
            "not_up_during_window": flapped,
            "killed": len(victims),
            "undetected": missed,
            "detection_p50_s": percentile(delays, 0.5),
            "detection_max_s": worst,
            "false_downs": len(set(down_at) - set(victims)),
            "loop_lag_p50_s": percentile(lags, 0.5),
            "loop_lag_p99_s": percentile(lags, 0.99),
            "loop_lag_max_s": max(lags, default=float("nan")),
            "host_loadavg_1m": os.getloadavg()[0],
            "goal": f"CPU < {GOAL_CPU:.0%}, detection <= {GOAL_DETECTION_S:g} s",
            "met": share < GOAL_CPU
            and missed == 0
            and worst <= GOAL_DETECTION_S
            and not (set(down_at) - set(victims)),
        }
    finally:
        child.kill()
        child.wait()


def run() -> dict[str, Any]:
    kind = os.environ.get("BENCH_HEALTH_TYPE", "tcp")
    targets = int(env("BENCH_HEALTH_TARGETS", 1000))
    return asyncio.run(
        measure(kind, targets, env("BENCH_HEALTH_WINDOW", 10.0), min(targets, int(env("BENCH_HEALTH_KILLED", 50))))
    )


def main(argv: list[str]) -> int:
    """``p5_health.py [OUT.json]``: print the figures, and write them for ``report.py`` when asked."""
    logging.basicConfig(level=logging.WARNING)
    figures = run()
    text = json.dumps(figures, indent=1)
    print(text)
    if argv:
        Path(argv[0]).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
