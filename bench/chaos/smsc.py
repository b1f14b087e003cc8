"""The chaos suite's SMSC: smpp34.Server in its own process, writing its own submit log.

Every submit_sm is appended to ``LOG`` (one JSON line: the message id, the destination,
the concatenation reference, part number and total from the UDH) before it is answered,
so a part counts as having reached the handset as soon as the SMSC saw it, the worst
case for duplicates. Each accepted part gets a delivery receipt (deliver_sm, SMPP 3.4
Appendix B) a moment later; like a real SMSC's store it is offered to any bound session,
again after a refusal or a dropped session, until one acknowledges it (``dlr`` line).
After a ``kill -9`` the restarted peer reads its log and offers every receipt not yet
acknowledged again, and numbers new ids after the old ones.

Usage: ``python -m bench.chaos.smsc PORT LOG``; prints "ready" once listening.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import smpp34

WINDOW = 20


def udh_part(payload: bytes, esm_class: int) -> tuple[int, int, int]:
    """(reference, part, total) of a concatenated part (IE 0x00 or 0x08), else (0, 1, 1)."""
    if not esm_class & 0x40 or not payload:
        return 0, 1, 1
    end, i = 1 + payload[0], 1
    while i + 1 < end:
        kind, size = payload[i], payload[i + 1]
        body = payload[i + 2 : i + 2 + size]
        if kind == 0x00 and size == 3:
            return body[0], body[2], body[1]
        if kind == 0x08 and size == 4:
            return body[0] << 8 | body[1], body[3], body[2]
        i += 2 + size
    return 0, 1, 1


def read_log(path: Path) -> list[dict[str, Any]]:
    """The log's complete lines (a kill -9 may leave the last one cut)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


class Peer:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.path = port, log
        old = read_log(log)
        submits = {e["id"]: e["to"] for e in old if e["ev"] == "submit"}
        acked = {e["id"] for e in old if e["ev"] == "dlr"}
        self.pending: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for message_id, to in submits.items():
            if message_id not in acked:
                self.pending.put_nowait((message_id, to))
        self.ids = itertools.count(len(submits) + 1)
        self.esmes: dict[str, smpp34.Esme] = {}
        self.log = log.open("a", encoding="utf-8")
        self.tasks: set[asyncio.Task[None]] = set()

    def write(self, entry: dict[str, Any]) -> None:
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()  # the process may be killed: the line is in the kernel's hands at once

    async def receipts(self) -> None:
        gate = asyncio.Semaphore(WINDOW)
        while True:
            item = await self.pending.get()
            await gate.acquire()
            task = asyncio.create_task(self._offer(item, gate))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _offer(self, item: tuple[str, str], gate: asyncio.Semaphore) -> None:
        message_id, to = item
        text = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:2611231200 done date:2611231201 stat:DELIVRD err:000 text:"
        )
        try:
            await asyncio.sleep(random.uniform(0.02, 0.3))  # the handset answers a moment later
            receivers = [e for e in self.esmes.values() if e.can_receive]
            if receivers:
                esme = random.choice(receivers)
                try:
                    resp = await asyncio.wait_for(
                        esme.deliver_sm("LOA", text.encode(), source_addr=to, esm_class=4), 10
                    )
                    if resp.command_status == 0:
                        self.write({"ev": "dlr", "id": message_id, "session": esme.session_id, "t": time.time()})
                        return
                except Exception:
                    pass
            await asyncio.sleep(0.3)
            self.pending.put_nowait(item)
        finally:
            gate.release()

    async def run(self) -> None:
        server = smpp34.Server("127.0.0.1", self.port, system_id="ChaosSMSC")
        for _ in range(100):  # the killed peer's socket may linger a moment
            try:
                await server.start()
                break
            except smpp34.SmppError:
                await asyncio.sleep(0.1)
        self.write({"ev": "start", "t": time.time()})
        print("ready", flush=True)
        pump = asyncio.create_task(self.receipts())
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                self.esmes[event.session_id] = event
            elif isinstance(event, smpp34.Unbound):
                self.esmes.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                message_id = format(0x100000 + next(self.ids), "x")
                payload = bytes(event.short_message)
                ref, part, total = udh_part(payload, event.esm_class)
                to = event.destination_addr
                entry = {"ev": "submit", "id": message_id, "to": to, "ref": ref, "part": part, "total": total}
                self.write({**entry, "session": event.session_id, "t": time.time()})
                event.accept(message_id)
                self.pending.put_nowait((message_id, to))
        pump.cancel()


if __name__ == "__main__":
    asyncio.run(Peer(int(sys.argv[1]), Path(sys.argv[2])).run())
