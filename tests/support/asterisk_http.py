"""The HTTP side of the Asterisk stand-in, from Asterisk's source (releases 18-22):

- ``MediaCache``: how a sound file named by URL is found (main/file.c ``fileexists_test``:
  any name containing ``://`` goes to the media cache; res/res_http_media_cache.c): a GET
  with libcurl (redirects followed, at most 8), keyed on the whole URL; a reply other than
  2xx, or no reply, and the file does not exist, so the playback fails. The format comes
  from the ``Content-Type`` (a format's MIME type, compared as sent, then without its
  parameters), else from the extension at the end of the URL's path (never the query);
  with neither the file cannot be played. The copy is kept until ``Cache-Control``
  ``s-maxage``/``max-age`` (or ``Expires``) runs out, always re-checked with
  ``no-cache``/``must-revalidate``; then a HEAD with ``If-None-Match`` (the ETag) keeps it
  on ``304``, and anything else fetches it again.
- ``AriServer``: the part of ARI (res/ari/resource_recordings.c, stasis_recording/stored.c)
  Loa uses: stored recordings in ``astspooldir/recording`` listed, described, their file
  (``Content-Type: audio/<ext>``) and deleted, behind ari.conf's basic auth (or
  ``?api_key=user:password``); ``404 Recording not found``; a name outside the
  recording directory refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

# format_*.c: .exts (the first is what ast_get_extension_for_mime_type gives) and .mime_types
FORMATS = {
    "pcm": ("pcm", "ulaw", "ul", "mu", "ulw"),
    "alaw": ("alaw", "al", "alw"),
    "wav": ("wav",),
    "wav16": ("wav16",),
    "gsm": ("gsm",),
    "sln": ("sln", "raw"),
    "sln16": ("sln16",),
    "g722": ("g722",),
}
MIME_TYPES = {
    "audio/basic": "pcm",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/x-wav;codec=pcm;bit=16;rate=8000": "wav",
    "audio/x-wav;codec=pcm;bit=16;rate=16000": "wav16",
    "audio/gsm": "gsm",
}
EXTENSIONS = {ext: name for name, exts in FORMATS.items() for ext in exts}


@dataclass
class Cached:
    path: Path
    expires: float
    etag: str
    always_revalidate: bool


class MediaCache:
    """Asterisk's media cache for http(s) URLs, one per Asterisk (shared by its calls)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.entries: dict[str, Cached] = {}
        self.fetches: list[tuple[str, str, int]] = []  # (method, url, status; -1: no reply)

    async def retrieve(self, url: str) -> Path | None:
        entry = self.entries.get(url)
        if entry is not None and not await self._stale(url, entry):
            return entry.path
        self.entries.pop(url, None)
        try:
            async with httpx.AsyncClient(follow_redirects=True, max_redirects=8, timeout=180) as client:
                reply = await client.get(url, headers={"User-Agent": "asterisk-libcurl-agent/1.0"})
        except httpx.HTTPError:
            self.fetches.append(("GET", url, -1))
            return None
        self.fetches.append(("GET", url, reply.status_code))
        if reply.status_code // 100 != 2:
            return None  # "Failed to retrieve URL ...: server returned <code>"
        ext = _extension(reply.headers.get("content-type", ""), url)
        if ext is None:
            return None  # no extension: no format can open it
        path = self.directory / f"{hashlib.sha1(url.encode()).hexdigest()}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, reply.content)
        control = reply.headers.get("cache-control", "")
        self.entries[url] = Cached(
            path,
            _expires(control, reply.headers.get("expires", "")),
            reply.headers.get("etag", ""),
            "no-cache" in control or "must-revalidate" in control,
        )
        return path

    async def _stale(self, url: str, entry: Cached) -> bool:
        if time.time() < entry.expires and not entry.always_revalidate:
            return False
        if not entry.etag:
            return True
        try:
            async with httpx.AsyncClient(follow_redirects=True, max_redirects=8, timeout=180) as client:
                reply = await client.head(url, headers={"If-None-Match": entry.etag})
        except httpx.HTTPError:
            return True
        self.fetches.append(("HEAD", url, reply.status_code))
        if reply.status_code != 304:
            return True
        entry.expires = _expires(reply.headers.get("cache-control", ""), reply.headers.get("expires", ""))
        return False


