"""Prompts and bulletins for Asterisk over HTTP: signed, expiring URLs.

With ``asterisk_media = "http"`` the IVR names its sound files to Asterisk as URLs
(``STREAM FILE https://loa/asterisk/media/prompts/<hash>.ulaw?exp=…&sig=… ""``).
Asterisk's core (main/file.c ``fileexists_test``) hands any name containing ``://`` to the
media cache, and res_http_media_cache fetches it with libcurl (a plain GET), keyed on the
whole URL. It picks the file's format from the ``Content-Type`` first (a format's MIME
type: ``audio/basic`` is format_pcm's μ-law, ``audio/wav`` format_wav's) and from the
extension at the end of the URL's *path* second, so a link carries both and its query has
no dot. It keeps the file while ``Cache-Control: max-age`` (or ``Expires``) allows, then
asks again with ``If-None-Match`` (a HEAD request) and keeps it on ``304``.

A link is valid until ``exp`` (Unix seconds), rounded up to a whole window of
``seconds`` so that every call in the same window gets the same URL and Asterisk's cache
holds one copy per prompt, not one per call. The signature is HMAC-SHA256 over the kind,
the file name and ``exp`` with a key derived from ``secret_key``; Loa checks it in
constant time and answers ``403`` to a wrong or expired one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable

KINDS = ("prompts", "bulletins")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}\.(ulaw|wav)$")
CONTENT_TYPES = {"ulaw": "audio/basic", "wav": "audio/wav"}  # format_pcm, format_wav mime_types
PATH = "/asterisk/media"


def media_key(secret_key: str) -> bytes:
    """The links' own key, derived from the gateway's secret (never the secret itself)."""
    return hmac.new(secret_key.encode(), b"loa asterisk media v1", hashlib.sha256).digest()


class MediaLinks:
    """Makes and checks the signed URLs Asterisk fetches prompts and bulletins from."""

    def __init__(
        self, base_url: str, key: bytes, seconds: int = 3600, clock: Callable[[], float] = time.time
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.seconds = seconds
        self.clock = clock

    def _sign(self, kind: str, name: str, expires: int) -> str:
        mac = hmac.new(self.key, f"{kind}/{name}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()  # 144 bits, no padding, no dot

    def url(self, kind: str, name: str) -> str:
        """Valid for at least ``seconds`` and at most twice that."""
        if kind not in KINDS or not NAME.match(name):
            raise ValueError(f"media link: kind {kind!r} / name {name!r} not servable")
        expires = (int(self.clock()) // self.seconds + 2) * self.seconds
        return f"{self.base_url}{PATH}/{kind}/{name}?exp={expires}&sig={self._sign(kind, name, expires)}"

    def remaining(self, kind: str, name: str, expires: str, signature: str) -> int | None:
        """Seconds the link has left, or None when its signature is wrong or it expired."""
        if not expires.isdigit() or len(expires) > 12:
            return None
        good = self._sign(kind, name, int(expires))
        if not hmac.compare_digest(good.encode(), signature.encode()):
            return None
        left = int(expires) - int(self.clock())
        return left if left > 0 else None
