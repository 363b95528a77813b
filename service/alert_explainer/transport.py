"""The one outbound HTTP client, shared by the inference client and every sink.

aiohttp is used directly: on this machine httpx's default transport collapsed under
concurrency (13 notifications/s at 100 concurrent, against 1,660/s with aiohttp), and
httpx over the aiohttp transport still ran at half aiohttp's throughput. Swapping the
library means changing this module only; callers see `HttpClient` and `HttpResponse`.

Error messages never include the URL: sink URLs carry their secret in the path or query.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from alert_explainer.errors import TransportError
from alert_explainer.jsonout import encode_json

# Answers we read are small (an explanation, a destination's "ok"); a larger one is cut
# so a misbehaving peer cannot make us buffer without bound.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def tls_context(*ca_files: Path | None) -> ssl.SSLContext:
    """Certificate verification against the system CAs, plus each of `ca_files` given."""
    context = ssl.create_default_context()
    for ca_file in ca_files:
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
    return context


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP answer, read up to the size cap; `truncated` when the body went beyond it."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return orjson.loads(self.body)

    def text(self, limit: int = 300) -> str:
        """The start of the body as text, for error messages."""
        return self.body[:limit].decode("utf-8", errors="replace").strip()

    def retry_after(self) -> float | None:
        """Seconds the peer asked us to wait (Retry-After as seconds or an HTTP date)."""
        value = self.headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class HttpClient:
    """A pooled HTTP client; create it inside the running event loop, close it on shutdown."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        user_agent: str = "alert-explainer",
        ca_file: Path | None = None,
        verify: bool = True,
    ) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                # Per host only: with one shared total, slow inference calls could hold every
                # connection while the sinks' quick posts wait behind them.
                limit=0,
                limit_per_host=max_connections,
                ssl=tls_context(ca_file) if verify else False,
            ),
            headers={"User-Agent": user_agent},
            # Not trust_env: aiohttp would then re-read the proxy variables and ~/.netrc in a
            # worker thread on every request. The proxy variables are read once, below.
            trust_env=False,
            raise_for_status=False,
            auto_decompress=True,
        )
        self._proxies = urllib.request.getproxies_environment()
        self._proxy_by_origin: dict[str, str | None] = {}

    def _proxy(self, url: str) -> str | None:
        """The proxy HTTP(S)_PROXY names for `url`, unless NO_PROXY exempts its host."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxy_by_origin:
            proxy = self._proxies.get(parts.scheme)
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):  # NO_PROXY
                proxy = None
            self._proxy_by_origin[origin] = proxy
        return self._proxy_by_origin[origin]

    async def post_json(
        self,
        url: str,
        payload: Any,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> HttpResponse:
        """POST `payload` as JSON; raise TransportError when no HTTP answer arrives in time."""
        body = encode_json(payload)
        merged = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", url, body=body, headers=merged, timeout=timeout, tls=tls)

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float,
        max_bytes: int = MAX_RESPONSE_BYTES,
        tls: ssl.SSLContext | None = None,
    ) -> HttpResponse:
        """Send one request; redirects are not followed, so a token never travels elsewhere.

        The body is read up to `max_bytes`; beyond that reading stops (the connection is
        dropped) and the answer is marked `truncated`. `tls` replaces the client's
        certificate checks for this request (a peer with its own CA file).
        """
        if timeout <= 0:
            raise TransportError("no time left before the deadline", timeout=True)
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
                proxy=self._proxy(url),
                ssl=tls if tls is not None else True,  # True: the connector's own checks
            ) as response:
                content, truncated = await _read_capped(response.content, max_bytes)
                return HttpResponse(
                    status=response.status,
                    body=content,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    truncated=truncated,
                )
        except TimeoutError:
            raise TransportError(f"timed out after {timeout:.1f} s", timeout=True) from None
        except aiohttp.InvalidURL:
            raise TransportError("invalid URL") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            detail = getattr(exc.certificate_error, "verify_message", "") or "not trusted"
            raise TransportError(
                f"TLS certificate rejected ({detail}); a private CA goes in ca_file"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            # strerror alone: aiohttp's message repeats the address, ours never names it.
            errno = exc.os_error.errno
            reason = os.strerror(errno) if errno else type(exc.os_error).__name__
            raise TransportError(f"cannot connect: {reason.lower()}") from None
        except aiohttp.ServerDisconnectedError:
            raise TransportError("the server closed the connection without answering") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"connection failed ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._session.close()
        # aiohttp closes transports on the next loop iterations; give them that time.
        await asyncio.sleep(0)


async def _read_capped(content: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """The body up to `limit` bytes, and whether there was more.

    `StreamReader.read(n)` returns whatever one chunk holds, so read until the end.
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False
