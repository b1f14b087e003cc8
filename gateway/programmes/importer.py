"""Articles in, drafts out: each imported article becomes a draft bulletin marked for the
next programme, with its source, link and date, and the cleaner's removals kept for the
officer. The same article twice (same link, or the same text under another link) is one
draft; every run is written to the import log, failures included."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins import service as bulletins
from gateway.db.models import Bulletin, ImportedItem, ImportRun, User, utcnow
from gateway.db.states import ImportRunStatus
from gateway.programmes.extract import Article, ExtractError

log = logging.getLogger(__name__)
SYSTEM_USER = "nhap-tu-dong"  # drafts imported by no one in particular
MAX_TITLE = 300
MAX_BODY = 50_000


@dataclass
class RunLog:
    kind: str
    source_id: int | None = None
    fetched: int = 0
    created: list[int] = field(default_factory=list)
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> ImportRunStatus:
        if not self.errors:
            return ImportRunStatus.OK
        return ImportRunStatus.PARTIAL if self.created or self.duplicates else ImportRunStatus.FAILED


def body_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()


async def system_user(session: AsyncSession) -> User:
    user = (await session.execute(select(User).where(User.username == SYSTEM_USER))).scalar_one_or_none()
    if user is None:
        user = User(
            username=SYSTEM_USER,
            full_name="Nhập tin tự động",
            role="editor",
            password_hash="!",  # no password can match: it never logs in
            active=False,
        )
        session.add(user)
        await session.flush()
    return user


async def add_article(
    sessions: async_sessionmaker[AsyncSession],
    article: Article,
    run: RunLog,
    link: str | None = None,
    published: datetime | None = None,
    user: User | None = None,
    voice: str = "vi-espeak",
) -> int | None:
    """File one article as a draft; the bulletin id, or None for a duplicate."""
    body = article.cleaned.body[:MAX_BODY]
    title = (article.title or body[:80]).strip()[:MAX_TITLE]
    if len(title) < 3 or not body.strip():
        raise ExtractError("body", "bài viết không có tiêu đề hoặc nội dung sau khi làm sạch")
    sha = body_hash(body)
    async with sessions() as session:
        same = [ImportedItem.body_sha256 == sha] + ([ImportedItem.link == link] if link else [])
        existing = (await session.execute(select(ImportedItem.bulletin_id).where(or_(*same)))).first()
        if existing is not None:
            run.duplicates += 1
            return None
        author = user or await system_user(session)
        data = bulletins.BulletinInput(title=title, body=body, voice=voice)
        bulletin = await bulletins.create(session, author, data, source=run.kind, for_programme=True, commit=False)
        session.add(
            ImportedItem(
                source_id=run.source_id,
                kind=run.kind,
                link=link,
                title=title,
                published_at=published or article.published,
                body_sha256=sha,
                bulletin_id=bulletin.id,
                removed=[{"text": r.text[:500], "reason": r.reason} for r in article.cleaned.removed],
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # the same article arrived twice at once
            await session.rollback()
            run.duplicates += 1
            return None
        run.created.append(bulletin.id)
        return bulletin.id


async def write_log(sessions: async_sessionmaker[AsyncSession], run: RunLog, started: datetime) -> ImportRun:
    async with sessions() as session:
        row = ImportRun(
            source_id=run.source_id,
            kind=run.kind,
            started_at=started,
            finished_at=utcnow(),
            status=run.status,
            fetched=run.fetched,
            created=len(run.created),
            duplicates=run.duplicates,
            errors=len(run.errors),
            detail="\n".join(run.errors)[:10_000],
        )
        session.add(row)
        await session.commit()
        return row


async def removed_of(session: AsyncSession, bulletin: Bulletin) -> list[dict[str, str]]:
    """What the cleaner took out of an imported draft (empty for other bulletins)."""
    item = (
        await session.execute(select(ImportedItem).where(ImportedItem.bulletin_id == bulletin.id))
    ).scalar_one_or_none()
    return list(item.removed) if item is not None else []
