"""The bulletin workflow through the REST API, delivered by the file channel."""

from __future__ import annotations

import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio

BODY = "Ngày 10/08/2022, UBND xã tổ chức tiêm chủng từ 7h30 đến 11h tại trạm y tế. Bà con mang theo thẻ BHYT."


async def test_write_approve_schedule_deliver(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    eh, ah = {"X-CSRF-Token": ecsrf}, {"X-CSRF-Token": acsrf}

    r = await editor.post("/api/v1/preview", json={"text": BODY}, headers=eh)
    assert r.status_code == 200 and "bảy giờ ba mươi phút" in r.json()["spoken_text"]
    r = await editor.post(
        "/api/v1/bulletins",
        headers=eh,
        json={
            "title": "Lịch tiêm chủng",
            "body": BODY,
            "sms_text": "Tiem chung 7h30 tai tram y te",
            "targets": [{"channel": "file", "area": a} for a in ("T1", "T2", "T3")],
        },
    )
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    assert (await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=eh)).json()["status"] == "submitted"

    r = await editor.post(f"/api/v1/bulletins/{bid}/approve", headers=eh)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "role"
    r = await approver.post(f"/api/v1/bulletins/{bid}/return", json={"comment": "Ghi rõ địa điểm"}, headers=ah)
    assert r.json()["status"] == "returned"
    r = await editor.put(
        f"/api/v1/bulletins/{bid}",
        headers=eh,
        json={
            "title": "Lịch tiêm chủng",
            "body": BODY + " Địa điểm: trạm y tế xã.",
            "targets": [{"channel": "file", "area": a} for a in ("T1", "T2", "T3")],
        },
    )
    assert r.json()["version"] == 2
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=eh)
    assert (await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=ah)).json()["status"] == "approved"
    assert (await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers=ah)).json()[
        "status"
    ] == "scheduled"

    await gateway.run_worker()
    r = await approver.get(f"/api/v1/bulletins/{bid}")
    assert r.json()["status"] == "done"
    deliveries = (await approver.get(f"/api/v1/bulletins/{bid}/deliveries")).json()
    assert deliveries["counts"] == {"file": {"delivered": 3}}
    outbox = gateway.services.settings.outbox
    for row in deliveries["rows"]:
        with wave.open(str(outbox / row["reference"])) as w:
            assert w.getnframes() / w.getframerate() > 5
    audio = await approver.get(f"/api/v1/bulletins/{bid}/audio/loudspeaker")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    telephone = await approver.get(f"/api/v1/bulletins/{bid}/audio/telephone")
    assert telephone.status_code == 200 and len(telephone.content) > 8000 * 5

    audit = (await users["admin"][0].get("/api/v1/audit")).json()
    actions = [a["action"] for a in audit if a["entity"] == "bulletin" and a["entity_id"] == str(bid)]
    for expected in (
        "create",
        "submit",
        "return",
        "update",
        "approve",
        "schedule",
        "render_start",
        "deliver_start",
        "deliver_end",
    ):
        assert expected in actions


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"body": "Nội dung"}, "title", "bắt buộc"),
        ({"title": "ab", "body": "Nội dung"}, "title", "quá ngắn"),
        ({"title": "Tiêu đề", "body": "!!!"}, "body", "phải có chữ"),
        ({"title": "Tiêu đề", "body": "x", "priority": "urgent"}, "priority", "một trong"),
        ({"title": "Tiêu đề", "body": "x", "targets": [{"channel": "file", "area": "KHONG"}]}, "targets", "địa bàn"),
        (
            {"title": "Tiêu đề", "body": "x", "targets": [{"channel": "fax", "area": "T1"}]},
            "targets.0.channel",
            "một trong",
        ),
        ({"title": "Tiêu đề", "body": "x", "voice": "khong-co"}, "voice", "chưa được cài"),
        ({"title": "Tiêu đề", "body": "x", "extra": 1}, "extra", ""),
    ],
)
async def test_bad_input_names_the_field_and_rule(
    gateway: Gateway, payload: dict[str, object], field: str, words: str
) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    r = await editor.post("/api/v1/bulletins", json=payload, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["field"] == field and words in error["message"] and error["rule"]


async def test_submit_needs_targets_and_oversized_bodies_are_refused(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    bid = (
        await editor.post("/api/v1/bulletins", json={"title": "Không nơi nhận", "body": "Nội dung"}, headers=h)
    ).json()["id"]
    r = await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "targets"
    r = await editor.post(
        "/api/v1/bulletins", content=b"x" * (2 * 1024 * 1024), headers={**h, "content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_csrf_and_token_auth(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    r = await editor.post("/api/v1/bulletins", json={"title": "Tiêu đề", "body": "Nội dung"})
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "csrf_token"
    token = (await editor.post("/api/v1/tokens", json={"name": "portal"}, headers={"X-CSRF-Token": csrf})).json()[
        "token"
    ]
    async with gateway.client() as integration:
        r = await integration.post(
            "/api/v1/bulletins",
            json={"title": "Từ cổng thông tin", "body": "Nội dung"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201
        r = await integration.get("/api/v1/bulletins", headers={"Authorization": "Bearer sai"})
        assert r.status_code == 401


async def test_login_is_rate_limited(gateway: Gateway) -> None:
    async with gateway.client() as client:
        for _ in range(5):
            r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "sai"})
            assert r.status_code == 401
        r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": gateway.admin_password})
        assert r.status_code == 429 and "5 phút" in r.json()["errors"][0]["message"]


async def test_emergency_skips_approval_only_for_allowed_users(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, ecsrf = users["bientap"]
    operator, ocsrf = users["vanhanh"]
    r = await editor.post(
        "/api/v1/bulletins",
        headers={"X-CSRF-Token": ecsrf},
        json={
            "title": "Bão số 3",
            "body": "Bão số 3 đổ bộ, bà con sơ tán ngay.",
            "priority": "emergency",
            "targets": [{"channel": "file", "area": "T1"}],
        },
    )
    bid = r.json()["id"]
    r = await editor.post(f"/api/v1/bulletins/{bid}/emergency", headers={"X-CSRF-Token": ecsrf})
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "can_skip_approval"
    r = await operator.post(f"/api/v1/bulletins/{bid}/emergency", headers={"X-CSRF-Token": ocsrf})
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    await gateway.run_worker()
    assert (await operator.get(f"/api/v1/bulletins/{bid}")).json()["status"] == "done"
    audit = (await users["admin"][0].get("/api/v1/audit")).json()
    assert any(a["action"] == "approve_skip" and a["actor"] == "vanhanh" for a in audit)


async def test_outbox_is_under_the_data_dir(gateway: Gateway) -> None:
    assert Path(gateway.services.settings.outbox).parent == gateway.services.settings.data_dir


async def test_password_change_checks_the_current_password(gateway: Gateway) -> None:
    client, csrf = await gateway.login("admin", gateway.admin_password)
    h = {"X-CSRF-Token": csrf}
    r = await client.post(
        "/api/v1/me/password", json={"current_password": "sai", "new_password": "mat-khau-moi-dai"}, headers=h
    )
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "current_password"
    r = await client.post(
        "/api/v1/me/password", json={"current_password": gateway.admin_password, "new_password": "ngan"}, headers=h
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "new_password"
    r = await client.post(
        "/api/v1/me/password",
        headers=h,
        json={"current_password": gateway.admin_password, "new_password": "mat-khau-moi-dai"},
    )
    assert r.status_code == 200
    await gateway.login("admin", "mat-khau-moi-dai")


async def test_pronunciation_overrides_reach_preview_and_renders(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    r = await editor.put("/api/v1/pronunciations", json={"written": "Pleiku", "spoken": "Plây Cu"}, headers=h)
    assert r.status_code == 200 and r.json() == {"Pleiku": "plây cu"}
    r = await editor.post("/api/v1/preview", json={"text": "Thành phố Pleiku"}, headers=h)
    assert r.json()["spoken_text"] == "thành phố plây cu"
    r = await editor.put("/api/v1/pronunciations", json={"written": "UBND", "spoken": "u 2"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "spoken"


async def test_preview_marks_rewritten_tokens_and_overrides_limited_to_a_class(gateway: Gateway) -> None:
    """Issue 15: "what will be said" marks each rewritten run with its class; an override can be
    limited to a class (here "H." read "hạt" only where it is an address part)."""
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    r = await editor.post("/api/v1/preview", json={"text": "Ấp 3, H. Củ Chi, gọi 114"}, headers=h)
    runs = {(m["written"].rstrip(","), m["spoken"], m["class"]) for m in r.json()["marks"][0]}
    assert ("H.", "huyện", "address") in runs and ("114", "một một bốn", "service_number") in runs
    assert ("Củ", "củ", None) in runs
    r = await editor.put(
        "/api/v1/pronunciations", json={"written": "H.", "spoken": "hạt", "only_class": "address"}, headers=h
    )
    assert r.status_code == 200
    r = await editor.post("/api/v1/preview", json={"text": "Ấp 3, H. Củ Chi. Ông Lê Văn H. đến"}, headers=h)
    assert r.json()["spoken_text"] == "ấp ba hạt củ chi ông lê văn hát đến"
    r = await editor.put(
        "/api/v1/pronunciations", json={"written": "H.", "spoken": "hạt", "only_class": "địa chỉ"}, headers=h
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "only_class"


async def test_due_emergency_starts_before_an_earlier_normal_programme(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    ids = {}
    for priority, minutes_ago in (("normal", 10), ("emergency", 1)):
        r = await editor.post(
            "/api/v1/bulletins",
            headers={"X-CSRF-Token": ecsrf},
            json={
                "title": f"Bản tin {priority}",
                "body": "Nội dung bản tin.",
                "priority": priority,
                "targets": [{"channel": "file", "area": "T1"}],
            },
        )
        bid = r.json()["id"]
        await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
        await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
        run_at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
        r = await approver.post(
            f"/api/v1/bulletins/{bid}/schedule", json={"run_at": run_at}, headers={"X-CSRF-Token": acsrf}
        )
        assert r.status_code == 200, r.text
        ids[priority] = str(bid)
    await gateway.run_worker()
    audit = (await users["admin"][0].get("/api/v1/audit?limit=1000")).json()
    started = [a["entity_id"] for a in reversed(audit) if a["action"] == "render_start"]
    assert started == [ids["emergency"], ids["normal"]]
