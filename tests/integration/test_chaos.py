"""The chaos suite, short (docs/chaos.md; the full one is ``python -m bench --only-chaos``):
an SMS campaign (normal and emergency) on PostgreSQL with a web process and two workers,
while a worker, the web process and the SMSC are killed with SIGKILL and PostgreSQL is
restarted, each once at a seeded random moment. Read from the SMSC's own submit log and
the ledger: no part twice (emergencies excepted where the SMSC's answer was lost, Loa's
stated policy), no number missed, no row left non-final, every ``unknown`` with its
reason. Timings are printed by the bench, never asserted here."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.chaos.runner import Table, run
from bench.chaos.sms import Sms

pytestmark = pytest.mark.timeout(300)


def check(table: Table) -> None:
    print(table.show())
    assert table.faults, "no fault was injected: the campaign ended before the first"
    assert table.duplicates == 0, table.show()
    assert table.losses == 0, table.show()
    assert table.stuck == [], table.show()
    assert all(reason for _target, reason, _seen in table.unknown), table.show()


def test_an_sms_campaign_survives_kill_9_of_a_worker_the_web_and_the_smsc_and_a_postgresql_restart(
    tmp_path: Path,
) -> None:
    table = run(Sms(normal=24, emergency=8, tps=2), tmp_path, random.Random(17), 1, print)
    check(table)
    assert sum(table.faults.values()) >= 3
