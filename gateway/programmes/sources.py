"""Running the import sources: RSS/Atom feeds over HTTP and watched folders.

A feed that is down, answers an error, sends malformed XML or a page larger than the
limit costs one line in the import log, never the worker. An item whose page cannot be
fetched falls back to the feed's own text when it carries one. A folder's files are moved
to ``done/`` or ``failed/`` after they are handled, so a restart never imports twice.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import ImportSource, utcnow
from gateway.programmes import extract, reach
from gateway.programmes.importer import RunLog, add_article, write_log

log = logging.getLogger(__name__)
MAX_FEED = 5 * 1024 * 1024
MAX_ITEMS = 50
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
FILE_KINDS = {".txt": "text", ".docx": "docx", ".html": "html", ".htm": "html"}


class FetchError(Exception):
    pass


async def fetch(client: httpx.AsyncClient, url: str, limit: int) -> bytes:
    """GET with a size limit (a page that never ends is cut off, not read forever)."""
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise FetchError(f"{url}: máy chủ trả lời {response.status_code}")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise FetchError(f"{url}: lớn hơn {limit // 1024 // 1024} MB, bỏ qua")
            return bytes(data)
    except reach.Refused as exc:
        raise FetchError(f"{url}: không tải: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: không tải được ({exc.__class__.__name__})") from exc


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None


async def run_feed(
    sessions: async_sessionmaker[AsyncSession], source: ImportSource, client: httpx.AsyncClient
) -> RunLog:
    import feedparser

    run = RunLog("feed", source.id)
    try:
        raw = await fetch(client, source.location, MAX_FEED)
    except FetchError as exc:
        run.errors.append(str(exc))
        return run
    feed = await asyncio.to_thread(feedparser.parse, raw)
    if feed.bozo and not feed.entries:
        run.errors.append(f"{source.location}: không phải RSS/Atom hợp lệ ({feed.bozo_exception})")
        return run
    if feed.bozo:  # read leniently, but the portal's admin should hear about it
        run.errors.append(
            f"{source.location}: RSS/Atom sai cú pháp ({feed.bozo_exception}); đọc được {len(feed.entries)} mục"
        )
    for entry in feed.entries[:MAX_ITEMS]:
        run.fetched += 1
        link = entry.get("link") or None
        try:
            article = await _article(client, entry, link)
            await add_article(sessions, article, run, link=link, published=_published(entry))
        except (FetchError, extract.ExtractError) as exc:
            run.errors.append(f"{link or entry.get('title', '?')}: {exc}")
    return run


async def _article(client: httpx.AsyncClient, entry: Any, link: str | None) -> extract.Article:
    """The linked page when it can be fetched, else the text the feed carries."""
    problem: Exception | None = None
    if link:
        try:
            page = await fetch(client, link, extract.MAX_HTML)
            return await asyncio.to_thread(extract.from_html, page)
        except (FetchError, extract.ExtractError) as exc:
            problem = exc
    content = entry.get("content", [{}])[0].get("value") if entry.get("content") else entry.get("summary")
    if content:
        summary = f"<h1>{entry.get('title', '')}</h1><div>{content}</div>"
        try:
            return await asyncio.to_thread(extract.from_html, summary)
        except extract.ExtractError:
            if problem is None:
                raise
    if problem is not None:  # the page's own reason says more than the feed's empty summary
        raise problem
    raise extract.ExtractError("item", "mục tin không có liên kết lẫn nội dung")


def read_file(path: Path, data: bytes) -> extract.Article:
    kind = FILE_KINDS.get(path.suffix.lower())
    if kind is None:
        allowed = ", ".join(FILE_KINDS)
        raise extract.ExtractError("file", f"'{path.name}': chỉ nhận tệp {allowed}")
    if kind == "docx":
        return extract.from_docx(data)
    if kind == "html":
        return extract.from_html(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise extract.ExtractError("file", f"'{path.name}': không phải văn bản UTF-8") from exc
    return extract.from_text(text)


async def run_folder(
    sessions: async_sessionmaker[AsyncSession], source: ImportSource, roots: tuple[Path, ...] = ()
) -> RunLog:
    """Import a watched folder's files; only under ``roots`` (import_roots), links not followed."""
    run = RunLog("folder", source.id)
    folder = Path(source.location)
    if not reach.folder_allowed(source.location, roots):
        where = ", ".join(str(r) for r in roots) or "chưa cấu hình"
        run.errors.append(f"{folder}: không nằm trong các thư mục được phép nhập tin (import_roots: {where})")
        return run
    if not await asyncio.to_thread(folder.is_dir):
        run.errors.append(f"{folder}: thư mục không tồn tại")
        return run
    listed = await asyncio.to_thread(lambda: [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()])
    files = sorted(listed)
    for path in files[:MAX_ITEMS]:
        if path.name.startswith(".") or path.suffix.lower() not in FILE_KINDS:
            continue
        run.fetched += 1
        target = "done"
        try:
            data = await asyncio.to_thread(path.read_bytes)
            article = await asyncio.to_thread(read_file, path, data)
            await add_article(sessions, article, run, link=None)
        except extract.ExtractError as exc:
            run.errors.append(f"{path.name}: {exc.message}")
            target = "failed"
        await asyncio.to_thread(_move, path, folder / target)
    return run


def _move(path: Path, directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    os.replace(path, directory / path.name)


async def due_sources(sessions: async_sessionmaker[AsyncSession]) -> list[ImportSource]:
    """Enabled sources whose interval has passed."""
    now = utcnow()
    async with sessions() as session:
        sources = (await session.execute(select(ImportSource).where(ImportSource.enabled.is_(True)))).scalars().all()
    return [s for s in sources if not s.last_run_at or s.last_run_at + timedelta(minutes=s.interval_minutes) <= now]


async def run_due(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, roots: tuple[Path, ...] = ()
) -> int:
    """Run every enabled source whose interval has passed; how many ran."""
    due = await due_sources(sessions)
    for source in due:
        await run_source(sessions, source, client, roots)
    return len(due)


async def run_source(
    sessions: async_sessionmaker[AsyncSession],
    source: ImportSource,
    client: httpx.AsyncClient,
    roots: tuple[Path, ...] = (),
) -> RunLog:
    """One source now. Feeds fetch with ``client`` (``reach.client`` in the gateway); folders
    are read only under ``roots``."""
    started = utcnow()
    async with sessions() as session:
        row = await session.get(ImportSource, source.id)
        if row is not None:
            row.last_run_at = started
            await session.commit()
    try:
        run = await (
            run_feed(sessions, source, client) if source.kind == "feed" else run_folder(sessions, source, roots)
        )
    except Exception as exc:  # the log must show it; the worker goes on
        log.exception("import source %s failed", source.name)
        run = RunLog(source.kind, source.id)
        run.errors.append(f"lỗi không lường trước: {exc}")
    await write_log(sessions, run, started)
    return run
