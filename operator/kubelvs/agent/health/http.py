"""keepalived's HTTP_GET and SSL_GET: a real server is up if a GET of the path answers an expected status.

One aiohttp session serves every check of the agent. TLS is not verified, as keepalived's SSL_GET does
not: a health check asks "does it answer", and real servers usually carry certificates for the VIP's
name, not for their own addresses. Redirects are not followed, so a 301 can be an expected status.
"""

from __future__ import annotations

import logging

import aiohttp
import yarl

from kubelvs.address_text import bracketed
from kubelvs.agent.health.engine import CheckSpec, Result
from kubelvs.api.enums import HealthCheckType

logger = logging.getLogger(__name__)


class HttpChecker:
    """GET ``path`` over http or https; the timeout covers connect, TLS and the response head."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No pooling: a check must open a fresh connection, as a new client would.
            connector = aiohttp.TCPConnector(ssl=False, force_close=True, limit=0)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def check(self, target: CheckSpec, timeout: float) -> Result:
        scheme = "https" if target.type is HealthCheckType.HTTPS else "http"
        host = bracketed(target.address)
        url = yarl.URL(f"{scheme}://{host}:{target.port}{target.path}", encoded=False)
        headers = {"Host": target.host} if target.host else None
        try:
            async with self._client().get(
                url,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status = response.status
        except TimeoutError:
            return Result(False, f"GET {url} timed out after {timeout:g}s")
        except aiohttp.ClientError as error:
            return Result(False, f"GET {url}: {error}")
        if status in target.expect_status:
            return Result(True, f"GET {url}: {status}")
        expected = ", ".join(str(code) for code in sorted(target.expect_status))
        return Result(False, f"GET {url}: {status}, expected {expected}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
