"""The file channel under chaos: one bulletin to every village (one file per target),
written slowly (``--file-pace-ms``) so that the faults fall mid-campaign.

Its peer's log is the filesystem: ``<outbox>/<area>/<bulletin>-<occurrence>-<row>.wav``
and ``.json`` per delivery, and ``journal.log``, one line per real write. A duplicate is
a row written twice; a loss is a target with no complete file pair."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from bench.chaos.api import Officer, release
from bench.chaos.cluster import Cluster
from bench.chaos.runner import Table

BODY = "Chiều nay 15 giờ 30 họp dân tại nhà văn hóa thôn, đề nghị mỗi hộ cử một người đến dự."


class Files:
    name = "file channel"
    faults = ("worker", "web", "postgres")
    workers = 2

    def __init__(self, villages: int = 40, pace_ms: int = 250) -> None:
        self.villages, self.pace_ms = villages, pace_ms
        self.bulletin = 0

    def config(self, root: Path) -> str:
        return ""

    def add_peers(self, cluster: Cluster) -> None:
        for worker in cluster.workers:
            worker.argv += ["--file-pace-ms", str(self.pace_ms)]

    def release(self, cluster: Cluster, admin: Officer, approver: Officer) -> None:
        targets = [{"channel": "file", "area": f"T{i:02d}"} for i in range(self.villages)]
        self.bulletin = release(admin, approver, "Họp dân", BODY, targets)

    def progress(self, cluster: Cluster) -> tuple[int, int, int]:
        (row,) = cluster.pg.query(
            "SELECT count(*) FILTER (WHERE state IN ('delivered','failed','unknown','cancelled','expired')), count(*) "
            f"FROM deliveries WHERE bulletin_id = {self.bulletin}"
        )
        return int(row[0]), self.villages, int(row[0])

    def victim(self, cluster: Cluster, rng: random.Random) -> int:
        return rng.randrange(len(cluster.workers))

    def audit(self, cluster: Cluster) -> Table:
        outbox = cluster.data / "outbox"
        journal = outbox / "journal.log"
        writes = Counter(journal.read_text().split()) if journal.exists() else Counter()
        rows = cluster.pg.query(f"SELECT id, target, state, detail FROM deliveries WHERE bulletin_id = {self.bulletin}")
        table = Table(self.name, self.villages)
        seen = {target for _id, target, _s, _d in rows}
        table.losses += len({f"T{i:02d}" for i in range(self.villages)} - seen)  # a target with no row at all
        for row_id, target, state, detail in rows:
            folder = outbox / target
            files = sorted(folder.glob(f"{self.bulletin}-*.wav")) if folder.exists() else []
            mine = [f for f in files if f.stem.endswith(f"-{row_id}")]
            complete = bool(mine) and mine[0].with_suffix(".json").is_file()
            table.duplicates += max(0, writes[row_id] - 1) + max(0, len(files) - 1)
            if state == "unknown":
                table.unknown.append((target, detail, f"files: {'complete' if complete else 'none'}"))
            elif state not in ("delivered", "failed", "cancelled", "expired"):
                table.stuck.append((target, state))
            elif not complete:
                table.losses += 1  # delivered in the ledger, no file
        table.notes.append(f"file writes: {sum(writes.values())} for {len(rows)} rows (journal.log)")
        return table
