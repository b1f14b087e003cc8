"""Media over HTTP (issue 19): a 20-minute bulletin (9.6 MB of μ-law) fetched from Loa's
media endpoint over loopback as Asterisk's media cache does (GET, then a HEAD with
If-None-Match when its copy is stale), and the cost of checking a link's signature.
Run: ``PYTHONPATH=$PWD python -m bench.media_bench``."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from gateway.app import build_services, create_app
from gateway.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run() -> None:
    root = Path(tempfile.mkdtemp())
    port = free_port()
    s = Settings(data_dir=root, asterisk_media="http", asterisk_media_url=f"http://127.0.0.1:{port}")
    services = build_services(s)
    links = services.media_links
    assert links is not None
    (s.sounds_dir / "bulletins").mkdir(parents=True)
    (s.sounds_dir / "bulletins" / "b1.ulaw").write_bytes(b"\xff" * 8000 * 1200)
    app = create_app(services, run_worker=False)
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="error"))
    task = asyncio.create_task(web.serve())
    for _ in range(200):  # uvicorn has no event for it
        if web.started:
            break
        await asyncio.sleep(0.05)
    url = links.url("bulletins", "b1.ulaw")
    async with httpx.AsyncClient() as c:
        gets: list[float] = []
        heads: list[float] = []
        for _ in range(5):
            t = time.perf_counter()
            r = await c.get(url)
            gets.append(time.perf_counter() - t)
            t = time.perf_counter()
            h = await c.head(url, headers={"If-None-Match": r.headers["etag"]})
            heads.append(time.perf_counter() - t)
        if r.status_code != 200 or len(r.content) != 9_600_000 or h.status_code != 304:
            raise SystemExit(f"unexpected answers: GET {r.status_code} {len(r.content)} B, HEAD {h.status_code}")
    exp, sig = url.split("exp=")[1].split("&sig=")
    t = time.perf_counter()
    for _ in range(100_000):
        links.remaining("bulletins", "b1.ulaw", exp, sig)
    check = (time.perf_counter() - t) / 100_000
    print(f"GET 9.6 MB bulletin: median {sorted(gets)[2] * 1000:.1f} ms")
    print(f"HEAD If-None-Match (304): median {sorted(heads)[2] * 1000:.2f} ms")
    print(f"signature check: {check * 1e6:.1f} µs")
    web.should_exit = True
    await task
    await services.engine.dispose()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
