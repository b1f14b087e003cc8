"""The chaos suite's Asterisk: the test suite's stand-in (tests/support/asterisk.py, AMI
and the FastAGI client side, written from Asterisk's documentation) in its own process,
so that the harness can kill it as an Asterisk restart drops every call and connection.

It appends its own Originate log to ``LOG``: one ``originate`` line per Originate action
(the number dialled, Loa's call id, the ChannelId) written before dialling, and one
``ended`` line when the call ends (answered or not, the hang-up cause, what was played,
and what of it was played to its end), and one ``finished`` line as each file ends, so that
what was heard before the stand-in itself is killed is in the log too.

Usage: ``python -m bench.chaos.asterisk PORT LOG AGI_URL SECRET SPEED SCRIPTS_JSON``
(SCRIPTS_JSON maps a dialled number to an outcome of the stand-in: answer, busy...);
prints "ready" once listening.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.asterisk import Asterisk, CallLog, Script


class LoggingAsterisk(Asterisk):
    def __init__(self, log: Path, speed: float) -> None:
        super().__init__(speed=speed)
        self.journal = log.open("a", encoding="utf-8")
        self.watch: set[asyncio.Task[None]] = set()

    def note(self, entry: dict[str, Any]) -> None:
        self.journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.journal.flush()

    async def originate(self, action: dict[str, str]) -> tuple[bool, dict[str, str]]:
        number = action["channel"].split("/", 1)[1].split("@")[0]
        variables = dict(v.split("=", 1) for v in action.get("variable", "").split("\x00") if "=" in v)
        self.note(
            {
                "ev": "originate",
                "number": number,
                "call": variables.get("LOA_CALL", ""),
                "channelid": action.get("channelid", ""),
                "t": time.time(),
            }
        )
        answered, response = await super().originate(action)
        log = self.calls[response["Uniqueid"]] if response["Uniqueid"] in self.calls else None
        if log is not None:
            log.on_finished = lambda path, log=log: self.note(
                {"ev": "finished", "number": log.number, "uniqueid": log.uniqueid, "file": path, "t": time.time()}
            )
            task = asyncio.create_task(self._ended(log, answered))
            self.watch.add(task)
            task.add_done_callback(self.watch.discard)
        return answered, response

    async def _ended(self, log: CallLog, answered: bool) -> None:
        await log.ended.wait()
        entry = {"ev": "ended", "number": log.number, "uniqueid": log.uniqueid, "answered": answered}
        self.note({**entry, "cause": log.cause, "played": log.played, "finished": log.finished, "t": time.time()})


async def main(port: int, log: Path, agi: str, secret: str, speed: float, scripts: dict[str, str]) -> None:
    server = LoggingAsterisk(log, speed)
    server.write = {"originate", "reporting"}  # conf/asterisk/manager.conf
    server.scripts = {number: Script(outcome) for number, outcome in scripts.items()}
    server.dialplan.globals.update(LOA=agi, LOA_SECRET=secret)
    for _ in range(100):  # the killed stand-in's port may linger a moment
        try:
            await server.start(port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    server.note({"ev": "start", "t": time.time()})
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    port, path, agi, secret, speed, scripts = sys.argv[1:7]
    asyncio.run(main(int(port), Path(path), agi, secret, float(speed), json.loads(scripts)))
