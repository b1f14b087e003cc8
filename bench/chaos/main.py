"""``python -m bench --only-chaos``: each scenario on a fresh cluster (PostgreSQL, a web
process, two workers, the channel's peers), faults at seeded random moments, then the
table. The seed is printed; ``--seed`` replays the same moments."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from bench.chaos.files import Files
from bench.chaos.runner import Scenario, Table, run
from bench.chaos.sms import Sms


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [Sms(normal=40, emergency=20, tps=10), Files(villages=12, pace_ms=400)]
    return [Sms(), Files(villages=60, pace_ms=800)]


def main(seed: int | None = None, times: int = 2, quick: bool = False) -> list[Table]:
    seed = seed if seed is not None else int(time.time()) % 100_000
    print(f"\nchaos suite: seed {seed} (replay: python -m bench --only-chaos --chaos-seed {seed}), each fault x{times}")
    rng = random.Random(seed)
    tables = []
    with tempfile.TemporaryDirectory(prefix="loa-chaos-") as tmp:
        for n, scenario in enumerate(scenarios(quick)):
            print(f"\nscenario: {scenario.name}", flush=True)
            table = run(scenario, Path(tmp) / f"s{n}", rng, times, lambda line: print(line, flush=True))
            print(table.show(), flush=True)
            tables.append(table)
    failed = [t.scenario for t in tables if not t.passed()]
    print(
        f"\nchaos: {len(tables) - len(failed)} of {len(tables)} scenarios passed"
        + (f"; failed: {failed}" if failed else "")
    )
    return tables
