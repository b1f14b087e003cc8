"""Calls under chaos: a bulletin to one village's subscribers by outbound call through
the Asterisk stand-in (``bench/chaos/asterisk.py``, its own process, its own Originate
log), while the harness kills the worker that dialled with calls up, restarts the
stand-in (every call and AMI connection dropped) and PostgreSQL. Some residents are
busy (retried ``call_retry_busy`` apart, up to ``max_attempts``).

From the stand-in's log: Originates per number (never more than ``max_attempts``), and
the calls in which the bulletin itself was played to its end (a call cut off in the middle
of it, the resident's hang-up or the FastAGI session's death, is not a hearing). From the ledger: every Originate has
its call attempt with a final outcome; a row ``delivered`` whose resident never heard
the bulletin is a loss; hearing it twice is a duplicate."""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

from bench.chaos.api import Officer, release
from bench.chaos.cluster import Cluster, Proc, printed_ready
from bench.chaos.runner import Table
from bench.chaos.smsc import read_log
from tests.support.server import free_port

BODY = "Sáng thứ hai, trạm y tế xã tiêm phòng dại cho chó mèo. Đề nghị bà con đưa vật nuôi đến đúng giờ."
MAX_ATTEMPTS = 3
DONE = "('delivered','failed','unknown','cancelled','expired')"


