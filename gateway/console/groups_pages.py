"""Console pages for groups of subscribers: ``/nhom`` (the groups, a new one) and a
group's page (its members, add by number with a reason per refused line, remove, export
as CSV)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins.errors import WorkflowError
from gateway.console.common import back, check_csrf, failed, page, who
from gateway.console.labels import sentence
from gateway.phones import hides_numbers, masked
from gateway.sms import groups

router = APIRouter(include_in_schema=False)


@router.get("/nhom", response_class=HTMLResponse)
async def groups_page(request: Request, error: str = "", session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    return page(
        request,
        "groups.html",
        user=user,
        csrf=csrf,
        error=error,
        groups=await groups.listing(session),
        can_edit=user.role in groups.EDITORS,
    )


@router.post("/nhom")
async def create_group(
    request: Request,
    name: str = Form(""),
    note: str = Form(""),
    csrf_token: str = Form(""),
    session: AsyncSession = Depends(db),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        group = await groups.create(session, user.role, user.username, name, note)
    except WorkflowError as exc:
        return failed("/nhom", exc)
    return RedirectResponse(f"/nhom/{group.id}", status_code=303)


async def _group_page(request: Request, session: AsyncSession, group_id: int, **extra: object) -> HTMLResponse:
    user, csrf = await who(request, session)
    group = await groups.get(session, group_id)
    return page(
        request,
        "group.html",
        user=user,
        csrf=csrf,
        group=group,
        members=await groups.members(session, group_id),
        shown=masked if hides_numbers(user.role) else str,
        can_edit=user.role in groups.EDITORS,
        **extra,
    )


@router.get("/nhom/{group_id}", response_class=HTMLResponse)
async def group_page(group_id: int, request: Request, error: str = "", session: AsyncSession = Depends(db)) -> Response:
    return await _group_page(request, session, group_id, error=error)


@router.post("/nhom/{group_id}/them", response_class=HTMLResponse)
async def add_members(
    group_id: int,
    request: Request,
    phones: str = Form(""),
    csrf_token: str = Form(""),
    session: AsyncSession = Depends(db),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        result = await groups.add(session, user.role, user.username, group_id, phones)
    except WorkflowError as exc:
        return await _group_page(request, session, group_id, error=sentence(exc.message))
    return await _group_page(request, session, group_id, result=result)


@router.post("/nhom/{group_id}/bo")
async def remove_member(
    group_id: int,
    request: Request,
    subscriber: int = Form(0),
    csrf_token: str = Form(""),
    session: AsyncSession = Depends(db),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        await groups.remove(session, user.role, user.username, group_id, subscriber)
    except WorkflowError as exc:
        return failed(f"/nhom/{group_id}", exc)
    return back(f"/nhom/{group_id}")


@router.get("/nhom/{group_id}/xuat.csv")
async def export_group(group_id: int, request: Request, session: AsyncSession = Depends(db)) -> Response:
    """The members as CSV; operators see numbers masked, so they export nothing."""
    user, _ = await who(request, session)
    groups.may_edit(user.role)
    group = await groups.get(session, group_id)
    data = groups.to_csv(await groups.members(session, group_id))
    name = f"nhom-{group.id}.csv"
    return Response(
        data, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
