"""The HTTP client Maskline calls its users' URLs with, and the address guard it connects through.

Callback URLs are chosen by whoever holds an account, so every connection they cause can be
held to public addresses: with MASKLINE_CALLBACK_ALLOW_PRIVATE=0 the guard resolves the host
itself, refuses the connection unless every address is public, and connects to the address
it checked, so a name that resolves differently a moment later, a numeric form such as
`2130706433` or `0x7f.0.0.1`, or an IPv4 address mapped into IPv6 all meet the same check.
TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


class RefusedAddress(httpcore.ConnectError):
    """The callback's host resolves to an address the guard does not connect to."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to public addresses."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            found = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        private = [address for address in addresses if not is_public(address)]
        if private or not addresses:
            raise RefusedAddress(
                f"refused: {host} resolves to {', '.join(private) or 'nothing'}, not a public "
                "address (MASKLINE_CALLBACK_ALLOW_PRIVATE=0)"
            )
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("refused: callbacks never reach a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _guarded_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx builds its connection pool without a way to pass the network backend (pinned at
    # 0.28.1 in pyproject.toml; tests/test_callback_safety.py fails if this stops working).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=transport._pool._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(),
    )
    return transport


def make_client(*, allow_private: bool) -> httpx.AsyncClient:
    """The client for outbound callbacks: no proxies from the environment, no redirects, and
    the address guard unless private addresses are allowed."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    if allow_private:
        return httpx.AsyncClient(limits=limits, trust_env=False)
    return httpx.AsyncClient(transport=_guarded_transport(limits), trust_env=False)


MAX_URL_LENGTH = 2048


def url_problem(value: str) -> str | None:
    """Why delivery could not use `value` as a callback URL, or None when it can.

    Parsed by httpx, as delivery parses it, so a URL accepted here never fails there.
    """
    if len(value) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "must not contain spaces or control characters"
    try:
        url = httpx.URL(value)
        port = url.port
        host = url.host
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        return f"must be an absolute http or https URL ({exc})"
    if url.scheme not in ("http", "https") or not host:
        return "must be an absolute http or https URL"
    if url.userinfo:
        return "must not carry a user name or password"
    if port is not None and not 0 < port < 65536:
        return "has a port out of range"
    return None
