"""The audio of a submitted version, made at submission so the approver listens before
approving. The renders are the ones delivery uses (content-addressed, one per version),
so scheduling later finds them in place."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import Renderer
from gateway.db.models import Bulletin

log = logging.getLogger(__name__)
tasks: set[asyncio.Task[None]] = set()  # held until done (the loop keeps only weak references)
failed: dict[int, str] = {}  # bulletin id -> why its preview could not be made (not retried on every view)


def start_preview_render(sessions: async_sessionmaker[AsyncSession], renderer: Renderer, bulletin_id: int) -> None:
    """Render the submitted version now, so the approver listens before approving; the
    renders are the same ones delivery uses (content-addressed, one per version)."""

    async def run() -> None:
        try:
            async with sessions() as session:
                bulletin = await session.get(Bulletin, bulletin_id)
                if bulletin is not None:
                    await renderer.render(session, bulletin)
        except Exception as exc:  # rendered again at scheduling, where the error is kept on the bulletin
            log.exception("preview render of bulletin %s failed", bulletin_id)
            failed[bulletin_id] = str(exc)[:300] or type(exc).__name__
            renderer.progress.values.pop(bulletin_id, None)

    failed.pop(bulletin_id, None)
    renderer.progress.values[bulletin_id] = 0.0
    task = asyncio.get_running_loop().create_task(run())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
