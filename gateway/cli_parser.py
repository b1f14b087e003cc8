"""``argparse`` speaking Vietnamese: the usage line, the help headings and every error
the parser itself raises (a missing value, an unknown option, a wrong choice), for the
``loa`` command and all its subcommands.

argparse builds its messages in English (Python 3.11-3.13 wording, Lib/argparse.py);
each known message is rewritten here, and anything unforeseen keeps its text under a
Vietnamese prefix rather than failing.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, NoReturn

_TYPES = {"int": "số nguyên", "float": "số", "Path": "đường dẫn"}
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^the following arguments are required: (.*)$", r"thiếu tham số bắt buộc: \1"),
        (r"^unrecognized arguments: (.*)$", r"tham số không nhận ra: \1"),
        (
            r"^argument (\S+): invalid choice: (.*?) \(choose from (.*)\)$",
            r"tham số \1: lựa chọn không hợp lệ: \2 (chọn một trong: \3)",
        ),
        (r"^argument (\S+): expected one argument$", r"tham số \1 cần một giá trị"),
        (r"^argument (\S+): expected at least one argument$", r"tham số \1 cần ít nhất một giá trị"),
        (r"^argument (\S+): expected at most one argument$", r"tham số \1 nhận nhiều nhất một giá trị"),
        (r"^argument (\S+): expected (\d+) arguments?$", r"tham số \1 cần \2 giá trị"),
        (r"^argument (\S+): not allowed with argument (\S+)$", r"tham số \1 không dùng chung được với \2"),
        (r"^argument (\S+): ignored explicit argument (.*)$", r"tham số \1 không nhận giá trị \2"),
        (r"^ambiguous option: (\S+) could match (.*)$", r"tùy chọn \1 không rõ: có thể là \2"),
        (r"^one of the arguments (.*) is required$", r"cần một trong các tham số \1"),
        (r"^argument (\S+): (.*)$", r"tham số \1: \2"),  # a type function's own message
    )
)
_INVALID = re.compile(r"^argument (\S+): invalid (\w+) value: (.*)$")


def translate(message: str) -> str:
    """One argparse error message in Vietnamese."""
    invalid = _INVALID.match(message)
    if invalid is not None:
        arg, kind, value = invalid.groups()
        return f"tham số {arg}: giá trị không hợp lệ {value} (cần {_TYPES.get(kind, kind)})"
    for pattern, text in _RULES:
        if pattern.match(message):
            return pattern.sub(text, message)
    return message


class VietnameseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "cách dùng: " if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """Subparsers are made of the same class (argparse passes ``type(self)`` on)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", VietnameseHelpFormatter)
        add_help = kwargs.get("add_help", True)
        kwargs["add_help"] = False  # our own -h, with a Vietnamese line
        super().__init__(*args, **kwargs)
        self._positionals.title = "tham số"
        self._optionals.title = "tùy chọn"
        if add_help:
            self.add_argument("-h", "--help", action="help", help="in hướng dẫn này rồi thoát")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: lỗi: {translate(message)}\n")
