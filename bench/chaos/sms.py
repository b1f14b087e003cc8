"""SMS under chaos: a 2-part accented bulletin to one village's subscribers (normal
priority: at most once) and another to a second village's (emergency: at least once),
through the SMSC of ``bench/chaos/smsc.py``, which logs every submit_sm it sees.

From that log: parts per number. A part seen twice is a duplicate, unless the bulletin
is an emergency and the earlier copy's message id never reached the ledger (its
submit_sm_resp was lost: resent by Loa's stated policy, docs/sms.md). A number whose row
says delivered or sent while a part never reached the SMSC is a loss; an ``unknown`` row
is listed with the ledger's reason and what the SMSC actually got. Rows still ``sent``
at the end (no receipt applied) are stuck: the SMSC redelivers every receipt until
acknowledged."""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from pathlib import Path

from bench.chaos.api import Officer, release
from bench.chaos.cluster import Cluster, Proc, printed_ready
from bench.chaos.runner import Table
from bench.chaos.smsc import read_log
from tests.support.server import free_port

TEXT = (
    "Thông báo: lịch cắt điện ngày mai từ 7 giờ đến 11 giờ tại thôn Đông, xã Hòa Bình. "
    "Đề nghị bà con chủ động."
)  # 2 UCS-2 parts
DONE = "('delivered','failed','unknown','cancelled','expired')"


class Sms:
    name = "SMS (SMPP)"
    faults = ("worker", "web", "smsc", "postgres")
    workers = 2

    def __init__(self, normal: int = 300, emergency: int = 100, tps: int = 20) -> None:
        self.counts = {"T00": normal, "T01": emergency}
        self.tps = tps
        self.port = free_port()
        self.bulletins: dict[int, str] = {}
        self.numbers: dict[str, list[str]] = {}

    def config(self, root: Path) -> str:
        self.log = root / "smsc.jsonl"
        return (
            f'sms_transport = "smpp"\nsmpp_host = "127.0.0.1"\nsmpp_port = {self.port}\nsmpp_system_id = "loa"\n'
            f'smpp_password = "chaos"\nsms_tps = {self.tps}\nsms_daily_cap = 0\n'
            '[quiet_hours.sms]\nstart = "00:00"\nend = "00:00"\n'
        )

    def add_peers(self, cluster: Cluster) -> None:
        argv = [sys.executable, "-m", "bench.chaos.smsc", str(self.port), str(self.log)]
        cluster.peers["smsc"] = Proc("smsc", argv, cluster.root / "smsc.out", ready=printed_ready)

    def release(self, cluster: Cluster, admin: Officer, approver: Officer) -> None:
        for n, (area, count) in enumerate(self.counts.items()):
            phones = [f"+8491{n}{i:06d}" for i in range(count)]
            self.numbers[area] = phones
            answer = admin.ok("POST", "/api/v1/subscribers", json={"area": area, "phones": phones})
            if answer.get("rejected"):
                raise RuntimeError(f"subscribers refused: {answer['rejected'][:3]}")
        targets = [{"channel": "sms", "area": "T00"}]
        self.bulletins[release(admin, approver, "Cắt điện", TEXT, targets, "normal", TEXT)] = "T00"
        targets = [{"channel": "sms", "area": "T01"}]
        self.bulletins[release(admin, approver, "Bão khẩn", TEXT, targets, "emergency", TEXT)] = "T01"

    def _ids(self) -> str:
        return ",".join(map(str, self.bulletins))

    def progress(self, cluster: Cluster) -> tuple[int, int, int]:
        """Rows done; activity: parts the SMSC has taken (its own log), since a batch's
        rows are reported together at its end."""
        sql = f"SELECT count(*) FROM deliveries WHERE bulletin_id IN ({self._ids()}) AND state IN {DONE}"
        taken = sum(1 for e in read_log(self.log) if e["ev"] == "submit")
        done = int(cluster.pg.query(sql)[0][0])
        return done, sum(self.counts.values()), taken + done

    def victim(self, cluster: Cluster, rng: random.Random) -> int:
        return rng.randrange(len(cluster.workers))

    def audit(self, cluster: Cluster) -> Table:
        copies: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        for entry in read_log(self.log):
            if entry["ev"] == "submit":
                copies[entry["to"].lstrip("+")][entry["part"]].append(entry["id"].lower())
        rows = cluster.pg.query(
            f"SELECT id, target, state, detail, priority FROM deliveries WHERE bulletin_id IN ({self._ids()})"
        )
        stored: dict[tuple[str, int], str] = {}
        for row_id, seq, message_id in cluster.pg.query(
            f"SELECT delivery_id, seq, message_id FROM sms_parts WHERE delivery_id IN "
            f"(SELECT id FROM deliveries WHERE bulletin_id IN ({self._ids()}))"
        ):
            stored[(row_id, int(seq))] = message_id.lower()
        table = Table(self.name, sum(self.counts.values()))
        expected = {phone for phones in self.numbers.values() for phone in phones}
        table.losses += len(expected - {r[1] for r in rows})  # a subscriber with no row
        never = 0  # unknown rows with a part the SMSC never saw: Loa could not tell planned from sent
        for row_id, target, state, detail, priority in rows:
            got = copies.get(target.lstrip("+"), {})
            for part, ids in got.items():
                if len(ids) > 1:
                    if priority == "2" and stored.get((row_id, part), "") in ids:
                        table.explained += len(ids) - 1
                    else:
                        table.duplicates += len(ids) - 1
            missing = [p for p in (1, 2) if p not in got]
            seen = f"SMSC log: parts {sorted(got) or 'none'} of 2"
            if state == "unknown":
                table.unknown.append((target, detail, seen))
                never += bool(missing)
            elif state not in ("delivered", "failed", "cancelled", "expired"):
                table.stuck.append((target, f"{state} ({seen})"))
            elif missing and state == "delivered":
                table.losses += 1
        parts = sum(len(ids) for got in copies.values() for ids in got.values())
        table.notes.append(f"SMSC log: {parts} submit_sm for {len(rows)} rows x 2 parts")
        if never:
            table.notes.append(
                f"{never} unknown row(s) lack a part the SMSC never received: it never left Loa, yet Loa cannot "
                "tell (the resident has part of the message, or none)"
            )
        return table
