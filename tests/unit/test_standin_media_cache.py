"""The stand-in's media cache follows res_http_media_cache.c (Asterisk 18-22), so the
gateway tests that play URLs through it mean what they say: bucket_file_set_extension
(the Content-Type's format first, then the extension of the URL's path, never its query),
bucket_file_run_curl (a non-2xx answer: no file), bucket_file_set_expiration and
bucket_http_wizard_is_stale (max-age; no-cache revalidates with a HEAD and If-None-Match)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.asterisk_http import MediaCache
from tests.support.web import Site, serve

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
ULAW = b"\xff" * 800


async def test_res_http_media_cache_bucket_file_set_extension_content_type_then_url_path(tmp_path: Path) -> None:
    site = Site()
    with serve(site):
        cache = MediaCache(tmp_path)
        typed = site.add("/a", ULAW, "audio/basic")
        by_path = site.add("/b.ulaw", ULAW, "application/octet-stream")
        neither = site.add("/c", ULAW, "application/octet-stream")
        in_query = site.add("/d", ULAW, "application/octet-stream") + "?f=x.ulaw"
        wav = site.add("/e", ULAW, "audio/x-wav; charset=binary")
        assert (await cache.retrieve(typed)).suffix == ".pcm"  # type: ignore[union-attr]
        assert (await cache.retrieve(by_path)).suffix == ".ulaw"  # type: ignore[union-attr]
        assert await cache.retrieve(neither) is None
        assert await cache.retrieve(in_query) is None
        assert (await cache.retrieve(wav)).suffix == ".wav"  # type: ignore[union-attr]


async def test_res_http_media_cache_bucket_file_run_curl_non_2xx_is_no_file(tmp_path: Path) -> None:
    site = Site()
    with serve(site):
        cache = MediaCache(tmp_path)
        refused = site.add("/x.ulaw", b"no", "text/plain", status=403)
        assert await cache.retrieve(refused) is None
        assert await cache.retrieve(site.url("/missing.ulaw")) is None
        assert [f[2] for f in cache.fetches] == [403, 404]


async def test_res_http_media_cache_is_stale_keeps_a_fresh_copy_and_refetches_without_cache_headers(
    tmp_path: Path,
) -> None:
    site = Site()
    with serve(site):
        cache = MediaCache(tmp_path)
        url = site.add("/p.ulaw", ULAW, "audio/basic")
        await cache.retrieve(url)
        await cache.retrieve(url)  # no Cache-Control, no Expires: stale at once, no ETag: fetched again
        assert site.hits["/p.ulaw"] == 2
        cache.entries[url].expires = 1e18  # as if max-age were long
        await cache.retrieve(url)
        assert site.hits["/p.ulaw"] == 2