def _extension(content_type: str, url: str) -> str | None:
    name = MIME_TYPES.get(content_type) or MIME_TYPES.get(content_type.split(";", 1)[0].strip())
    if name is not None:
        return FORMATS[name][0]
    path = urlsplit(url).path
    ext = path.rsplit(".", 1)[1] if "." in path.rsplit("/", 1)[-1] else ""
    return ext if ext in EXTENSIONS else None


def _expires(control: str, expires: str) -> float:
    now = time.time()
    if control:
        for word in ("s-maxage", "max-age"):
            if word in control:
                value = control.split(word, 1)[1].lstrip(" =").split(",", 1)[0].strip()
                return now + int(value) if value.isdigit() else now
        return now
    if expires:
        with contextlib.suppress(TypeError, ValueError):
            return parsedate_to_datetime(expires).timestamp()
    return now


class AriServer:
    """ARI's stored recordings over HTTP on ``host``: ``/ari/recordings/stored...``."""

    def __init__(self, recordings: Path, users: dict[str, str], host: str = "127.0.0.1") -> None:
        self.recordings = recordings
        self.users = users
        self.host = host
        self.port = 0
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await reader.readline()).decode("latin-1").split()
            headers: dict[str, str] = {}
            while line := (await reader.readline()).decode("latin-1").strip():
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            if int(headers.get("content-length", "0") or 0):
                await reader.readexactly(int(headers["content-length"]))
            if len(request) < 2:
                return
            status, kind, body, extra = self._answer(request[0].upper(), request[1], headers)
            self.requests.append((request[0].upper(), request[1], status))
            head = [f"HTTP/1.1 {status} {REASONS[status]}", "Server: Asterisk/20.5.0", "Connection: close"]
            head += [f"Content-Type: {kind}", f"Content-Length: {len(body)}", *extra]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if request[0].upper() == "HEAD" else body))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        auth = headers.get("authorization", "")
        given = ""
        if auth.lower().startswith("basic "):
            with contextlib.suppress(ValueError):
                given = base64.b64decode(auth[6:]).decode()
        elif query.get("api_key"):
            given = query["api_key"][0]
        user, _, password = given.partition(":")
        return bool(user) and self.users.get(user) == password

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, str, bytes, list[str]]:
        parts = urlsplit(target)
        if not self._authorized(headers, parse_qs(parts.query)):
            return _error(401, "Authentication required", 'WWW-Authenticate: Basic realm="Asterisk REST Interface"')
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if segments[:3] != ["ari", "recordings", "stored"]:
            return _error(404, "Resource not found")
        if len(segments) == 3 and method == "GET":
            listing = [{"name": p.stem, "format": p.suffix[1:]} for p in sorted(self.recordings.glob("*.*"))]
            return 200, "application/json", json.dumps(listing).encode(), []
        name = segments[3] if len(segments) > 3 else ""
        found = self._find(name)
        if found is None:
            return _error(404, "Recording not found")
        if isinstance(found, str):
            return _error(403, found)
        if len(segments) == 5 and segments[4] == "file" and method in ("GET", "HEAD"):
            return 200, f"audio/{found.suffix[1:]}", found.read_bytes(), []
        if len(segments) == 4 and method == "GET":
            return 200, "application/json", json.dumps({"name": name, "format": found.suffix[1:]}).encode(), []
        if len(segments) == 4 and method == "DELETE":
            found.unlink()
            return 204, "application/json", b"", []
        return _error(405, "Method not allowed")

    def _find(self, name: str) -> Path | str | None:
        base = (self.recordings / name).resolve()
        if not base.is_relative_to(self.recordings.resolve()):
            return "Recording path is invalid"  # stored.c: an escape from the recording dir (EACCES)
        return next((p for p in sorted(base.parent.glob(base.name + ".*")) if p.suffix[1:] in EXTENSIONS), None)


REASONS = {
    200: "OK",
    204: "No Content",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}


def _error(status: int, message: str, *headers: str) -> tuple[int, str, bytes, list[str]]:
    return status, "application/json", json.dumps({"message": message}).encode(), list(headers)
