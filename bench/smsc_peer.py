"""A loopback SMSC for the SMS benchmark, in its own process so that it does not share a
CPU core's event loop with the client being measured: smpp34.Server accepting every
submit_sm. Prints "ready" once listening; runs until killed."""

from __future__ import annotations

import asyncio
import sys

import smpp34


async def main(port: int) -> None:
    server = smpp34.Server("127.0.0.1", port, system_id="BenchSMSC")
    await server.start()
    print("ready", flush=True)
    count = 0
    while True:
        event = await server.next()
        if isinstance(event, smpp34.SubmitSmEvent):
            count += 1
            event.accept(format(count, "x"))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
