"""What anyone may read without logging in: the programmes as a web page and a podcast
feed (RSS 2.0 with enclosures), their audio, and the electronic boards' text feed of the
current bulletins of an area (JSON or plain text, accents kept or folded for old LED
boards)."""

from __future__ import annotations

import html
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import areas as areas_tree
from gateway.api.deps import db
from gateway.api.files import artifact_file
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Artifact, Bulletin, ProgrammeRun, ProgrammeTemplate, Render, Target, utcnow
from gateway.db.states import BulletinStatus, ProgrammeRunStatus
from gateway.vietnamese import strip_accents

router = APIRouter(prefix="/public", tags=["public"])
BOARD_STATES = (
    BulletinStatus.SCHEDULED,
    BulletinStatus.RENDERING,
    BulletinStatus.DELIVERING,
    BulletinStatus.DONE,
    BulletinStatus.PARTLY_FAILED,
)
RANKS = {"emergency": 0, "priority": 1, "normal": 2}


async def _runs(session: AsyncSession, limit: int = 30) -> list[tuple[ProgrammeRun, str]]:
    rows = await session.execute(
        select(ProgrammeRun, ProgrammeTemplate.name)
        .join(ProgrammeTemplate, ProgrammeTemplate.id == ProgrammeRun.template_id)
        .where(ProgrammeRun.status == ProgrammeRunStatus.READY, ProgrammeRun.air_at <= utcnow() + timedelta(hours=1))
        .order_by(ProgrammeRun.air_at.desc())
        .limit(limit)
    )
    return [(run, name) for run, name in rows.all()]


def _audio_url(request: Request, run: ProgrammeRun) -> tuple[str, str]:
    ext, media = ("mp3", "audio/mpeg") if run.web_sha256 else ("wav", "audio/wav")
    return str(request.url_for("programme_audio", run_id=run.id, ext=ext)), media


@router.get("/programmes", response_class=HTMLResponse)
async def page(request: Request, session: AsyncSession = Depends(db)) -> HTMLResponse:
    items = []
    for run, name in await _runs(session):
        url, _ = _audio_url(request, run)
        chapters = "".join(
            f'<li><a href="{html.escape(url)}#t={c["start"]:.0f}">{int(c["start"]) // 60}:{int(c["start"]) % 60:02d}'
            f"</a> {html.escape(c['title'])}</li>"
            for c in run.chapters
        )
        items.append(
            f"<article><h2>{html.escape(name)} – {run.air_at:%d/%m/%Y %H:%M} UTC</h2>"
            f'<audio controls preload="none" src="{html.escape(url)}"></audio><ol>{chapters}</ol></article>'
        )
    feed = request.url_for("podcast")
    body = "".join(items) or "<p>Chưa có chương trình nào.</p>"
    return HTMLResponse(
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Chương trình phát thanh</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="alternate" type="application/rss+xml" href="{feed}"></head><body>'
        f'<h1>Chương trình phát thanh</h1><p><a href="{feed}">Nghe qua ứng dụng podcast (RSS)</a></p>{body}'
        "</body></html>"
    )


@router.get("/podcast.xml", name="podcast")
async def podcast(request: Request, session: AsyncSession = Depends(db)) -> Response:
    entries = []
    for run, name in await _runs(session):
        url, media = _audio_url(request, run)
        artifact = await session.get(Artifact, run.web_sha256) if run.web_sha256 else None
        size = artifact.size if artifact is not None else 0
        chapters = "; ".join(f"{int(c['start']) // 60}:{int(c['start']) % 60:02d} {c['title']}" for c in run.chapters)
        entries.append(
            "<item>"
            f"<title>{escape(f'{name} {run.air_at:%d/%m/%Y}')}</title>"
            f'<guid isPermaLink="false">loa-programme-{run.id}</guid>'
            f"<pubDate>{format_datetime(run.air_at)}</pubDate>"
            f"<description>{escape(chapters)}</description>"
            f'<enclosure url="{escape(url)}" length="{size}" type="{media}"/>'
            f"<itunes:duration>{int(run.duration_seconds)}</itunes:duration>"
            "</item>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        "<title>Chương trình phát thanh của xã</title>"
        f"<link>{escape(str(request.url_for('page')))}</link>"
        "<language>vi</language><description>Bản tin phát thanh cơ sở</description>"
        f"{''.join(entries)}</channel></rss>"
    )
    return Response(xml, media_type="application/rss+xml; charset=utf-8")


