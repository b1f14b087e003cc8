"""``make fuzz``: every fuzz target for ``LOA_FUZZ_SECONDS`` per parser (default 600),
each in its own process, then a table of cases tried and crashes per parser.

The engine is atheris (libFuzzer, coverage-guided over ``gateway``) when it is installed,
else random byte strings; either way the bytes go through the target's Hypothesis
strategies (``fuzz_one_input``), so a crash is the same failure ``make test`` reports, and
Hypothesis keeps it in its example database (.hypothesis/) for the next ``make test``.
Usage: python -m tests.fuzz.run [--seconds N] [--engine atheris|random] [parser ...]
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def parsers() -> list[str]:
    return sorted(p.stem.removeprefix("test_fuzz_") for p in HERE.glob("test_fuzz_*.py"))


def targets(parser: str) -> list[str]:
    module = importlib.import_module(f"tests.fuzz.test_fuzz_{parser}")
    return [name for name, fn in vars(module).items() if name.startswith("test_") and hasattr(fn, "hypothesis")]


def _engine(name: str) -> str:
    if name != "auto":
        return name
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "random"
    return "atheris"


def child(parser: str, target: str, seconds: float, engine: str) -> None:
    """Runs in the subprocess: one target until the time is up or it crashes."""
    if engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["gateway"]):
            module = importlib.import_module(f"tests.fuzz.test_fuzz_{parser}")
        fuzz = getattr(module, target).hypothesis.fuzz_one_input
        # -timeout is libFuzzer's own hang limit, above the harness's per-example alarm.
        crashes = ROOT / ".hypothesis" / "atheris"
        crashes.mkdir(parents=True, exist_ok=True)
        argv = [sys.argv[0], f"-max_total_time={max(1, int(seconds))}", "-timeout=30", "-rss_limit_mb=3072"]
        argv.append(f"-artifact_prefix={crashes}/")
        atheris.Setup(argv, fuzz)
        atheris.Fuzz()
        return
    import random

    module = importlib.import_module(f"tests.fuzz.test_fuzz_{parser}")
    fuzz = getattr(module, target).hypothesis.fuzz_one_input
    rng = random.Random()
    end, cases = time.monotonic() + seconds, 0
    try:
        while time.monotonic() < end:
            fuzz(rng.randbytes(rng.choice((16, 64, 256, 1024, 4096))))
            cases += 1
    finally:
        print(f"Done {cases} runs", file=sys.stderr, flush=True)


def run_target(parser: str, target: str, seconds: float, engine: str) -> tuple[int, bool, str]:
    """(cases, crashed, the last lines of its output)."""
    command = [sys.executable, "-m", "tests.fuzz.run", "--child", f"{parser}:{target}", "--seconds", str(seconds)]
    command += ["--engine", engine]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 300)
    output = done.stdout + done.stderr
    runs = re.findall(r"Done (\d+) runs", output)
    cases = int(runs[-1]) if runs else 0
    if engine == "atheris" and not runs:  # a crash: libFuzzer reports how far it got instead
        execs = re.findall(r"#(\d+)\s", output)
        cases = int(execs[-1]) if execs else 0
    lines = output.strip().splitlines()
    first = next((n for n, line in enumerate(lines) if "Uncaught Python exception" in line), len(lines) - 40)
    return cases, done.returncode != 0, "\n".join(lines[max(0, first) :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parsers", nargs="*", help=f"default: all ({', '.join(parsers())})")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOA_FUZZ_SECONDS", "600")))
    engines = ("auto", "atheris", "random")
    parser.add_argument("--engine", choices=engines, default=os.environ.get("LOA_FUZZ_ENGINE", "auto"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    engine = _engine(args.engine)
    if args.child:
        name, _, target = args.child.partition(":")
        child(name, target, args.seconds, engine)
        return 0
    chosen = args.parsers or parsers()
    print(f"fuzzing {len(chosen)} parsers, {args.seconds:g} s each, engine {engine}", flush=True)
    rows: list[tuple[str, int, int, float]] = []
    failed = False
    for name in chosen:
        names = targets(name)
        share = args.seconds / len(names)
        started, total, crashes = time.monotonic(), 0, 0
        for target in names:
            cases, crashed, tail = run_target(name, target, share, engine)
            total += cases
            print(f"  {name}.{target}: {cases} cases{'  CRASH' if crashed else ''}", flush=True)
            if crashed:
                crashes += 1
                print(tail, flush=True)
        rows.append((name, total, crashes, time.monotonic() - started))
        failed |= crashes > 0
    print(f"\n{'parser':<14}{'cases':>12}{'crashes':>9}{'seconds':>9}")
    for name, total, crashes, seconds in rows:
        print(f"{name:<14}{total:>12}{crashes:>9}{seconds:>9.0f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
