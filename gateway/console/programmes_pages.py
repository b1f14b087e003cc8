"""Console: articles coming in (upload, sources, the import log, drafts waiting for a
programme) and programmes going out (templates, compiled runs with their chapters, what
did not fit and why)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.api.limits import DOCUMENT
from gateway.bulletins.errors import WorkflowError
from gateway.console.admin_pages import area_list
from gateway.console.common import back, check_csrf, failed, page, who
from gateway.db.models import Bulletin, ImportRun, ImportSource, ProgrammeRun, ProgrammeTemplate, User
from gateway.db.states import BulletinStatus, ProgrammeRunStatus
from gateway.programmes import extract, manage, reach, sources

router = APIRouter(include_in_schema=False)
RUN_LABELS = {"ok": "tốt", "partial": "một phần", "failed": "lỗi", "running": "đang chạy"}
PROGRAMME_LABELS = {
    ProgrammeRunStatus.READY: "sẵn sàng",
    ProgrammeRunStatus.EMPTY: "không có tin",
    ProgrammeRunStatus.FAILED: "lỗi",
    ProgrammeRunStatus.COMPILING: "đang tạo",
}


async def staff_form(request: Request, session: AsyncSession, csrf_token: str, action: str) -> User:
    """The logged-in user behind a form on this page, checked: its CSRF token and a staff role."""
    user, csrf = await who(request, session)
    check_csrf(csrf, csrf_token)
    manage.require_staff(user.role, action)
    return user


@router.get("/programmes", response_class=HTMLResponse)
async def programmes_page(
    request: Request, error: str = "", note: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    waiting = (
        await session.execute(
            select(Bulletin)
            .where(
                Bulletin.for_programme.is_(True),
                Bulletin.status.not_in((BulletinStatus.DONE, BulletinStatus.CANCELLED)),
            )
            .order_by(Bulletin.id.desc())
            .limit(100)
        )
    ).scalars()
    runs = (
        await session.execute(
            select(ProgrammeRun, ProgrammeTemplate.name)
            .join(ProgrammeTemplate, ProgrammeTemplate.id == ProgrammeRun.template_id)
            .order_by(ProgrammeRun.id.desc())
            .limit(20)
        )
    ).all()
    return page(
        request,
        "programmes.html",
        user=user,
        csrf=csrf,
        error=error,
        note=note,
        sources=(await session.execute(select(ImportSource).order_by(ImportSource.id))).scalars().all(),
        log=(await session.execute(select(ImportRun).order_by(ImportRun.id.desc()).limit(30))).scalars().all(),
        waiting=list(waiting),
        templates=(await session.execute(select(ProgrammeTemplate).order_by(ProgrammeTemplate.id))).scalars().all(),
        runs=runs,
        areas=await area_list(session),
        run_labels=RUN_LABELS,
        programme_labels=PROGRAMME_LABELS,
        staff=user.role in manage.STAFF,
    )


@router.post("/programmes/upload")
async def upload(
    request: Request,
    session: AsyncSession = Depends(db),
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
) -> Response:
    try:
        user = await staff_form(request, session, csrf_token, "nhập tin")
        data = await file.read(DOCUMENT.max_bytes + 1)
        if len(data) > DOCUMENT.max_bytes:
            raise WorkflowError("file", f"tệp quá lớn (tối đa {DOCUMENT.max_bytes // 2**20} MB)", 413)
        try:
            article = await asyncio.to_thread(sources.read_file, Path(file.filename or "tep.txt"), data)
            bulletin_id = await manage.import_one(request.app.state.services.sessions, article, "upload", user)
        except extract.ExtractError as exc:
            raise WorkflowError(exc.field, exc.message, 422) from exc
    except WorkflowError as exc:
        return failed("/programmes", exc)
    if bulletin_id is None:
        return back("/programmes", "Bài này đã được nhập trước đó (trùng nội dung).")
    return back(f"/bulletins/{bulletin_id}")


@router.post("/programmes/sources")
async def add_source(
    request: Request,
    session: AsyncSession = Depends(db),
    name: str = Form(""),
    kind: str = Form("feed"),
    location: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    try:
        user = await staff_form(request, session, csrf_token, "thêm nguồn tin")
        roots = request.app.state.services.settings.import_root_paths
        await manage.add_source(session, user, name.strip(), kind, location.strip(), roots=roots)
    except WorkflowError as exc:
        return failed("/programmes", exc)
    return back("/programmes")


@router.post("/programmes/sources/{source_id}/run")
async def run_source(
    source_id: int, request: Request, session: AsyncSession = Depends(db), csrf_token: str = Form("")
) -> Response:
    try:
        await staff_form(request, session, csrf_token, "lấy tin")
        source = await session.get(ImportSource, source_id)
        if source is None:
            raise WorkflowError("source", "không có nguồn tin này", 404)
        settings = request.app.state.services.settings
        client = await asyncio.to_thread(reach.client, settings.fetch_allow_list, sources.TIMEOUT)
        async with client:
            run = await sources.run_source(
                request.app.state.services.sessions, source, client, settings.import_root_paths
            )
    except WorkflowError as exc:
        return failed("/programmes", exc)
    return back("/programmes") if not run.errors else back("/programmes", "nguồn tin: " + "; ".join(run.errors[:3]))


@router.post("/programmes/templates")
async def add_template(
    request: Request,
    session: AsyncSession = Depends(db),
    name: str = Form(""),
    times: str = Form("06:00"),
    areas: list[str] = Form([]),
    max_minutes: int = Form(15),
    csrf_token: str = Form(""),
) -> Response:
    try:
        user = await staff_form(request, session, csrf_token, "tạo chương trình")
        data = manage.TemplateIn(name.strip(), times.replace(" ", ""), areas, max_minutes)
        await manage.add_template(session, user.username, data)
    except WorkflowError as exc:
        return failed("/programmes", exc)
    return back("/programmes")


@router.post("/programmes/templates/{template_id}/compile")
async def compile_now(
    template_id: int, request: Request, session: AsyncSession = Depends(db), csrf_token: str = Form("")
) -> Response:
    try:
        await staff_form(request, session, csrf_token, "tạo chương trình")
        services = request.app.state.services
        run = await manage.compile_next(
            session, services.sessions, services.renderer, services.settings.timezone, template_id, services.compiles
        )
    except WorkflowError as exc:
        return failed("/programmes", exc)
    if run.status != ProgrammeRunStatus.COMPILING:
        return back("/programmes", f"chương trình: {run.warning or 'đã tạo cho giờ phát này'}")
    note = "Đang tạo chương trình: bấm nghe trong bảng 'Các lần tạo chương trình', tin đầu nghe được ngay."
    return RedirectResponse(f"/programmes?note={quote(note)}", status_code=303)
