"""One chaos scenario from start to table: the cluster is started, the campaign
released, faults are injected at random moments (a seeded ``random.Random``), each
fault several times, then the campaign is left to settle and the scenario reads the
peers' own logs and the ledger.

A fault is injected only while the campaign is still running, and the next one waits
until the campaign has made progress again after it: the time from a fault to that
progress is its time to recover."""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.chaos.api import Officer, seed
from bench.chaos.cluster import Cluster

SETTLE_S = 180.0  # after the last fault, at most this long for every row to be final
STALL_S = 90.0  # no progress for this long after a fault: the campaign does not recover


@dataclass
class Table:
    """What a scenario found. ``unknown``: (target, the ledger's reason, what the peer's
    log shows); ``stuck``: (target, state); ``explained`` counts the duplicates that
    Loa's stated policy allows (emergency SMS parts whose submit_sm_resp was lost)."""

    scenario: str
    targets: int
    duplicates: int = 0
    explained: int = 0
    losses: int = 0
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    stuck: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    recover_s: list[float] = field(default_factory=list)
    settle_s: float = 0.0
    seconds: float = 0.0

    def passed(self) -> bool:
        unexplained = [u for u in self.unknown if not u[1]]
        return not (self.duplicates or self.losses or self.stuck or unexplained)

    def show(self) -> str:
        faults = ", ".join(f"{name} x{count}" for name, count in self.faults.items())
        worst = max(self.recover_s, default=0.0)
        median = statistics.median(self.recover_s) if self.recover_s else 0.0
        lines = [
            f"\n{self.scenario}: {self.targets} targets; faults: {faults}",
            "  | duplicates | losses | unknown | stuck non-final | recover (median / worst) "
            "| settled after last fault |",
            "  | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"  | {self.duplicates} | {self.losses} | {len(self.unknown)} | {len(self.stuck)} | "
            f"{median:.1f} s / {worst:.1f} s | {self.settle_s:.1f} s |",
        ]
        if self.explained:
            policy = "at least once by policy (emergency, submit_sm_resp lost; docs/sms.md)"
            lines.append(f"  {policy}: {self.explained} extra part(s)")
        if len(self.unknown) <= 5:
            lines += [f"  unknown {t}: {reason or '(NO REASON)'} — {seen}" for t, reason, seen in self.unknown]
        else:  # grouped by the ledger's reason and what the peer's log shows
            groups = Counter((reason, seen) for _target, reason, seen in self.unknown)
            lines += [f"  unknown x{n}: {reason or '(NO REASON)'} — {seen}" for (reason, seen), n in groups.items()]
        lines += [f"  STUCK {target}: {state}" for target, state in self.stuck]
        lines += [f"  {note}" for note in self.notes]
        lines.append(f"  => {'PASS' if self.passed() else 'FAIL'} ({self.seconds:.0f} s)")
        return "\n".join(lines)


class Scenario(Protocol):
    name: str
    faults: tuple[str, ...]  # worker, web, postgres, or a peer's name
    workers: int

    def config(self, root: Path) -> str: ...
    def add_peers(self, cluster: Cluster) -> None: ...
    def release(self, cluster: Cluster, admin: Officer, approver: Officer) -> None: ...
    def progress(self, cluster: Cluster) -> tuple[int, int, int]: ...  # (rows done, rows expected, activity)
    def audit(self, cluster: Cluster) -> Table: ...
    def victim(self, cluster: Cluster, rng: random.Random) -> int: ...  # which worker to kill


def inject(cluster: Cluster, scenario: Scenario, fault: str, rng: random.Random) -> str:
    down = rng.uniform(0.2, 2.0)
    if fault == "postgres":
        cluster.pg.restart(down)
        return f"restart PostgreSQL (down {down:.1f} s)"
    if fault == "worker":
        index = scenario.victim(cluster, rng)
        proc = cluster.workers[index]
    elif fault == "web":
        proc = cluster.web
    else:
        proc = cluster.peers[fault]
    proc.kill9()
    time.sleep(down)
    proc.start()
    return f"kill -9 {proc.name} (down {down:.1f} s)"


def wait_progress(check: Callable[[], tuple[int, int, int]], after: int, within: float) -> bool:
    """Until the campaign's activity counter passes ``after`` (rows settled, or for SMS
    parts acknowledged by a receipt) or every row is done."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done, total, activity = check()
        if activity > after or (total and done >= total):
            return True
        time.sleep(0.2)
    return False


def run(scenario: Scenario, root: Path, rng: random.Random, times: int, log: Callable[[str], None]) -> Table:
    began = time.monotonic()
    cluster = Cluster(root, scenario.config(root), workers=scenario.workers)
    scenario.add_peers(cluster)
    try:
        cluster.start()
        admin, approver = seed(cluster.base, cluster.password, villages=40)
        scenario.release(cluster, admin, approver)
        admin.close()
        approver.close()
        plan = [fault for fault in scenario.faults for _ in range(times)]
        rng.shuffle(plan)
        check = lambda: scenario.progress(cluster)  # noqa: E731
        injected: dict[str, int] = {}
        recover: list[float] = []
        last = time.monotonic()
        for fault in plan:
            time.sleep(rng.uniform(0.3, 3.0))  # a random moment of the campaign
            done, total, activity = check()
            if total and done >= total:
                log(f"  campaign finished before '{fault}': {len(plan) - sum(injected.values())} fault(s) not injected")
                break
            last = time.monotonic()
            what = inject(cluster, scenario, fault, rng)
            injected[fault] = injected.get(fault, 0) + 1
            after = wait_progress(check, activity, STALL_S)
            took = time.monotonic() - last
            log(f"  {what}; progress again after {took:.1f} s ({check()[0]}/{total} rows done)")
            if not after:
                break
            recover.append(took)
        settled = wait_progress(lambda: _all(check), 0, SETTLE_S)
        settle_s = time.monotonic() - last if settled else float("inf")
        table = scenario.audit(cluster)
        table.faults, table.recover_s, table.settle_s = injected, recover, settle_s
        table.seconds = time.monotonic() - began
        return table
    finally:
        cluster.stop()


def _all(check: Callable[[], tuple[int, int, int]]) -> tuple[int, int, int]:
    done, total, _ = check()
    return (1, 1, 1) if total and done >= total else (0, 1, 0)
