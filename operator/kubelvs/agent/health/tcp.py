"""keepalived's TCP_CHECK: a real server is up if it accepts a TCP connection on the check port."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket

from kubelvs.address_text import with_port
from kubelvs.agent.health.engine import CheckSpec, Result

logger = logging.getLogger(__name__)


class TcpChecker:
    """Connects and closes at once: a bare non-blocking socket, no transport, cheap at 1,000 checks a second."""

    async def check(self, target: CheckSpec, timeout: float) -> Result:
        family = socket.AF_INET6 if ipaddress.ip_address(target.address).version == 6 else socket.AF_INET
        loop = asyncio.get_running_loop()
        where = with_port(target.address, target.port)  # [2001:db8::1]:80: the port reads apart
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            try:
                async with asyncio.timeout(timeout):
                    await loop.sock_connect(sock, (target.address, target.port))
            except TimeoutError:
                return Result(False, f"connect to {where} timed out after {timeout:g}s")
            except OSError as error:
                reason = os.strerror(error.errno) if error.errno else str(error)  # asyncio hides it in strerror
                return Result(False, f"connect to {where}: {reason}")
        return Result(True, f"connected to {where}")

    async def close(self) -> None:
        """Nothing is kept between checks."""
