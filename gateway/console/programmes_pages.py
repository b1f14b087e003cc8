"""Console: articles coming in (upload, sources, the import log, drafts waiting for a
programme) and programmes going out (templates, compiled runs with their chapters, what
did not fit and why)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import parse_recurrence
from gateway.console.admin_pages import area_list
from gateway.console.common import back, check_csrf, page, who
from gateway.db.models import Bulletin, ImportRun, ImportSource, ProgrammeRun, ProgrammeTemplate, utcnow
from gateway.programmes import extract, sources
from gateway.programmes.compile import Compiler
from gateway.programmes.importer import RunLog, add_article, write_log
from gateway.programmes.worker import first_air

router = APIRouter(include_in_schema=False)
STAFF = ("admin", "editor", "approver")
RUN_LABELS = {"ok": "tốt", "partial": "một phần", "failed": "lỗi", "running": "đang chạy"}
PROGRAMME_LABELS = {"ready": "sẵn sàng", "empty": "không có tin", "failed": "lỗi", "compiling": "đang tạo"}


@router.get("/programmes", response_class=HTMLResponse)
async def programmes_page(
    request: Request, error: str = "", note: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    waiting = (
        await session.execute(
            select(Bulletin)
            .where(Bulletin.for_programme.is_(True), Bulletin.status.not_in(("done", "cancelled")))
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
        sources=(await session.execute(select(ImportSource).order_by(ImportSource.id))).scalars().all(),
        log=(await session.execute(select(ImportRun).order_by(ImportRun.id.desc()).limit(30))).scalars().all(),
        waiting=list(waiting),
        templates=(await session.execute(select(ProgrammeTemplate).order_by(ProgrammeTemplate.id))).scalars().all(),
        runs=runs,
        areas=await area_list(session),
        run_labels=RUN_LABELS,
        programme_labels=PROGRAMME_LABELS,
        staff=user.role in STAFF,
    )


@router.post("/programmes/upload")
async def upload(
    request: Request,
    session: AsyncSession = Depends(db),
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in STAFF:
            raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được nhập tin", 403)
        data = await file.read(1024 * 1024 + 1)
        if len(data) > 1024 * 1024:
            raise WorkflowError("file", "tệp quá lớn (tối đa 1024 KB)", 413)
        try:
            article = sources.read_file(Path(file.filename or "tep.txt"), data)
        except extract.ExtractError as exc:
            raise WorkflowError(exc.field, exc.message, 422) from exc
        run = RunLog("upload")
        run.fetched = 1
        started = utcnow()
        sessions = request.app.state.services.sessions
        bulletin_id = await add_article(sessions, article, run, user=user)
        await write_log(sessions, run, started)
    except WorkflowError as exc:
        return back("/programmes", f"{exc.field}: {exc.message}")
    if bulletin_id is None:
        return back("/programmes", "file: bài này đã được nhập trước đó (trùng nội dung)")
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
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in STAFF:
            raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được thêm nguồn tin", 403)
        if kind not in ("feed", "folder") or not name.strip() or not location.strip():
            raise WorkflowError("location", "cần tên, loại (RSS hoặc thư mục) và địa chỉ của nguồn tin", 422)
        if kind == "feed" and not location.startswith(("http://", "https://")):
            raise WorkflowError("location", "địa chỉ RSS phải bắt đầu bằng http:// hoặc https://", 422)
        if kind == "folder" and not location.startswith("/"):
            raise WorkflowError("location", "thư mục phải là đường dẫn tuyệt đối", 422)
        session.add(ImportSource(name=name.strip(), kind=kind, location=location.strip()))
        await session.commit()
    except WorkflowError as exc:
        return back("/programmes", f"{exc.field}: {exc.message}")
    return back("/programmes")


@router.post("/programmes/sources/{source_id}/run")
async def run_source(
    source_id: int, request: Request, session: AsyncSession = Depends(db), csrf_token: str = Form("")
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in STAFF:
            raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được lấy tin", 403)
        source = await session.get(ImportSource, source_id)
        if source is None:
            raise WorkflowError("source", "không có nguồn tin này", 404)
        async with httpx.AsyncClient(timeout=sources.TIMEOUT) as client:
            run = await sources.run_source(request.app.state.services.sessions, source, client)
    except WorkflowError as exc:
        return back("/programmes", f"{exc.field}: {exc.message}")
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
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in STAFF:
            raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được tạo chương trình", 403)
        if not name.strip() or not areas:
            raise WorkflowError("name", "cần tên chương trình và ít nhất một địa bàn", 422)
        parse_recurrence(f"daily {times.replace(' ', '')}")
        if not 1 <= max_minutes <= 180:
            raise WorkflowError("max_minutes", "độ dài tối đa phải từ 1 đến 180 phút", 422)
        session.add(
            ProgrammeTemplate(
                name=name.strip(),
                times=times.replace(" ", ""),
                areas=",".join(areas),
                max_minutes=max_minutes,
                next_run_at=first_air(times.replace(" ", "")),
            )
        )
        await session.commit()
    except WorkflowError as exc:
        return back("/programmes", f"{exc.field}: {exc.message}")
    return back("/programmes")


@router.post("/programmes/templates/{template_id}/compile")
async def compile_now(
    template_id: int, request: Request, session: AsyncSession = Depends(db), csrf_token: str = Form("")
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in STAFF:
            raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được tạo chương trình", 403)
        template = await session.get(ProgrammeTemplate, template_id)
        if template is None:
            raise WorkflowError("template", "không có chương trình này", 404)
        air_at = template.next_run_at or first_air(template.times)
        if air_at is None:
            raise WorkflowError("times", "không tính được giờ phát tiếp theo", 422)
        template.next_run_at = first_air(template.times, air_at)
        await session.commit()
        services = request.app.state.services
        run = await Compiler(services.sessions, services.renderer, services.settings.timezone).compile(
            template_id, air_at
        )
    except WorkflowError as exc:
        return back("/programmes", f"{exc.field}: {exc.message}")
    return back("/programmes", f"chương trình: {run.warning}") if run.warning else back("/programmes")
