"""Stored audio out over HTTP. The database may name a file the disk no longer has (the
artifacts folder deleted, not mounted, or unreadable): that is a 404 that says so, never a
bare 500 from deep inside the response."""

from __future__ import annotations

import asyncio
import os

from fastapi.responses import FileResponse

from gateway.bulletins.errors import WorkflowError

MISSING = (
    "tệp âm thanh không còn trên đĩa máy chủ (thư mục dữ liệu artifacts bị xóa, chưa gắn hoặc không đọc được); "
    "người quản trị cần khôi phục thư mục, hoặc tạo lại âm thanh"
)


async def artifact_file(path: str, media_type: str, headers: dict[str, str] | None = None) -> FileResponse:
    """A FileResponse for ``path``, or WorkflowError 404 naming the reason."""
    readable = await asyncio.to_thread(lambda: os.path.isfile(path) and os.access(path, os.R_OK))
    if not readable:
        raise WorkflowError("file", MISSING, 404)
    return FileResponse(path, media_type=media_type, headers=headers)
