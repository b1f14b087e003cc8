"""CAP 1.2 conformance suite: tests/data/cap/*.xml through the real API, each with the
outcome its manifest entry expects (OASIS CAP 1.2 Appendix A examples, and each of
Loa's rules: schema, areas, references, sender, status, scope, expires, onset, languages).
Runs on SQLite (the rules live above the database; test_cap.py runs both backends)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db.models import Bulletin, CapMessage
from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio
DATA = Path(__file__).resolve().parent.parent / "data" / "cap"
CASES: list[dict[str, Any]] = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))["cases"]


async def test_the_suite_holds_the_oasis_examples_and_thirty_messages() -> None:
    files = {case["file"] for case in CASES} | {f for case in CASES for f in case.get("setup", [])}
    assert len(files) >= 30 and all((DATA / f).is_file() for f in files)
    assert {f"oasis_{n}.xml" for n in ("homeland_security", "thunderstorm", "earthquake", "amber_alert")} <= files
    assert files == {p.name for p in DATA.glob("*.xml")}  # no message file without an expected outcome


async def counts(gw: Gateway) -> tuple[int, int]:
    async with gw.services.sessions() as session:
        bulletins = (await session.execute(select(func.count()).select_from(Bulletin))).scalar_one()
        messages = (await session.execute(select(func.count()).select_from(CapMessage))).scalar_one()
    return int(bulletins), int(messages)


@pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_cap_conformance(gateway: Gateway, case: dict[str, Any]) -> None:
    gateway.services.settings = dataclasses.replace(
        gateway.services.settings, cap_test_areas=case.get("test_areas", "")
    )
    users = await seed(gateway)
    client, csrf = users[case.get("user", "vanhanh")]
    body: dict[str, Any] = {"name": "kttv"} | (
        {"cap_senders": case["token_senders"]} if "token_senders" in case else {}
    )
    token = (await client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})).json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    async with gateway.client() as api:
        setup: dict[str, int | None] = {}
        for name in case.get("setup", []):
            r = await api.post("/api/v1/alerts/cap", content=(DATA / name).read_bytes(), headers=headers)
            assert r.status_code in (201, 202), r.text
            setup[name] = r.json()["bulletin"]
        before = await counts(gateway)
        r = await api.post("/api/v1/alerts/cap", content=(DATA / case["file"]).read_bytes(), headers=headers)
        answer = r.json()
        assert r.status_code == case["status"], r.text
        if r.status_code >= 400:
            assert await counts(gateway) == before  # refused: nothing changed
            assert answer["errors"][0]["field"] == case["field"]
        elif "field" in case:
            assert answer["reason"]["field"] == case["field"]
        else:
            assert answer.get("reason") is None
        if "broadcast" in case:
            assert answer["broadcast"] is case["broadcast"]
            assert (answer["bulletin"] is not None) is case["broadcast"]
        if "unresolved" in case:
            assert len(answer["unresolved"]) == case["unresolved"]
        for name, bulletin in setup.items():
            if bulletin is None:
                continue
            status = (await api.get(f"/api/v1/bulletins/{bulletin}", headers=headers)).json()["status"]
            assert (status == "cancelled") is (name in case.get("cancels", [])), (name, status)
        if case.get("cancels"):
            assert sorted(answer["cancelled"]) == sorted(setup[n] for n in case["cancels"])
        if r.status_code >= 300 or answer["bulletin"] is None:
            return
        b = (await api.get(f"/api/v1/bulletins/{answer['bulletin']}", headers=headers)).json()
        if "priority" in case:
            assert b["priority"] == case["priority"] == answer["priority"]
        if "title" in case:
            assert b["title"] == case["title"]
        if "areas" in case:
            assert sorted({t["area"] for t in b["targets"]}) == case["areas"]
        if "bulletin_status" in case:
            assert b["status"] == case["bulletin_status"]
        for key, column in (("expires", "expires_at"), ("air_from", "air_from")):
            if key in case:
                assert (b[column] or "").startswith(case[key])
        if "after_worker" in case:
            await gateway.run_worker()
            assert (await api.get(f"/api/v1/bulletins/{b['id']}", headers=headers)).json()["status"] == case[
                "after_worker"
            ]
