"""Credentials (issue 18, "Approval and accounts"): API tokens listed and revoked, users
disabled and their roles changed, a password change ends the other sessions and tokens,
the one-time admin password changed before anything else, and passwords hashed off the
event loop, for unknown users too."""

from __future__ import annotations

import re
import threading

import httpx
import pytest

from gateway import auth
from tests.gateway.conftest import Gateway
from tests.security.accounts_gateway import PASSWORD, Clients, csrf, fresh, ready

pytestmark = pytest.mark.asyncio
__all__ = ["fresh", "ready"]


async def _token(clients: Clients, name: str, label: str = "tich-hop") -> str:
    r = await clients[name][0].post("/api/v1/tokens", json={"name": label}, headers=csrf(clients, name))
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _bearer(gw: Gateway, token: str) -> httpx.AsyncClient:
    client = gw.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def _user_id(clients: Clients, username: str) -> int:
    users = (await clients["admin"][0].get("/api/v1/users")).json()
    return int(next(u["id"] for u in users if u["username"] == username))


async def test_api_tokens_are_listed_without_their_secret_and_revoked(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    token = await _token(clients, "bientap")
    await _token(clients, "duyet", "cua-nguoi-khac")
    editor = clients["bientap"][0]
    listed = (await editor.get("/api/v1/tokens")).json()
    assert [t["name"] for t in listed] == ["tich-hop"]  # one's own tokens only
    assert token not in str(listed) and listed[0]["revoked"] is False
    everyone = (await clients["admin"][0].get("/api/v1/tokens")).json()
    assert {t["username"] for t in everyone} == {"bientap", "duyet"}
    other = next(t["id"] for t in everyone if t["username"] == "duyet")
    r = await editor.delete(f"/api/v1/tokens/{other}", headers=csrf(clients, "bientap"))
    assert r.status_code == 404  # someone else's token is not hers to revoke
    async with _bearer(gw, token) as integration:
        assert (await integration.get("/api/v1/bulletins")).status_code == 200
        r = await editor.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=csrf(clients, "bientap"))
        assert r.status_code == 200
        assert (await integration.get("/api/v1/bulletins")).status_code == 401
    assert (await editor.get("/api/v1/tokens")).json()[0]["revoked"] is True


async def test_admin_disables_a_user_and_changes_roles(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    admin, h = clients["admin"][0], csrf(clients, "admin")
    token = await _token(clients, "bientap")
    editor_id = await _user_id(clients, "bientap")
    r = await admin.patch(f"/api/v1/users/{editor_id}", json={"role": "approver"}, headers=h)
    assert r.status_code == 200 and r.json()["role"] == "approver"
    assert (await clients["bientap"][0].get("/api/v1/me")).json()["role"] == "approver"
    r = await admin.patch(f"/api/v1/users/{editor_id}", json={"active": False}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await clients["bientap"][0].get("/api/v1/me")).status_code == 401
    async with _bearer(gw, token) as integration:
        assert (await integration.get("/api/v1/me")).status_code == 401
    async with gw.client() as client:
        r = await client.post("/api/v1/auth/login", json={"username": "bientap", "password": PASSWORD})
        assert r.status_code == 401
    me = await _user_id(clients, "admin")
    r = await admin.patch(f"/api/v1/users/{me}", json={"active": False}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "active"
    r = await clients["duyet"][0].patch(
        f"/api/v1/users/{editor_id}", json={"active": True}, headers=csrf(clients, "duyet")
    )
    assert r.status_code == 403


async def test_a_password_change_ends_other_sessions_and_tokens(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    token = await _token(clients, "bientap")
    here, h = clients["bientap"][0], csrf(clients, "bientap")
    elsewhere, _ = await gw.login("bientap", PASSWORD)
    r = await here.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "mat-khau-moi-2026"}, headers=h
    )
    assert r.status_code == 200
    assert (await here.get("/api/v1/me")).status_code == 200  # the session that changed it stays
    assert (await elsewhere.get("/api/v1/me")).status_code == 401
    async with _bearer(gw, token) as integration:
        assert (await integration.get("/api/v1/me")).status_code == 401


async def test_the_one_time_admin_password_must_be_changed_first(fresh: Gateway) -> None:
    client, token = await fresh.login("admin", fresh.admin_password)
    h = {"X-CSRF-Token": token}
    area = {"code": "HN", "name": "Hà Nội", "level": "province"}
    r = await client.post("/api/v1/areas", json=area, headers=h)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "must_change_password"
    for path in ("/api/v1/bulletins", "/api/v1/users", "/api/v1/audit"):
        assert (await client.get(path)).status_code == 403, path
    assert (await client.post("/api/v1/tokens", json={"name": "x"}, headers=h)).status_code == 403
    for page in ("/cases", "/admin", "/audit", "/bulletins/new"):  # the console sends her to /account
        r = await client.get(page)
        assert r.status_code == 303 and r.headers["location"] == "/account", page
    assert (await client.get("/account")).status_code == 200
    assert (await client.get("/api/v1/me")).status_code == 200
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": fresh.admin_password, "new_password": "quan-tri-moi-2026"},
        headers=h,
    )
    assert r.status_code == 200
    assert (await client.post("/api/v1/areas", json=area, headers=h)).status_code == 201
    assert (await client.get("/cases")).status_code == 200


