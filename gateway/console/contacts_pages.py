"""Console page for SMS/call contacts: subscribers per area (search, paging), a CSV or
Excel (.xlsx) import with a reason for each rejected row, and the opt-out list."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins.errors import WorkflowError
from gateway.console.admin_pages import area_list
from gateway.console.common import check_csrf, page, who
from gateway.console.labels import sentence
from gateway.phones import masked
from gateway.sms import contacts, groups

router = APIRouter(include_in_schema=False)
MAX_BYTES = 5 * 1024 * 1024
IMPORTERS = ("admin", "approver", "editor")


async def _page(
    request: Request, session: AsyncSession, area: str = "", q: str = "", p: int = 1, nhom: int = 0, **extra: object
) -> HTMLResponse:
    user, csrf = await who(request, session)
    rows, total = await contacts.listing(session, area, q, p, nhom)
    pages = max(1, -(-total // contacts.PAGE_SIZE))
    hide = user.role == "operator"
    return page(
        request,
        "subscribers.html",
        user=user,
        csrf=csrf,
        rows=rows,
        total=total,
        p=min(max(p, 1), pages),
        pages=pages,
        area=area,
        q=q,
        nhom=nhom,
        groups=await groups.listing(session),
        areas=await area_list(session),
        opt_outs=await contacts.opt_outs(session),
        shown=masked if hide else str,
        can_import=user.role in IMPORTERS,
        **extra,
    )


@router.get("/subscribers", response_class=HTMLResponse)
async def subscribers_page(
    request: Request,
    area: str = "",
    q: str = "",
    p: int = 1,
    nhom: int = 0,
    error: str = "",
    session: AsyncSession = Depends(db),
) -> HTMLResponse:
    return await _page(request, session, area, q, p, nhom, error=error)


@router.post("/subscribers/import", response_class=HTMLResponse)
async def import_subscribers(
    request: Request,
    session: AsyncSession = Depends(db),
    file: UploadFile = File(...),
    area: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in IMPORTERS:
            raise WorkflowError("role", "vai trò của bạn không được nhập danh sách người nhận", 403)
        data = await file.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise WorkflowError("file", "tệp lớn hơn 5 MB; hãy chia nhỏ", 413)
        if contacts.is_xlsx(file.filename or "", data):
            rows = await asyncio.to_thread(contacts.read_xlsx, data)
        else:
            rows = contacts.read_csv(data)
        result = await contacts.import_rows(session, user.username, rows, area)
    except WorkflowError as exc:
        return await _page(request, session, area, error=sentence(exc.message))
    return await _page(request, session, area, result=result)
