"""Kill the gateway (SIGKILL) in the middle of a delivery and restart it: every target
is delivered exactly once, and rows a dead worker held are recovered after the lease."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.support.server import admin_password, free_port, start_server

TARGETS = 40


def test_sigkill_mid_delivery_then_restart_loses_and_repeats_nothing(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = start_server(data, port, log, "--file-pace-ms", "60", env={"LOA_LEASE_SECONDS": "5"})
    password = admin_password(log)
    admin = httpx.Client(base_url=base, timeout=30)
    approver = httpx.Client(base_url=base, timeout=30)
    try:
        csrf = admin.post("/api/v1/auth/login", json={"username": "admin", "password": password}).json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        assert (
            admin.post("/api/v1/areas", headers=h, json={"code": "XA", "name": "Xã", "level": "commune"}).status_code
            == 201
        )
        for i in range(TARGETS):
            admin.post(
                "/api/v1/areas",
                headers=h,
                json={"code": f"C{i:02d}", "name": f"Cụm {i}", "level": "village", "parent": "XA"},
            )
        admin.post(
            "/api/v1/users", headers=h, json={"username": "duyet", "role": "approver", "password": "mat-khau-dai-1"}
        )
        bid = admin.post(
            "/api/v1/bulletins",
            headers=h,
            json={
                "title": "Thông báo",
                "body": "Chiều nay 15h30 họp dân tại nhà văn hóa thôn.",
                "targets": [{"channel": "file", "area": f"C{i:02d}"} for i in range(TARGETS)],
            },
        ).json()["id"]
        admin.post(f"/api/v1/bulletins/{bid}/submit", headers=h)
        acsrf = approver.post("/api/v1/auth/login", json={"username": "duyet", "password": "mat-khau-dai-1"}).json()[
            "csrf_token"
        ]
        assert approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf}).status_code == 200
        assert (
            approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf}).status_code
            == 200
        )

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = admin.get(f"/api/v1/bulletins/{bid}/deliveries").json()["counts"].get("file", {})
            if counts.get("delivered", 0) >= 5:
                break
            time.sleep(0.05)
        assert 5 <= counts.get("delivered", 0) < TARGETS, counts
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        approver.close()
        admin.close()

    proc = start_server(data, port, log, "--file-pace-ms", "60", env={"LOA_LEASE_SECONDS": "5"})
    admin = httpx.Client(base_url=base, timeout=30)
    try:
        admin.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if admin.get(f"/api/v1/bulletins/{bid}").json()["status"] == "done":
                break
            time.sleep(0.2)
        report = admin.get(f"/api/v1/bulletins/{bid}/deliveries").json()
    finally:
        admin.close()
        proc.terminate()
        proc.wait(timeout=30)

    assert report["counts"] == {"file": {"delivered": TARGETS}}
    outbox = data / "outbox"
    files = sorted(outbox.glob("C*/*.wav"))
    assert len(files) == TARGETS and len({f.parent.name for f in files}) == TARGETS  # one file per target
    writes = Counter((outbox / "journal.log").read_text().split())
    assert max(writes.values()) == 1  # no delivery was written twice
    assert sum(r["attempts"] for r in report["rows"]) >= TARGETS
