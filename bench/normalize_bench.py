"""``python -m bench --only-normalize``: sentence error rate of Loa's normalizer and its anchors.

The set is tests/data/normalize_eval.tsv (class, written, expected readings separated by
" || "). A sentence is right when its output equals one expected reading after both are
lowercased, stripped of punctuation and of the regional variants every announcer accepts
(ngàn/nghìn, lẻ/linh, mồng/mùng). Lines after each "# --- held-out" marker were written
after the rules were tuned on the lines above it and are reported on their own.

Anchors: soe-vinorm and vietnormalizer run in their own venv (build/bench/norm-venv; they
pin numpy<2 and onnxruntime<1.20, which the project's venv must not take); a sentence on
which an anchor raises counts as a crash and as an error. espeak-ng gives phonemes, not
words: its reading of the raw text is compared with its reading of each expected text,
ignoring tone digits and stress marks (indicative only, see docs/normalization.md).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "data" / "normalize_eval.tsv"
VENV = ROOT / "build" / "bench" / "norm-venv"
RUNNER = Path(__file__).resolve().parent / "normalize_anchor_runner.py"
_VARIANTS = {"ngàn": "nghìn", "lẻ": "linh", "mồng": "mùng"}


@dataclass(frozen=True)
class Item:
    cls: str
    written: str
    expected: tuple[str, ...]
    held_out: int  # 0: tuned on; 1, 2: the held-out batches, in the order they were written


def load_set(path: Path = EVAL) -> list[Item]:
    items: list[Item] = []
    held_out = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("# --- held-out"):
            held_out += 1
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path.name}, dòng {number}: cần 3 cột cách nhau bằng TAB")
        alternatives = tuple(a.strip() for a in parts[2].split(" || ") if a.strip())
        items.append(Item(parts[0].strip(), parts[1], alternatives, held_out))
    return items


def canonical(text: str) -> str:
    words = re.sub(r"[^\w]+", " ", unicodedata.normalize("NFC", text).lower()).replace("_", " ").split()
    return " ".join(_VARIANTS.get(w, w) for w in words)


def is_right(output: str, item: Item) -> bool:
    got = canonical(output)
    return any(got == canonical(alt) for alt in item.expected)


# --- systems -------------------------------------------------------------------------
def run_loa(items: list[Item]) -> list[str | None]:
    from tts.text.normalizer import Normalizer

    normalizer = Normalizer()
    outputs: list[str | None] = []
    for item in items:
        try:
            outputs.append(normalizer.normalize(item.written))
        except Exception:  # counted as a crash, like the anchors'
            outputs.append(None)
    return outputs


def _anchor_venv() -> Path | str:
    py = VENV / "bin" / "python"
    if not py.exists():
        print("  creating the anchors' venv (soe-vinorm, vietnormalizer from PyPI) ...", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
        if made.returncode == 0:
            made = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "soe-vinorm", "vietnormalizer"], capture_output=True, text=True
            )
        if made.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            return f"could not be installed: {made.stderr.strip()[-200:]}"
    return py


def run_anchor(name: str, items: list[Item]) -> tuple[list[str | None], str]:
    py = _anchor_venv()
    if isinstance(py, str):
        return [None] * len(items), py
    request = json.dumps({"anchor": name, "sentences": [i.written for i in items]}, ensure_ascii=False)
    done = subprocess.run([str(py), str(RUNNER)], input=request, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return [None] * len(items), f"runner failed: {done.stderr.strip()[-300:]}"
    rows = json.loads(done.stdout)
    errors = [r["error"] for r in rows if "error" in r]
    note = f"{len(errors)} crashes; first: {errors[0]}" if errors else ""
    return [r.get("out") for r in rows], note


def _phonemes(text: str) -> str:
    done = subprocess.run(["espeak-ng", "-v", "vi", "-q", "-x"], input=text, capture_output=True, text=True)
    raw = done.stdout
    raw = re.sub(r"[\d',_|#!:\s]+", " ", raw).replace("I", "j")
    return " ".join(raw.split())


def run_espeak(items: list[Item]) -> tuple[list[bool] | None, str]:
    if shutil.which("espeak-ng") is None:
        return None, "espeak-ng not installed (apt-get install espeak-ng)"
    right = []
    for item in items:
        said = _phonemes(item.written)
        expected = {_phonemes(a) for a in item.expected}
        expected |= {_phonemes(a.replace("nghìn", "ngàn")) for a in item.expected if "nghìn" in a}
        right.append(said in expected)
    return right, "phonemes compared with tone digits and stress ignored"


# --- report --------------------------------------------------------------------------
def _rates(items: list[Item], right: list[bool]) -> tuple[float, dict[str, tuple[int, int]]]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, ok in zip(items, right, strict=True):
        per[item.cls][0] += 0 if ok else 1
        per[item.cls][1] += 1
    wrong = sum(1 for ok in right if not ok)
    return 100.0 * wrong / max(1, len(right)), {k: (v[0], v[1]) for k, v in per.items()}


def run(show_errors: int = 0, anchors: bool = True) -> dict[str, object]:
    items = load_set()
    classes = sorted({i.cls for i in items})
    print(f"normalizer evaluation: {len(items)} sentences, {len(classes)} classes ({EVAL.relative_to(ROOT)})")
    results: dict[str, tuple[list[bool], str]] = {}
    started = time.monotonic()
    loa = run_loa(items)
    loa_s = time.monotonic() - started
    crashes = sum(1 for o in loa if o is None)
    results["loa"] = ([o is not None and is_right(o, i) for o, i in zip(loa, items, strict=True)], f"{crashes} crashes")
    if anchors:
        for name in ("soe-vinorm", "vietnormalizer"):
            outs, note = run_anchor(name, items)
            results[name] = ([o is not None and is_right(o, i) for o, i in zip(outs, items, strict=True)], note)
        espeak, note = run_espeak(items)
        if espeak is not None:
            results["espeak-ng*"] = (espeak, note)
        else:
            print(f"  espeak-ng: {note}")
    names = list(results)
    print(f"\n{'class':<18}{'n':>5}" + "".join(f"{n:>16}" for n in names))
    per_system = {n: _rates(items, results[n][0]) for n in names}
    for cls in classes:
        row = f"{cls:<18}{per_system[names[0]][1][cls][1]:>5}"
        for n in names:
            wrong, total = per_system[n][1][cls]
            row += f"{100.0 * wrong / total:>15.1f}%"
        print(row)
    print(f"{'ALL (SER)':<18}{len(items):>5}" + "".join(f"{per_system[n][0]:>15.2f}%" for n in names))
    for batch in sorted({i.held_out for i in items} - {0}):
        held = [i for i in items if i.held_out == batch]
        line = f"{f'held-out {batch}':<18}{len(held):>5}"
        for n in names:
            ok = [r for r, i in zip(results[n][0], items, strict=True) if i.held_out == batch]
            line += f"{100.0 * sum(1 for r in ok if not r) / len(ok):>15.2f}%"
        print(line)
    print(f"\nLoa: {len(items) / loa_s:.0f} sentences/s on this machine")
    for n in names:
        if results[n][1]:
            print(f"  {n}: {results[n][1]}")
    if show_errors:
        shown = 0
        for item, out, ok in zip(items, loa, results["loa"][0], strict=True):
            if not ok and shown < show_errors:
                shown += 1
                print(f"  [{item.cls}] {item.written}\n     got: {out}\n    want: {item.expected[0]}")
    return {n: per_system[n][0] for n in names}
