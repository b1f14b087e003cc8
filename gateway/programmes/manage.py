"""What the API and the console both do with sources, imports and programmes: one rule
each, whoever asks. Errors are WorkflowErrors naming the field."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.render import Renderer
from gateway.bulletins.schedule import parse_recurrence
from gateway.bulletins.service import audit
from gateway.db.models import Area, ImportSource, ProgrammeRun, ProgrammeTemplate, User, utcnow
from gateway.programmes import reach
from gateway.programmes.compile import Compiler
from gateway.programmes.extract import Article
from gateway.programmes.importer import RunLog, add_article, write_log
from gateway.programmes.worker import first_air

log = logging.getLogger(__name__)
STAFF = ("admin", "editor", "approver")  # who imports articles and makes programmes


def require_staff(role: str, action: str) -> None:
    if role not in STAFF:
        raise WorkflowError("role", f"chỉ biên tập viên, người duyệt hoặc quản trị được {action}", 403)


async def add_source(
    session: AsyncSession,
    actor: User,
    name: str,
    kind: str,
    location: str,
    interval_minutes: int = 30,
    roots: tuple[Path, ...] = (),
) -> ImportSource:
    """A feed (any staff member) or a watched folder (admins only, under ``roots``)."""
    if kind not in ("feed", "folder") or not name or not location:
        raise WorkflowError("location", "cần tên, loại (RSS hoặc thư mục) và địa chỉ của nguồn tin", 422)
    if kind == "feed" and not location.startswith(("http://", "https://")):
        raise WorkflowError("location", "địa chỉ nguồn tin RSS/Atom phải bắt đầu bằng http:// hoặc https://", 422)
    if kind == "folder" and not location.startswith("/"):
        raise WorkflowError("location", "thư mục theo dõi phải là đường dẫn tuyệt đối, ví dụ /srv/loa/tin-moi", 422)
    if kind == "folder" and actor.role != "admin":
        raise WorkflowError("kind", "chỉ quản trị viên được thêm nguồn tin là thư mục trên máy chủ", 403)
    if kind == "folder" and not reach.folder_allowed(location, roots):
        where = ", ".join(str(r) for r in roots) or "chưa cấu hình"
        raise WorkflowError("location", f"thư mục phải nằm trong các thư mục được phép (import_roots: {where})", 422)
    if (await session.execute(select(ImportSource).where(ImportSource.name == name))).first():
        raise WorkflowError("name", f"đã có nguồn tin tên '{name}'", 409)
    source = ImportSource(name=name, kind=kind, location=location, interval_minutes=interval_minutes)
    session.add(source)
    await audit(session, actor.username, "import_source_add", "import_source", name, kind=kind)
    await session.commit()
    return source


async def import_one(
    sessions: async_sessionmaker[AsyncSession], article: Article, kind: str, user: User, link: str | None = None
) -> int | None:
    """One article from a person (upload, API) as a draft, logged like a source's run;
    the bulletin id, or None for a duplicate."""
    run = RunLog(kind)
    run.fetched = 1
    started = utcnow()
    bulletin_id = await add_article(sessions, article, run, link=link, user=user)
    await write_log(sessions, run, started)
    return bulletin_id


@dataclass(frozen=True)
class TemplateIn:
    name: str
    times: str
    areas: list[str]
    max_minutes: int = 15
    greeting: str = ""
    closing: str = ""
    bridge: str = ""
    jingle: bool = True
    voice: str = "vi-espeak"


async def add_template(session: AsyncSession, actor: str, data: TemplateIn) -> ProgrammeTemplate:
    if not data.name or not data.areas:
        raise WorkflowError("name", "cần tên chương trình và ít nhất một địa bàn", 422)
    try:
        parse_recurrence(f"daily {data.times}")
    except WorkflowError as exc:
        raise WorkflowError("times", f"giờ phát không hợp lệ: {exc.message}", 422) from exc
    if not 1 <= data.max_minutes <= 180:
        raise WorkflowError("max_minutes", "độ dài tối đa phải từ 1 đến 180 phút", 422)
    known = set((await session.execute(select(Area.code).where(Area.code.in_(data.areas)))).scalars())
    missing = [a for a in data.areas if a not in known]
    if missing:
        raise WorkflowError("areas", f"không có địa bàn mã: {', '.join(missing)}", 422)
    if (await session.execute(select(ProgrammeTemplate).where(ProgrammeTemplate.name == data.name))).first():
        raise WorkflowError("name", f"đã có chương trình tên '{data.name}'", 409)
    template = ProgrammeTemplate(
        name=data.name,
        times=data.times,
        areas=",".join(data.areas),
        max_minutes=data.max_minutes,
        greeting=data.greeting,
        closing=data.closing,
        bridge=data.bridge,
        jingle=data.jingle,
        voice=data.voice,
        next_run_at=first_air(data.times),
    )
    session.add(template)
    await audit(session, actor, "programme_add", "programme", data.name, times=data.times)
    await session.commit()
    return template


class Compiles:
    """One process's programme compiles started from a request (``Services.compiles``),
    held until done: at shutdown they stop and a worker takes their runs over."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[ProgrammeRun]] = set()

    def add(self, task: asyncio.Task[ProgrammeRun]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[ProgrammeRun]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("programme compile stopped; the worker takes the run over", exc_info=task.exception())

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def compile_next(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    renderer: Renderer,
    timezone: str,
    template_id: int,
    compiles: Compiles,
) -> ProgrammeRun:
    """Start compiling the template's next air time now (to listen before it airs, or
    after approving late items); the worker then waits for the air time after it. The run
    comes back at once, "compiling": a neural voice takes minutes, longer than a browser
    waits. If this process stops meanwhile, the worker takes the run over."""
    template = await session.get(ProgrammeTemplate, template_id)
    if template is None:
        raise WorkflowError("template_id", f"không có chương trình số {template_id}", 404)
    air_at = template.next_run_at or first_air(template.times)
    if air_at is None:
        raise WorkflowError("times", "không tính được giờ phát tiếp theo", 422)
    template.next_run_at = first_air(template.times, air_at)
    await session.commit()
    compiler = Compiler(sessions, renderer, timezone)
    run, claim = await compiler.open_run(template_id, air_at)
    if claim is not None:
        compiles.add(asyncio.create_task(compiler.render(claim)))
    return run
