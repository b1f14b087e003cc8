"""Logging in (issue 18, "Approval and accounts"): the limiter counts failures per
address and per username, X-Forwarded-For counts only from configured proxies, CSRF
tokens are compared in constant time and guard the console's login and logout forms."""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.gateway.conftest import Gateway
from tests.security.accounts_gateway import PASSWORD, Clients, make, ready

__all__ = ["ready"]


def _from(gw: Gateway, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=gw.app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://loa.test")


async def _login(client: httpx.AsyncClient, username: str, password: str, **headers: str) -> int:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)
    return r.status_code


@pytest_asyncio.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in make(tmp_path, trusted_proxies=("10.0.0.0/8",)):
        yield gw


@pytest.mark.asyncio
async def test_one_username_is_limited_across_addresses(ready: tuple[Gateway, Clients]) -> None:
    gw, _clients = ready
    for n in range(5):
        async with _from(gw, f"198.51.100.{n + 1}") as client:
            assert await _login(client, "bientap", "doan-sai") == 401
    async with _from(gw, "198.51.100.99") as client:
        assert await _login(client, "bientap", PASSWORD) == 429


@pytest.mark.asyncio
async def test_one_address_is_limited_across_usernames(ready: tuple[Gateway, Clients]) -> None:
    gw, _clients = ready
    async with _from(gw, "198.51.100.7") as client:
        for n in range(20):
            assert await _login(client, f"nguoi-{n}", "doan-sai") == 401
        assert await _login(client, "duyet", PASSWORD) == 429
    async with _from(gw, "198.51.100.8") as client:
        assert await _login(client, "duyet", PASSWORD) == 200


@pytest.mark.asyncio
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(ready: tuple[Gateway, Clients]) -> None:
    gw, _clients = ready
    async with _from(gw, "198.51.100.7") as client:
        for n in range(20):  # a forged header per attempt does not make a new address
            assert await _login(client, f"nguoi-{n}", "doan-sai", **{"X-Forwarded-For": f"203.0.113.{n}"}) == 401
        assert await _login(client, "duyet", PASSWORD, **{"X-Forwarded-For": "203.0.113.200"}) == 429


@pytest.mark.asyncio
async def test_forwarded_for_from_a_configured_proxy_names_the_client(proxied: Gateway) -> None:
    async with _from(proxied, "10.1.2.3") as proxy:
        for n in range(20):
            xff = f"203.0.113.{n}, 10.9.9.9"  # the client, then an inner proxy
            assert await _login(proxy, f"nguoi-{n}", "doan-sai", **{"X-Forwarded-For": xff}) == 401
        # Twenty clients behind the proxy failed once each: a twenty-first is not blocked.
        assert await _login(proxy, "admin", proxied.admin_password, **{"X-Forwarded-For": "203.0.113.200"}) == 200
        for n in range(20):  # one client behind the proxy, many usernames
            await _login(proxy, f"khac-{n}", "doan-sai", **{"X-Forwarded-For": "203.0.113.250"})
        assert await _login(proxy, "admin", proxied.admin_password, **{"X-Forwarded-For": "203.0.113.250"}) == 429


@pytest.mark.asyncio
async def test_csrf_tokens_are_compared_in_constant_time(
    ready: tuple[Gateway, Clients], monkeypatch: pytest.MonkeyPatch
) -> None:
    _gw, clients = ready
    compared: list[tuple[object, object]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    editor, token = clients["bientap"]
    r = await editor.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "doan-bua"})
    assert r.status_code == 403
    assert (b"doan-bua", token.encode()) in compared
    r = await editor.post("/cases", data={"text": "Đèn đường hỏng", "csrf_token": "doan-bua-2"})
    assert r.status_code == 303 and r.headers["location"].startswith("/cases?error=")  # refused, said as a sentence
    assert any(a == b"doan-bua-2" for a, _ in compared)


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match[1]


@pytest.mark.asyncio
async def test_the_console_login_form_needs_its_csrf_token(ready: tuple[Gateway, Clients]) -> None:
    gw, _clients = ready
    async with gw.client() as browser:
        form = {"username": "bientap", "password": PASSWORD}
        r = await browser.post("/login", data=form)  # a forged cross-site login: no token
        assert r.status_code == 303 and r.headers["location"].startswith("/login?error=")
        assert "loa_session" not in browser.cookies
        token = _form_token((await browser.get("/login")).text)
        r = await browser.post("/login", data=form | {"csrf_token": token + "x"})
        assert r.headers["location"].startswith("/login?error=")
        r = await browser.post("/login", data=form | {"csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await browser.get("/api/v1/me")).json()["username"] == "bientap"


@pytest.mark.asyncio
async def test_the_console_logout_form_needs_its_csrf_token(ready: tuple[Gateway, Clients]) -> None:
    gw, _clients = ready
    async with gw.client() as browser:
        token = _form_token((await browser.get("/login")).text)
        await browser.post("/login", data={"username": "bientap", "password": PASSWORD, "csrf_token": token})
        page = (await browser.get("/")).text
        assert 'action="/logout"' in page
        r = await browser.post("/logout")  # a forged cross-site logout
        assert (await browser.get("/api/v1/me")).status_code == 200
        r = await browser.post("/logout", data={"csrf_token": _form_token(page)})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await browser.get("/api/v1/me")).status_code == 401


def test_trusted_proxies_and_secure_cookies_are_checked_keys() -> None:
    from gateway.config import ConfigError, load_settings

    env = {"LOA_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8", "LOA_SECURE_COOKIES": "always"}
    settings = load_settings(None, env)
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8") and settings.secure_cookies == "always"
    for key, value in (("LOA_TRUSTED_PROXIES", "nginx"), ("LOA_SECURE_COOKIES", "yes")):
        with pytest.raises(ConfigError) as caught:
            load_settings(None, {key: value})
        assert caught.value.problems[0].startswith(key[4:].lower())
