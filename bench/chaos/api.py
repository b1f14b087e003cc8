"""What an officer does over the REST API in a chaos scenario: the area tree, an
approver, subscribers and loudspeaker clusters, then a bulletin written, approved and
scheduled. Requests made while the web process is being killed are retried."""

from __future__ import annotations

import time
from typing import Any

import httpx

APPROVER = {"username": "duyet", "role": "approver", "password": "mat-khau-dai-1", "full_name": "Duyệt"}


class Officer:
    def __init__(self, base: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)
        self.username, self.password = username, password
        self.csrf = ""
        self.login()

    def login(self) -> None:
        body = {"username": self.username, "password": self.password}
        r = self.call("POST", "/api/v1/auth/login", json=body, login=False)
        self.csrf = r.json()["csrf_token"]

    def call(self, method: str, path: str, login: bool = True, **kwargs: Any) -> httpx.Response:
        for _ in range(150):
            try:
                r = self.client.request(method, path, headers={"X-CSRF-Token": self.csrf}, **kwargs)
            except httpx.TransportError:
                time.sleep(0.2)  # the web process is down: it comes back
                continue
            if r.status_code == 401 and login:
                self.login()
                continue
            if r.status_code >= 500:
                time.sleep(0.2)
                continue
            return r
        raise RuntimeError(f"{method} {path}: no answer")

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.call(method, path, **kwargs)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()

    def close(self) -> None:
        self.client.close()


def seed(base: str, password: str, villages: int) -> tuple[Officer, Officer]:
    """The commune XA and its villages T00.., an approver; (admin, approver)."""
    admin = Officer(base, "admin", password)
    admin.ok("POST", "/api/v1/areas", json={"code": "XA", "name": "Xã Hòa Bình", "level": "commune"})
    for i in range(villages):
        area = {"code": f"T{i:02d}", "name": f"Thôn {i}", "level": "village", "parent": "XA"}
        admin.ok("POST", "/api/v1/areas", json=area)
    admin.ok("POST", "/api/v1/users", json=APPROVER)
    return admin, Officer(base, APPROVER["username"], APPROVER["password"])


def release(
    admin: Officer,
    approver: Officer,
    title: str,
    body: str,
    targets: list[dict[str, str]],
    priority: str = "normal",
    sms_text: str = "",
) -> int:
    bulletin: dict[str, Any] = {"title": title, "body": body, "priority": priority, "targets": targets}
    if sms_text:
        bulletin["sms_text"] = sms_text
    bid = int(admin.ok("POST", "/api/v1/bulletins", json=bulletin)["id"])
    if priority == "emergency":
        admin.ok("POST", f"/api/v1/bulletins/{bid}/emergency")
        return bid
    admin.ok("POST", f"/api/v1/bulletins/{bid}/submit")
    approver.ok("POST", f"/api/v1/bulletins/{bid}/approve")
    approver.ok("POST", f"/api/v1/bulletins/{bid}/schedule", json={})
    return bid
