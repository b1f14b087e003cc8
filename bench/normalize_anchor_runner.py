"""Runs one anchor normalizer over sentences; executed by the anchors' own venv (build/bench/norm-venv).

stdin: JSON {"anchor": "soe-vinorm" | "vietnormalizer", "sentences": [...]}.
stdout: JSON list, one {"out": text} or {"error": message} per sentence, in order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable


def load(anchor: str) -> Callable[[str], str]:
    if anchor == "soe-vinorm":
        from soe_vinorm import SoeNormalizer

        normalizer = SoeNormalizer()
        return normalizer.normalize  # type: ignore[no-any-return]
    if anchor == "vietnormalizer":
        from vietnormalizer import VietnameseNormalizer

        viet = VietnameseNormalizer()
        return viet.normalize  # type: ignore[no-any-return]
    raise SystemExit(f"unknown anchor {anchor}")


def main() -> None:
    request = json.load(sys.stdin)
    results: list[dict[str, str]] = []
    try:
        run = load(request["anchor"])
    except Exception as exc:  # the anchor could not start: every sentence is a crash
        message = f"{type(exc).__name__}: {str(exc)[:200]}"
        json.dump([{"error": message} for _ in request["sentences"]], sys.stdout)
        return
    for sentence in request["sentences"]:
        try:
            results.append({"out": str(run(sentence))})
        except Exception as exc:  # one crash per sentence, counted by the bench
            results.append({"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