@router.get("/live.mp3")
async def live(request: Request) -> StreamingResponse:
    """What the commune's loudspeakers play now, for residents on a phone or a PC (the
    stream device ``loa:live``); silence between items. Served by the process that runs
    the worker: a ``--role web`` process says so instead of playing silence for ever."""
    if request.app.state.role == "web":
        raise WorkflowError(
            "role",
            "luồng trực tiếp do tiến trình chạy worker phát (role = all); khi tách web/worker, "
            "hãy dùng Icecast (thiết bị kiểu stream) cho người nghe",
            503,
        )
    hub = request.app.state.services.live
    return StreamingResponse(hub.listen(), media_type="audio/mpeg", headers={"Cache-Control": "no-store"})


@router.get("/programmes/{run_id}.{ext}", name="programme_audio")
async def programme_audio(run_id: int, ext: str, session: AsyncSession = Depends(db)) -> FileResponse:
    run = await session.get(ProgrammeRun, run_id)
    if run is None or run.status != ProgrammeRunStatus.READY or run.bulletin_id is None:
        raise WorkflowError("run_id", "không có chương trình này", 404)
    sha = run.web_sha256 if ext == "mp3" else None
    if ext == "wav":
        sha = (
            await session.execute(
                select(Render.artifact_sha256).where(
                    Render.bulletin_id == run.bulletin_id, Render.purpose == "loudspeaker"
                )
            )
        ).scalar_one_or_none()
    artifact = await session.get(Artifact, sha) if sha else None
    if artifact is None:
        raise WorkflowError("ext", "định dạng này không có (mp3 cần ffmpeg trên máy chủ)", 404)
    return await artifact_file(artifact.path, artifact.media_type)


async def _board(session: AsyncSession, code: str, days: int) -> list[dict[str, Any]]:
    area = (await session.execute(select(Area).where(Area.code == code))).scalar_one_or_none()
    if area is None:
        raise WorkflowError("area", f"không có địa bàn mã '{code}'", 404)
    reach = await areas_tree.ancestors(session, area.id) | {area.id}
    targeted = select(Target.bulletin_id).where(Target.area_id.in_(reach))
    rows = (
        await session.execute(
            select(Bulletin)
            .where(
                Bulletin.id.in_(targeted),
                Bulletin.status.in_(BOARD_STATES),
                Bulletin.source.not_in(("reply", "programme")),
                Bulletin.updated_at >= utcnow() - timedelta(days=days),
            )
            .order_by(Bulletin.updated_at.desc())
            .limit(50)
        )
    ).scalars()
    out = [
        {
            "id": b.id,
            "title": b.title,
            "text": (b.sms_text or b.body)[:400],
            "priority": b.priority,
            "updated_at": b.updated_at.isoformat(),
        }
        for b in rows
    ]
    return sorted(out, key=lambda b: RANKS.get(str(b["priority"]), 3))


@router.get("/eboard/{code}.json")
async def board_json(code: str, days: int = 7, session: AsyncSession = Depends(db)) -> dict[str, Any]:
    """Current bulletins of an area (and the areas above it), emergencies first."""
    return {"area": code, "generated_at": utcnow().isoformat(), "bulletins": await _board(session, code, days)}


@router.get("/eboard/{code}.txt")
async def board_text(code: str, days: int = 7, ascii: bool = False, session: AsyncSession = Depends(db)) -> Response:
    """One bulletin per line, ``TITLE: text``; ``ascii=1`` folds accents for boards without them."""
    lines = []
    for b in await _board(session, code, days):
        mark = "KHẨN: " if b["priority"] == "emergency" else ""
        line = f"{mark}{b['title']}: {' '.join(str(b['text']).split())}"
        lines.append(strip_accents(line) if ascii else line)
    return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""), media_type="text/plain; charset=utf-8")
