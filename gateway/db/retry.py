"""Writes that must not be lost to a database restart: tried again while the database
is unreachable (a PostgreSQL restart, a failover: refused or dropped connections), for
up to ``within`` seconds, then the error is raised as before. Anything else (a
constraint, a bug) is raised at once.

Used where the fact to store exists only in memory and its peer was already answered or
will not say it again: the SMSC's ``submit_sm_resp`` (a lost one turns a part the SMSC
accepted into an ``unknown`` row)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

T = TypeVar("T")
log = logging.getLogger("loa.db")


def unreachable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection: worth another try."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    name = type(exc).__name__  # asyncpg's own, raised past SQLAlchemy while connecting
    return isinstance(exc, OSError) or name in ("CannotConnectNowError", "ConnectionDoesNotExistError")


async def retrying(action: Callable[[], Awaitable[T]], what: str, within: float = 120.0) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pause = 0.1
    while True:
        try:
            return await action()
        except Exception as exc:
            if not unreachable(exc) or loop.time() + pause > deadline:
                raise
            log.warning("%s: the database is unreachable (%s); trying again in %.1f s", what, exc, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
