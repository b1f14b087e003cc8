"""Articles in (feeds, folders, uploads, the API) and programmes out: the import sources
and their log, drafts from files, programme templates and their compiled runs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db, require_role
from gateway.api.files import artifact_file
from gateway.api.limits import DOCUMENT
from gateway.api.schemas import ArticleIn, ImportSourceIn, ProgrammeIn
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import (
    Artifact,
    ImportedItem,
    ImportRun,
    ImportSource,
    ProgrammeRun,
    ProgrammeTemplate,
)
from gateway.db.states import ProgrammeRunStatus
from gateway.programmes import extract, manage, preview, reach, sources
from gateway.programmes.runs import preview_file

router = APIRouter(prefix="/api/v1", tags=["programmes"])
MAX_UPLOAD = DOCUMENT.max_bytes  # a Word bulletin is tens of KB; with photos, a few MB


def _run_out(run: ImportRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "source_id": run.source_id,
        "kind": run.kind,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status": run.status,
        "fetched": run.fetched,
        "created": run.created,
        "duplicates": run.duplicates,
        "errors": run.errors,
        "detail": run.detail,
    }


def _source_out(s: ImportSource) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "kind": s.kind,
        "location": s.location,
        "enabled": s.enabled,
        "interval_minutes": s.interval_minutes,
        "last_run_at": s.last_run_at.isoformat() if s.last_run_at else None,
    }


@router.get("/import/sources")
async def list_sources(session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> list[dict[str, Any]]:
    return [_source_out(s) for s in (await session.execute(select(ImportSource).order_by(ImportSource.id))).scalars()]


@router.post("/import/sources", status_code=201)
async def add_source(
    data: ImportSourceIn,
    request: Request,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(require_role(*manage.STAFF)),
) -> dict[str, Any]:
    roots = request.app.state.services.settings.import_root_paths
    source = await manage.add_source(
        session, who.user, data.name, data.kind, data.location, data.interval_minutes, roots
    )
    return _source_out(source)


@router.post("/import/sources/{source_id}/run")
async def run_source_now(
    source_id: int,
    request: Request,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(require_role(*manage.STAFF)),
) -> dict[str, Any]:
    source = await session.get(ImportSource, source_id)
    if source is None:
        raise WorkflowError("source_id", f"không có nguồn tin số {source_id}", 404)
    services = request.app.state.services
    settings = services.settings
    client = await asyncio.to_thread(reach.client, settings.fetch_allow_list, sources.TIMEOUT)
    async with client:
        run = await sources.run_source(services.sessions, source, client, settings.import_root_paths)
    return {"status": run.status, "created": run.created, "duplicates": run.duplicates, "errors": run.errors}


@router.get("/import/log")
async def import_log(
    limit: int = 50, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> list[dict[str, Any]]:
    query = select(ImportRun).order_by(ImportRun.id.desc()).limit(max(1, min(limit, 500)))
    return [_run_out(r) for r in (await session.execute(query)).scalars()]


async def _file_one(request: Request, who: Caller, article: extract.Article, kind: str, link: str | None) -> Any:
    try:
        bulletin_id = await manage.import_one(request.app.state.services.sessions, article, kind, who.user, link)
    except extract.ExtractError as exc:  # nothing left after cleaning
        raise WorkflowError(exc.field, exc.message, 422) from exc
    removed = [{"text": r.text, "reason": r.reason} for r in article.cleaned.removed]
    return {
        "bulletin_id": bulletin_id,
        "duplicate": bulletin_id is None,
        "title": article.title,
        "paragraphs": len(article.cleaned.paragraphs),
        "removed": removed,
    }


@router.post("/import/upload", status_code=201)
async def upload(
    request: Request, file: UploadFile = File(...), who: Caller = Depends(require_role(*manage.STAFF))
) -> Any:
    """A .txt, .docx or .html file becomes a draft for the next programme."""
    from pathlib import Path

    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise WorkflowError("file", f"tệp quá lớn (tối đa {MAX_UPLOAD // 2**20} MB)", 413)
    try:
        article = await asyncio.to_thread(sources.read_file, Path(file.filename or "tep.txt"), data)
    except extract.ExtractError as exc:
        raise WorkflowError(exc.field, exc.message, 422) from exc
    return await _file_one(request, who, article, "upload", None)


@router.post("/import/article", status_code=201)
async def article_in(request: Request, data: ArticleIn, who: Caller = Depends(require_role(*manage.STAFF))) -> Any:
    """An article from another system (the province's portal, the source information system)."""
    try:
        if data.html:
            article = extract.from_html(data.text)
        else:
            article = extract.from_text(f"{data.title}\n\n{data.text}" if data.title else data.text)
    except extract.ExtractError as exc:
        raise WorkflowError(exc.field, exc.message, 422) from exc
    return await _file_one(request, who, article, "api", data.link)


@router.get("/bulletins/{bulletin_id}/import")
async def import_of(bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> Any:
    """Where an imported draft came from and what the cleaner removed from it."""
    item = (
        await session.execute(select(ImportedItem).where(ImportedItem.bulletin_id == bulletin_id))
    ).scalar_one_or_none()
    if item is None:
        raise WorkflowError("bulletin_id", "bản tin này không được nhập từ nguồn tin", 404)
    return {
        "kind": item.kind,
        "source_id": item.source_id,
        "link": item.link,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "removed": item.removed,
    }


def _template_out(t: ProgrammeTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "times": t.times,
        "areas": [a for a in t.areas.split(",") if a],
        "max_minutes": t.max_minutes,
        "greeting": t.greeting,
        "closing": t.closing,
        "bridge": t.bridge,
        "jingle": t.jingle,
        "voice": t.voice,
        "enabled": t.enabled,
        "next_run_at": t.next_run_at.isoformat() if t.next_run_at else None,
    }


def run_out(r: ProgrammeRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "template_id": r.template_id,
        "air_at": r.air_at.isoformat(),
        "status": r.status,
        "bulletin_id": r.bulletin_id,
        "duration_seconds": r.duration_seconds,
        "chapters": r.chapters,
        "dropped": r.dropped,
        "warning": r.warning,
        "podcast": bool(r.web_sha256),
        "listen_url": f"/api/v1/programmes/runs/{r.id}/listen.mp3",
    }


@router.get("/programmes")
async def list_programmes(session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> Any:
    query = select(ProgrammeTemplate).order_by(ProgrammeTemplate.id)
    return [_template_out(t) for t in (await session.execute(query)).scalars()]


@router.post("/programmes", status_code=201)
async def add_programme(
    data: ProgrammeIn, session: AsyncSession = Depends(db), who: Caller = Depends(require_role(*manage.STAFF))
) -> Any:
    template = await manage.add_template(session, who.user.username, manage.TemplateIn(**data.model_dump()))
    return _template_out(template)


@router.post("/programmes/{template_id}/compile", status_code=202)
async def compile_now(
    template_id: int,
    request: Request,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(require_role(*manage.STAFF)),
) -> Any:
    """Start compiling the next air time now (to listen before it airs, or after approving
    late items). Answers at once with the run, "compiling"; its ``listen_url`` plays the
    programme as it is rendered, and ``GET /programmes/runs`` shows when it is ready."""
    services = request.app.state.services
    timezone = services.settings.timezone
    run = await manage.compile_next(
        session, services.sessions, services.renderer, timezone, template_id, services.compiles
    )
    return run_out(run)


@router.get("/programmes/runs/{run_id}/listen.mp3", response_model=None)
async def listen(
    run_id: int, request: Request, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> StreamingResponse | FileResponse:
    """The run's audio for staff: while it is compiling, the MP3 as it is rendered (the
    first item can be heard before the rest is done); once ready, the finished file."""
    run = await session.get(ProgrammeRun, run_id)
    if run is None:
        raise WorkflowError("run_id", f"không có lần tạo chương trình số {run_id}", 404)
    if run.status == ProgrammeRunStatus.COMPILING and run.renderer:
        path = preview_file(request.app.state.services.renderer.store.root, run.id, run.renderer)
        fh = await preview.open_when_there(path, within=30.0)
        if fh is not None:
            headers = {"Cache-Control": "no-store"}
            return StreamingResponse(preview.follow(fh, path), media_type="audio/mpeg", headers=headers)
        await session.refresh(run)
    artifact = (
        await session.get(Artifact, run.web_sha256)
        if run.status == ProgrammeRunStatus.READY and run.web_sha256
        else None
    )
    if artifact is None:
        raise WorkflowError(
            "run_id", "chương trình này chưa có âm thanh MP3 (đang tạo lỗi, trống, hoặc thiếu ffmpeg)", 404
        )
    return await artifact_file(artifact.path, artifact.media_type)


@router.get("/programmes/runs")
async def runs(limit: int = 50, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> Any:
    query = select(ProgrammeRun).order_by(ProgrammeRun.id.desc()).limit(max(1, min(limit, 500)))
    return [run_out(r) for r in (await session.execute(query)).scalars()]