class Calls:
    name = "calls (Asterisk stand-in)"
    faults = ("worker", "asterisk", "postgres")
    workers = 2

    def __init__(self, numbers: int = 30, busy_every: int = 5, speed: float = 2.0) -> None:
        self.numbers = [f"+8491200{i:04d}" for i in range(numbers)]
        self.busy = {n for i, n in enumerate(self.numbers) if i % busy_every == busy_every - 1}
        self.speed = speed
        self.port = free_port()
        self.bulletin = 0

    def config(self, root: Path) -> str:
        self.log = root / "asterisk.jsonl"
        return (
            f'max_attempts = {MAX_ATTEMPTS}\nagi_secret = "chaos-agi"\ncall_cps = 4.0\ncall_retry_busy = "1s"\n'
            'call_retry_no_answer = "1s,1s"\ncall_congestion_backoff = "1s"\ncall_daily_cap = 0\n'
            '[quiet_hours.call]\nstart = "00:00"\nend = "00:00"\n'
            f'[[asterisk]]\nname = "xa"\nport = {self.port}\nusername = "loa"\nsecret = "s3cret"\nchannels = 4\n'
        )

    def add_peers(self, cluster: Cluster) -> None:
        scripts = {"0" + n[3:]: "busy" if n in self.busy else "answer" for n in self.numbers}
        agi = f"agi://127.0.0.1:{cluster.agi_ports[0]}"
        argv = [sys.executable, "-m", "bench.chaos.asterisk", str(self.port), str(self.log), agi, "chaos-agi"]
        argv += [str(self.speed), json.dumps(scripts)]
        cluster.peers["asterisk"] = Proc("asterisk", argv, cluster.root / "asterisk.out", ready=printed_ready)

    def release(self, cluster: Cluster, admin: Officer, approver: Officer) -> None:
        admin.ok("POST", "/api/v1/subscribers", json={"area": "T00", "phones": self.numbers})
        self.bulletin = release(admin, approver, "Tiêm phòng", BODY, [{"channel": "call", "area": "T00"}])

    def progress(self, cluster: Cluster) -> tuple[int, int, int]:
        sql = f"SELECT count(*) FROM deliveries WHERE bulletin_id = {self.bulletin} AND state IN {DONE}"
        done = int(cluster.pg.query(sql)[0][0])
        return done, len(self.numbers), done

    def victim(self, cluster: Cluster, rng: random.Random) -> int:
        """The worker that dialled a call still up, if any."""
        held = cluster.pg.query(
            "SELECT lease_owner FROM deliveries WHERE channel = 'call' AND state = 'in_progress' "
            "AND lease_owner IS NOT NULL LIMIT 1"
        )
        owner = held[0][0] if held else ""
        names = [w.env.get("LOA_WORKER_ID") for w in cluster.workers]
        return names.index(owner) if owner in names else rng.randrange(len(cluster.workers))

    def audit(self, cluster: Cluster) -> Table:
        entries = read_log(self.log)
        dialled = Counter("+84" + e["number"][1:] for e in entries if e["ev"] == "originate")
        calls = {e["call"]: "+84" + e["number"][1:] for e in entries if e["ev"] == "originate"}
        attempts = {
            call_id: (number, outcome, path)
            for call_id, number, outcome, path in cluster.pg.query(
                "SELECT call_id, number, outcome, coalesce(bulletin_path, '') FROM call_attempts"
            )
        }
        self._dump(cluster)
        paths = {number: path for number, _o, path in attempts.values() if path}
        heard: Counter[str] = Counter()  # calls in which the bulletin played to its end
        cut: Counter[str] = Counter()  # the bulletin started, the call ended before its end
        finished: dict[str, set[str]] = {}  # call -> files played to their end, as each ended
        for e in entries:
            if e["ev"] == "finished":
                finished.setdefault(e["uniqueid"], set()).add(Path(e["file"]).stem)
        for call_id, number in calls.items():
            path = paths.get(number)  # the render; Asterisk plays its copy under sounds/bulletins/
            if path and Path(path).stem in finished.get(call_id, set()):
                heard[number] += 1
        for e in entries:
            if e["ev"] == "ended":
                number = "+84" + e["number"][1:]
                path = paths.get(number)
                stems = {Path(p).stem for p in e["played"]}
                if path and Path(path).stem in stems and Path(path).stem not in finished.get(e["uniqueid"], set()):
                    cut[number] += 1
        rows = cluster.pg.query(f"SELECT target, state, detail FROM deliveries WHERE bulletin_id = {self.bulletin}")
        table = Table(self.name, len(self.numbers))
        table.losses += len(set(self.numbers) - {r[0] for r in rows})
        over = {n: c for n, c in dialled.items() if c > MAX_ATTEMPTS}
        table.duplicates += sum(c - 1 for c in heard.values() if c > 1) + sum(c - MAX_ATTEMPTS for c in over.values())
        for target, state, detail in rows:
            if state == "unknown":
                table.unknown.append((target, detail, f"stand-in: dialled {dialled[target]}, heard {heard[target]}"))
            elif state not in ("delivered", "failed", "cancelled", "expired"):
                table.stuck.append((target, state))
            elif state == "delivered" and not heard[target]:
                table.losses += 1
        no_outcome = [c for c in calls if c not in attempts or attempts[c][1] in ("dialing", "answered", "")]
        table.stuck += [(calls[c], f"call {c}: no outcome in the ledger") for c in no_outcome]
        reached = sum(1 for n in self.numbers if n not in self.busy and heard[n])
        state = {r[0]: (r[1], r[2]) for r in rows}
        for n in self.numbers:
            if n not in self.busy and not heard[n]:  # answering, never heard it: say what the ledger says
                table.notes.append(f"not heard: {n} ({dialled[n]} Originates): {state.get(n, ('no row', ''))}")
        table.notes.append(
            f"stand-in log: {sum(dialled.values())} Originates for {len(rows)} numbers (at most {MAX_ATTEMPTS} each: "
            f"{'yes' if not over else f'NO: {over}'}); bulletin heard by {reached} of "
            f"{len(self.numbers) - len(self.busy)} answering residents; busy ones: "
            f"{Counter(r[1] for r in rows if r[0] in self.busy)}; bulletin cut off before its end: "
            f"{sum(cut.values())} call(s)"
        )
        return table

    def _dump(self, cluster: Cluster) -> None:
        """The ledger next to the peers' logs (kept when a scenario fails): each row and each
        call attempt, as Loa recorded them."""
        rows = cluster.pg.query(
            "SELECT d.target, d.state, d.attempts, a.call_id, a.outcome, a.answered_at IS NOT NULL, "
            "a.connected_at IS NOT NULL, a.ivr_ended_at IS NOT NULL, a.ended_at IS NOT NULL, "
            "a.bulletin_complete, a.bulletin_samples, replace(a.detail, E'\\n', ' ') FROM deliveries d "
            f"LEFT JOIN call_attempts a ON a.delivery_id = d.id WHERE d.bulletin_id = {self.bulletin} "
            "ORDER BY d.target, a.id"
        )
        head = "number state attempts call outcome answered connected ivr_reported ended complete samples detail"
        lines = [head.replace(" ", "\t")] + ["\t".join(r) for r in rows]
        (cluster.root / "ledger.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
