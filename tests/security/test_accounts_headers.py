"""Cookies and response headers (issue 18, "Approval and accounts"): the session cookie
is Secure when served over HTTPS (the request's scheme, X-Forwarded-Proto from a trusted
proxy, or ``secure_cookies = "always"``); every response carries a Content-Security-Policy
with frame-ancestors 'none', X-Content-Type-Options: nosniff and a Referrer-Policy; and
the console's templates have no inline script the policy would block."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

import gateway.console
from tests.gateway.conftest import Gateway
from tests.security.accounts_gateway import PASSWORD, Clients, make, ready

__all__ = ["ready"]
TEMPLATES = Path(gateway.console.__file__).parent / "templates"


async def _cookie(client: httpx.AsyncClient, **headers: str) -> str:
    r = await client.post("/api/v1/auth/login", json={"username": "bientap", "password": PASSWORD}, headers=headers)
    assert r.status_code == 200, r.text
    return next(v for v in r.headers.get_list("set-cookie") if v.startswith("loa_session="))


def _client(gw: Gateway, base: str, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=gw.app, client=(peer, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=base)


@pytest.mark.asyncio
async def test_the_session_cookie_is_secure_over_https_only(ready: tuple[Gateway, Clients]) -> None:
    gw, _clients = ready
    async with _client(gw, "https://loa.test") as client:
        assert "secure" in (await _cookie(client)).lower()
    async with _client(gw, "http://loa.test") as client:
        assert "secure" not in (await _cookie(client)).lower()
        # X-Forwarded-Proto from a peer that is not a configured proxy changes nothing.
        assert "secure" not in (await _cookie(client, **{"X-Forwarded-Proto": "https"})).lower()
    async with _client(gw, "https://loa.test") as client:
        r = await client.get("/login")
        assert "secure" in r.headers["set-cookie"].lower()  # the login form's CSRF cookie too


@pytest_asyncio.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in make(tmp_path / "proxy", trusted_proxies=("10.0.0.1",)):
        yield gw


@pytest_asyncio.fixture
async def always(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in make(tmp_path / "always", secure_cookies="always"):
        yield gw


async def _first_login(gw: Gateway, client: httpx.AsyncClient, **headers: str) -> str:
    r = await client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": gw.admin_password}, headers=headers
    )
    assert r.status_code == 200, r.text
    return next(v for v in r.headers.get_list("set-cookie") if v.startswith("loa_session="))


@pytest.mark.asyncio
async def test_a_trusted_proxy_or_the_configuration_makes_cookies_secure(
    behind_proxy: Gateway, always: Gateway
) -> None:
    async with _client(behind_proxy, "http://loa.test", peer="10.0.0.1") as client:
        assert "secure" in (await _first_login(behind_proxy, client, **{"X-Forwarded-Proto": "https"})).lower()
        assert "secure" not in (await _first_login(behind_proxy, client)).lower()
    async with _client(always, "http://loa.test") as client:
        assert "secure" in (await _first_login(always, client)).lower()


@pytest.mark.asyncio
async def test_every_response_carries_the_security_headers(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    anonymous = gw.client()
    responses = [
        await anonymous.get("/login"),
        await anonymous.get("/"),  # a redirect
        await anonymous.get("/api/v1/me"),  # 401
        await anonymous.get("/khong-co"),  # 404
        await anonymous.get("/static/loa.js"),
        await anonymous.get("/programmes"),
        await anonymous.post("/api/v1/auth/login", json={"username": "x"}),  # 422
        await clients["bientap"][0].get("/"),
        await clients["bientap"][0].get("/api/v1/bulletins"),
        await anonymous.get("/docs"),
    ]
    await anonymous.aclose()
    for r in responses:
        where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
        policy = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, where
        assert "object-src 'none'" in policy, where
        assert r.headers.get("x-content-type-options") == "nosniff", where
        assert r.headers.get("referrer-policy") == "same-origin", where
    console = responses[-3].headers["content-security-policy"]
    assert "script-src 'self'" in console and "unsafe-inline" not in console


def test_console_templates_have_no_inline_script() -> None:
    """What script-src 'self' would block: inline <script> bodies, on* handlers, javascript: URLs."""
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"javascript:", r"\sstyle\s*="):
            found += [f"{path.name}: {m[0].strip()}" for m in re.finditer(pattern, text, re.IGNORECASE)]
    assert not found
