"""``GET/HEAD /asterisk/media/{kind}/{name}``: prompts and bulletins for Asterisk's media
cache (res_http_media_cache), authenticated by the link's signature (gateway/ivr/media.py),
no login: Asterisk has none. A wrong or expired signature gets ``403`` before the file is
looked at; ``Content-Type`` names the Asterisk format, ``ETag`` and ``Cache-Control:
max-age`` (never past the link's expiry) let the cache keep the file and revalidate it
with ``If-None-Match``."""

from __future__ import annotations

import asyncio
import os
from email.utils import formatdate

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

from gateway.ivr.media import CONTENT_TYPES, KINDS, NAME, PATH, MediaLinks

router = APIRouter(tags=["asterisk"])
REFUSED = "liên kết âm thanh sai chữ ký hoặc đã hết hạn (exp, sig)"


@router.api_route(PATH + "/{kind}/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def media(request: Request, kind: str, name: str, exp: str = "", sig: str = "") -> Response:
    services = request.app.state.services
    links: MediaLinks | None = services.media_links
    if links is None or kind not in KINDS or not NAME.match(name):
        raise HTTPException(404, "không có tệp âm thanh này")
    left = links.remaining(kind, name, exp, sig)
    if left is None:
        raise HTTPException(403, REFUSED)
    path = services.settings.sounds_dir / kind / name
    try:
        stat = await asyncio.to_thread(os.stat, path)
    except OSError:
        raise HTTPException(404, "không có tệp âm thanh này") from None
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = {
        "ETag": etag,
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        "Cache-Control": f"private, max-age={left}",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=CONTENT_TYPES[name.rsplit(".", 1)[1]], headers=headers, stat_result=stat)
