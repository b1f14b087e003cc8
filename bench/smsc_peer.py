"""A loopback SMSC for the SMS benchmark, in its own process so that it does not share a
CPU core's event loop with the client being measured: smpp34.Server accepting every
submit_sm. With ``receipts``, each accepted part is followed by its delivery receipt
(deliver_sm, SMPP 3.4 Appendix B text, esm_class 0x04), up to ``WINDOW`` outstanding per bind,
as a fast network reports handsets. Prints "ready" once listening; runs until killed."""

from __future__ import annotations

import asyncio
import sys

import smpp34

WINDOW = 10


async def _receipt(esme: smpp34.Esme, message_id: str, destination: str, gate: asyncio.Semaphore) -> None:
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2611231200 done date:2611231201 stat:DELIVRD err:000 text:"
    async with gate:
        for _ in range(20):  # the ESME answers ESME_RSYSERR while it cannot store: the SMSC redelivers
            try:
                resp = await esme.deliver_sm("LOA", text.encode(), source_addr=destination, esm_class=0x04)
            except Exception:
                return  # session gone
            if resp.command_status == 0:
                return
            await asyncio.sleep(0.5)


async def main(port: int, receipts: bool) -> None:
    server = smpp34.Server("127.0.0.1", port, system_id="BenchSMSC")
    await server.start()
    print("ready", flush=True)
    count = 0
    esmes: dict[str, smpp34.Esme] = {}
    gates: dict[str, asyncio.Semaphore] = {}  # a window of receipts per bind
    tasks: set[asyncio.Task[None]] = set()
    while True:
        event = await server.next()
        if isinstance(event, smpp34.Esme):
            esmes[event.session_id] = event
        elif isinstance(event, smpp34.SubmitSmEvent):
            count += 1
            message_id = format(count, "x")
            event.accept(message_id)
            esme = esmes.get(event.session_id)
            if receipts and esme is not None:
                gate = gates.setdefault(event.session_id, asyncio.Semaphore(WINDOW))
                task = asyncio.create_task(_receipt(esme, message_id, event.destination_addr, gate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), "receipts" in sys.argv[2:]))
