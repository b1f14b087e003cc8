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


class PreviewRenders:
    """One process's preview renders (``Services.previews``): the tasks running, held until
    done (the loop keeps only weak references), and why a bulletin's preview could not be
    made (not retried on every view)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], renderer: Renderer) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.tasks: set[asyncio.Task[None]] = set()
        self.failed: dict[int, str] = {}  # bulletin id -> why

    def start(self, bulletin_id: int) -> None:
        """Render the submitted version now, so the approver listens before approving."""
        self.failed.pop(bulletin_id, None)
        self.renderer.progress.values[bulletin_id] = 0.0
        task = asyncio.get_running_loop().create_task(self._run(bulletin_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, bulletin_id: int) -> None:
        try:
            async with self.sessions() as session:
                bulletin = await session.get(Bulletin, bulletin_id)
                if bulletin is not None:
                    await self.renderer.render(session, bulletin)
        except Exception as exc:  # rendered again at scheduling, where the error is kept on the bulletin
            log.exception("preview render of bulletin %s failed", bulletin_id)
            self.failed[bulletin_id] = str(exc)[:300] or type(exc).__name__
            self.renderer.progress.values.pop(bulletin_id, None)
