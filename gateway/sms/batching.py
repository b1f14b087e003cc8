"""Group commit: many callers, one transaction.

Each caller awaits ``put(item)``, which returns once the transaction that holds its item
committed (or raises what made it fail), so a caller that answers its peer afterwards
(deliver_sm_resp after a receipt is stored) never answers for something not stored.
Items arriving while a transaction runs go into the next one: the batch grows with the
load and costs nothing when the load is light. A failed batch is written again item by
item, so one bad item fails only its own caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Batcher(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]], max_items: int = 500) -> None:
        self.write = write
        self.max_items = max_items
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def put(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_items], self._queue[self.max_items :]
            try:
                await self.write([item for item, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _fail(batch[0][1], exc)
                    continue
                log.warning("a batch of %d failed (%s); writing it item by item", len(batch), exc)
                await self._one_by_one(batch)
                continue
            for _, future in batch:
                _done(future)

    async def _one_by_one(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        for item, future in batch:
            try:
                await self.write([item])
            except Exception as exc:
                _fail(future, exc)
            else:
                _done(future)


def _done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(future: asyncio.Future[None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
