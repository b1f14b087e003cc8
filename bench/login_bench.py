"""Login timing (issue 18): an unknown username costs what a known one costs, and the
event loop keeps running while passwords are hashed.

Prints, for an in-process gateway on SQLite driven over ASGI: the median and p90 time of
a failed login for a known user and for an unknown one, with the anchor of one scrypt
verification measured in the same run; and the longest stall of a 5 ms ticker on the
event loop during 16 logins in a row, against the same with scrypt on the loop's thread
(as before issue 18) and an idle ticker. ``python -m bench.login_bench``
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROUNDS = 40


async def _run(root: Path) -> None:
    import httpx

    from gateway import auth
    from gateway.app import build_services, create_app, start
    from gateway.config import Settings

    services = build_services(Settings(data_dir=root / "data"))
    await start(services)
    services.login_limiter = auth.LoginLimiter(per_user=10**6, per_address=10**6)
    app = create_app(services, run_worker=False)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    stored = auth.hash_password("mot-mat-khau-dai")
    anchor = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        auth.verify_password("sai-mat-khau", stored)
        anchor.append(time.perf_counter() - t)
    async with httpx.AsyncClient(transport=transport, base_url="http://loa.test") as client:

        async def login(username: str) -> float:
            t = time.perf_counter()
            r = await client.post("/api/v1/auth/login", json={"username": username, "password": "sai-mat-khau"})
            assert r.status_code == 401, r.text
            return time.perf_counter() - t

        await login("admin")  # warm-up (imports, the dummy hash)
        await login("khong-co-ai")
        known, unknown = [], []
        for n in range(ROUNDS):
            known.append(await login("admin"))
            unknown.append(await login(f"khong-co-ai-{n}"))

        async def stalled(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
            """(longest lateness of a 5 ms ticker, seconds taken) while ``work`` runs."""
            stall, running = 0.0, True

            async def ticker() -> None:
                nonlocal stall
                while running:
                    t = time.perf_counter()
                    await asyncio.sleep(0.005)
                    stall = max(stall, time.perf_counter() - t - 0.005)

            tick = asyncio.create_task(ticker())
            t = time.perf_counter()
            await work()
            taken = time.perf_counter() - t
            running = False
            await tick
            return stall, taken

        async def burst() -> object:
            return [await login("admin") for _ in range(16)]

        idle_stall, _ = await stalled(lambda: asyncio.sleep(1.0))
        off_stall, off_taken = await stalled(burst)

        async def on_loop(function: Callable[..., object], *args: str) -> object:
            return function(*args)  # what Loa did before: scrypt on the event loop's thread

        auth._off_loop = on_loop  # type: ignore[assignment]
        on_stall, on_taken = await stalled(burst)
    await services.engine.dispose()

    def ms(values: list[float]) -> str:
        q = statistics.quantiles(values, n=10)
        return f"median {statistics.median(values) * 1000:.1f} ms, p90 {q[-1] * 1000:.1f} ms"

    print(f"anchor: one scrypt verification (n=2^14, r=8): {ms(anchor)}")
    print(f"failed login, known user:   {ms(known)}")
    print(f"failed login, unknown user: {ms(unknown)}")
    print(f"anchor: 5 ms ticker with nothing else running, longest lateness {idle_stall * 1000:.1f} ms")
    print(
        f"16 logins in a row, hashing off the loop: {off_taken * 1000:.0f} ms, loop stalled {off_stall * 1000:.1f} ms"
    )
    print(
        f"16 logins in a row, hashing on the loop (before): {on_taken * 1000:.0f} ms, stalled {on_stall * 1000:.1f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(Path(tmp)))


if __name__ == "__main__":
    main()
