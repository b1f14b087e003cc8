"""``make fuzz`` itself: it drives every target of a parser and prints the cases it tried."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.fuzz.run import parsers, targets

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_parser_module_has_targets_make_fuzz_can_drive() -> None:
    names = parsers()
    assert {"agi", "ami", "cap", "device_api", "flows", "kannel", "recordings", "smpp"} <= set(names)
    assert all(targets(name) for name in names)


def test_make_fuzz_prints_the_cases_tried_per_parser() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "tests.fuzz.run", "--seconds", "2", "--engine", "random", "agi"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    row = re.search(r"^agi\s+(\d+)\s+(\d+)\s+\d+$", done.stdout, re.MULTILINE)
    assert row is not None, done.stdout
    assert int(row[1]) > 0 and int(row[2]) == 0