async def test_login_hashes_off_the_event_loop_for_unknown_and_known_users(
    fresh: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work for an unknown user as for a known one (a dummy hash is checked), so the
    response time does not tell which usernames exist; and never on the loop's thread."""
    checked: list[tuple[str, int]] = []
    original = auth.verify_password

    def spy(password: str, stored: str) -> bool:
        checked.append((stored, threading.get_ident()))
        return original(password, stored)

    monkeypatch.setattr(auth, "verify_password", spy)
    loop_thread = threading.get_ident()
    async with fresh.client() as client:
        for username in ("khong-ai-ca", "admin"):
            r = await client.post("/api/v1/auth/login", json={"username": username, "password": "sai-mat-khau"})
            assert r.status_code == 401
    assert len(checked) == 2
    assert all(stored.startswith("scrypt$") for stored, _ in checked)
    assert all(thread != loop_thread for _, thread in checked)


async def test_new_passwords_are_hashed_off_the_event_loop(
    ready: tuple[Gateway, Clients], monkeypatch: pytest.MonkeyPatch
) -> None:
    _gw, clients = ready
    threads: list[int] = []
    original = auth.hash_password

    def spy(password: str) -> str:
        threads.append(threading.get_ident())
        return original(password)

    monkeypatch.setattr(auth, "hash_password", spy)
    r = await clients["bientap"][0].post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "mat-khau-moi-2026"},
        headers=csrf(clients, "bientap"),
    )
    assert r.status_code == 200
    r = await clients["admin"][0].post(
        "/api/v1/users",
        json={"username": "moi", "role": "editor", "password": "mat-khau-dai-2"},
        headers=csrf(clients, "admin"),
    )
    assert r.status_code == 201
    assert len(threads) == 2 and threading.get_ident() not in threads


async def test_the_console_disables_users_changes_roles_and_revokes_tokens(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    admin, admin_csrf = clients["admin"]
    editor_id = await _user_id(clients, "bientap")
    assert f'action="/admin/users/{editor_id}"' in (await admin.get("/admin")).text
    r = await admin.post(f"/admin/users/{editor_id}", data={"role": "approver", "csrf_token": admin_csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert (await clients["bientap"][0].get("/api/v1/me")).json()["role"] == "approver"

    token = await _token(clients, "bientap")
    editor, editor_csrf = clients["bientap"]
    page = (await editor.get("/account")).text
    token_id = int(re.findall(r'action="/account/tokens/(\d+)/revoke"', page)[0])
    r = await editor.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": editor_csrf})
    assert r.status_code == 303
    async with _bearer(gw, token) as integration:
        assert (await integration.get("/api/v1/me")).status_code == 401
    assert "đã thu hồi" in (await editor.get("/account")).text

    r = await admin.post(f"/admin/users/{editor_id}", data={"active": "0", "csrf_token": admin_csrf})
    assert r.status_code == 303 and "error" not in r.headers["location"]
    assert (await editor.get("/api/v1/me")).status_code == 401
    r = await admin.post(f"/admin/users/{editor_id}", data={"active": "0", "csrf_token": "sai"})
    assert "csrf_token" in r.headers["location"]
