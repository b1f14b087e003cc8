"""Loudspeakers under chaos: several bulletins to every cluster of the commune, each
cluster run by the reference speaker agent (``loa speaker-agent``, its own process)
whose player appends the file it plays to the cluster's own play log, then plays for a
few seconds. Each cluster must play each bulletin exactly once (bulletins differ, so
their audio files do), and every row must end settled by the agent's reports."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

from bench.chaos.api import Officer, release
from bench.chaos.cluster import Cluster, Proc
from bench.chaos.runner import Table

DONE = "('delivered','failed','unknown','cancelled','expired')"
TOPICS = ["tiêm chủng", "cắt điện", "thu thuế", "vệ sinh môi trường", "phòng cháy", "học bơi", "hiến máu", "bầu cử"]


class Speakers:
    name = "loudspeakers (speaker agents)"
    faults = ("worker", "web", "postgres")
    workers = 2

    def __init__(self, devices: int = 4, bulletins: int = 6, play_s: float = 3.0) -> None:
        self.devices, self.count, self.play_s = devices, bulletins, play_s
        self.bulletins: list[int] = []

    def config(self, root: Path) -> str:
        return ""

    def add_peers(self, cluster: Cluster) -> None:
        return None  # the agents need their tokens: started in release()

    def release(self, cluster: Cluster, admin: Officer, approver: Officer) -> None:
        for i in range(self.devices):
            body = {"code": f"CUM-{i:02d}", "name": f"Cụm loa {i}", "area": f"T{i:02d}"}
            token = admin.ok("POST", "/api/v1/devices", json=body)["token"]
            state = cluster.root / f"agent{i}"
            plays = cluster.root / f"plays-{i:02d}.log"
            player = f"sh -c 'echo \"$1\" >> {plays}; sleep {self.play_s}' player {{file}}"
            argv = [sys.executable, "-m", "gateway.cli", "speaker-agent", "--server", cluster.base, "--token", token]
            argv += ["--state", str(state), "--player", player, "--wait", "5"]
            agent = Proc(f"agent{i}", argv, cluster.root / f"agent{i}.log")
            cluster.peers[agent.name] = agent
            agent.start()
        for n in range(self.count):
            topic = TOPICS[n % len(TOPICS)]
            text = f"Thông báo số {n + 1} về {topic}: ủy ban nhân dân xã đề nghị bà con thực hiện đúng hướng dẫn."
            targets = [{"channel": "loudspeaker", "area": "XA"}]
            self.bulletins.append(release(admin, approver, f"Thông báo {n + 1}", text, targets))

    def _ids(self) -> str:
        return ",".join(map(str, self.bulletins))

    def progress(self, cluster: Cluster) -> tuple[int, int, int]:
        sql = f"SELECT count(*) FROM deliveries WHERE bulletin_id IN ({self._ids()}) AND state IN {DONE}"
        done = int(cluster.pg.query(sql)[0][0])
        return done, self.devices * self.count, done

    def victim(self, cluster: Cluster, rng: random.Random) -> int:
        return rng.randrange(len(cluster.workers))

    def audit(self, cluster: Cluster) -> Table:
        table = Table(self.name, self.devices * self.count)
        rows = cluster.pg.query(f"SELECT target, state, detail FROM deliveries WHERE bulletin_id IN ({self._ids()})")
        total = 0
        for i in range(self.devices):
            log = cluster.root / f"plays-{i:02d}.log"
            plays = Counter(log.read_text().split()) if log.exists() else Counter()
            total += sum(plays.values())
            table.duplicates += sum(n - 1 for n in plays.values())
            mine = [r for r in rows if r[0] == f"CUM-{i:02d}"]
            settled = [r for r in mine if r[1] in ("failed", "unknown", "cancelled", "expired")]
            table.losses += max(0, self.count - len(plays) - len(settled))  # neither played nor explained
            table.losses += self.count - len(mine)  # no row at all
        for target, state, detail in rows:
            if state == "unknown":
                table.unknown.append((target, detail, "agent play log"))
            elif state not in ("delivered", "failed", "cancelled", "expired"):
                table.stuck.append((target, state))
        table.notes.append(f"agents' play logs: {total} plays for {len(rows)} rows")
        return table
