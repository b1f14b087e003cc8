"""Approval binds to one version (issue 18, "Approval and accounts"): an edit after
submission returns the bulletin to draft, nobody approves a version they wrote or last
edited, operators neither edit nor submit, and a finished bulletin scheduled again needs
a new approval unless the user may release emergencies."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Gateway
from tests.security.accounts_gateway import Clients, csrf, new_bulletin, ready

pytestmark = pytest.mark.asyncio
__all__ = ["ready"]

EDIT = {"title": "Họp dân", "body": "Họp dân lúc 9 giờ.", "targets": [{"channel": "file", "area": "T1"}]}


async def _status(clients: Clients, bid: int) -> dict[str, object]:
    return dict((await clients["admin"][0].get(f"/api/v1/bulletins/{bid}")).json())


async def test_an_edit_after_submission_returns_the_bulletin_to_draft(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    editor, approver = clients["bientap"][0], clients["duyet"][0]
    bid = await new_bulletin(clients)
    assert (await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "bientap"))).status_code == 200
    r = await editor.put(f"/api/v1/bulletins/{bid}", json=EDIT, headers=csrf(clients, "bientap"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "draft" and r.json()["version"] == 2
    r = await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"


async def test_an_edit_after_approval_withdraws_the_approval(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    editor, approver = clients["bientap"][0], clients["duyet"][0]
    bid = await new_bulletin(clients)
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "bientap"))
    r = await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
    assert r.json()["status"] == "approved"
    r = await editor.put(f"/api/v1/bulletins/{bid}", json=EDIT, headers=csrf(clients, "bientap"))
    assert r.status_code == 200 and r.json()["status"] == "draft" and r.json()["approved_by"] is None
    r = await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers=csrf(clients, "duyet"))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"


async def test_nobody_approves_a_version_they_last_edited(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    editor, approver = clients["bientap"][0], clients["duyet"][0]
    bid = await new_bulletin(clients)
    r = await approver.put(f"/api/v1/bulletins/{bid}", json=EDIT, headers=csrf(clients, "duyet"))
    assert r.status_code == 200
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "bientap"))
    r = await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "approved_by"
    r = await clients["admin"][0].post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "admin"))
    assert r.status_code == 200 and r.json()["status"] == "approved"


async def test_the_author_cannot_approve_even_as_approver(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    approver = clients["duyet"][0]
    bid = await new_bulletin(clients, author="duyet")
    await approver.post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "duyet"))
    r = await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "approved_by"


async def test_operators_cannot_edit_or_submit(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    operator = clients["vanhanh"][0]
    bid = await new_bulletin(clients)
    r = await operator.put(f"/api/v1/bulletins/{bid}", json=EDIT, headers=csrf(clients, "vanhanh"))
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "role"
    r = await operator.post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "vanhanh"))
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "role"
    assert (await _status(clients, bid))["version"] == 1


async def _finished(gw: Gateway, clients: Clients, priority: str = "normal") -> int:
    bid = await new_bulletin(clients, priority=priority)
    await clients["bientap"][0].post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "bientap"))
    await clients["duyet"][0].post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
    await clients["duyet"][0].post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers=csrf(clients, "duyet"))
    await gw.run_worker()
    assert (await _status(clients, bid))["status"] == "done"
    return bid


async def test_rescheduling_a_finished_bulletin_needs_a_new_approval(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    bid = await _finished(gw, clients, priority="emergency")
    daily = {"recurrence": "daily 06:00"}
    for name in ("bientap", "duyet"):  # neither may release emergencies
        r = await clients[name][0].post(f"/api/v1/bulletins/{bid}/schedule", json=daily, headers=csrf(clients, name))
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "approved_by", name
    assert (await _status(clients, bid))["status"] == "done"
    r = await clients["bientap"][0].post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "bientap"))
    assert r.status_code == 200 and r.json()["status"] == "submitted" and r.json()["approved_by"] is None
    r = await clients["duyet"][0].post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
    assert r.json()["status"] == "approved"
    r = await clients["bientap"][0].post(
        f"/api/v1/bulletins/{bid}/schedule", json=daily, headers=csrf(clients, "bientap")
    )
    assert r.status_code == 200 and r.json()["status"] == "scheduled"


async def test_a_user_who_may_release_emergencies_reschedules_directly(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    bid = await _finished(gw, clients)
    r = await clients["vanhanh"][0].post(
        f"/api/v1/bulletins/{bid}/schedule", json={"recurrence": "daily 06:00"}, headers=csrf(clients, "vanhanh")
    )
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
