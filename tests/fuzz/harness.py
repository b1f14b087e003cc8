"""What every fuzz target shares: the crash rule and the budgets.

A crash is any exception other than the parser's own error type, or an example that runs
longer than ``LOA_FUZZ_EXAMPLE_SECONDS`` (a hang). ``make test`` runs the ``loa-test``
profile (a bounded number of examples per target); ``make fuzz`` drives the same targets
for ``LOA_FUZZ_SECONDS`` each (tests/fuzz/run.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from hypothesis import HealthCheck, settings

EXAMPLE_SECONDS = float(os.environ.get("LOA_FUZZ_EXAMPLE_SECONDS", "5"))

settings.register_profile(
    "loa-test",
    max_examples=int(os.environ.get("LOA_FUZZ_EXAMPLES", "200")),
    deadline=None,  # hangs are caught by the per-example alarm below, not by wall-clock noise
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
TEST = settings.get_profile("loa-test")


class Hang(BaseException):
    """An example ran past its time; a BaseException so that no ``except Exception`` in a
    parser can swallow it."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang(f"một ví dụ chạy quá {EXAMPLE_SECONDS:g} giây (treo)")


def survive(fn: Callable[..., Any], *args: Any, allowed: tuple[type[BaseException], ...]) -> Any:
    """``fn(*args)``; its own errors (``allowed``) return None, anything else propagates
    and fails the example, and so does running past ``EXAMPLE_SECONDS``."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, EXAMPLE_SECONDS)
    try:
        return fn(*args)
    except allowed:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# A fuzzer's dictionary: characters that parsers trip on (digits that str.isdigit accepts
# but int() refuses, other scripts' digits, separators, quotes, control characters).
TRICKY = "0123456789²³¹⁰₀①٣߀०\x00\r\n\t \"'\\:;=%&?/<>#*+-.,é"


def text(max_size: int = 40) -> Any:
    from hypothesis import strategies as st

    return st.text(alphabet=st.characters() | st.sampled_from(TRICKY), max_size=max_size)
