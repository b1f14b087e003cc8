"""``python -m bench --only-chaos``: each scenario on a fresh cluster (PostgreSQL, a web
process, two workers, the channel's peers), faults at seeded random moments, then the
table. The seed is printed; ``--chaos-seed`` replays the same moments (the processes'
own timing still varies from run to run)."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.chaos.calls import Calls
from bench.chaos.files import Files
from bench.chaos.runner import Scenario, Table, run
from bench.chaos.sms import Sms
from bench.chaos.speakers import Speakers


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [
            Sms(normal=30, emergency=10, tps=2),
            Files(villages=16, pace_ms=1500),
            Speakers(devices=2, bulletins=4, play_s=4.0),
            Calls(numbers=16, speed=2.0),
        ]
    return [
        Sms(normal=200, emergency=60, tps=6),
        Files(villages=40, pace_ms=3000),
        Speakers(devices=3, bulletins=6, play_s=8.0),
        Calls(numbers=40, speed=1.0),
    ]


def main(seed: int | None = None, times: int = 2, quick: bool = False, only: str = "") -> list[Table]:
    seed = seed if seed is not None else int(time.time()) % 100_000
    print(f"\nchaos suite: seed {seed} (replay: python -m bench --only-chaos --chaos-seed {seed}), each fault x{times}")
    rng = random.Random(seed)
    tables = []
    tmp = Path(tempfile.mkdtemp(prefix="loa-chaos-"))
    for n, scenario in enumerate(scenarios(quick)):
        if only and only.casefold() not in scenario.name.casefold():
            continue
        print(f"\nscenario: {scenario.name}", flush=True)
        table = run(scenario, tmp / f"s{n}", rng, times, lambda line: print(line, flush=True))
        print(table.show(), flush=True)
        tables.append(table)
    failed = [t.scenario for t in tables if not t.passed()]
    if failed:
        print(f"\nlogs of the processes and peers kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    verdict = f"; failed: {failed}" if failed else ""
    print(f"\nchaos: {len(tables) - len(failed)} of {len(tables)} scenarios passed{verdict}")
    return tables
