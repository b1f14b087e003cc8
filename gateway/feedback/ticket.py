"""Ticket codes: 8 digits, the last a Damm check digit.

Digits only, so a resident can key it on a basic phone and the hotline can read it back
digit by digit; the Damm check digit catches every single wrong digit and every swap of
two neighbouring digits, so a mistyped code is refused instead of opening someone
else's case.
"""

from __future__ import annotations

import secrets

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
LENGTH = 8


def check_digit(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def new_ticket() -> str:
    body = f"{secrets.randbelow(9 * 10 ** (LENGTH - 2)) + 10 ** (LENGTH - 2)}"  # no leading zero
    return body + str(check_digit(body))


def is_valid(code: str) -> bool:
    code = code.strip().replace(" ", "")
    return len(code) == LENGTH and code.isascii() and code.isdigit() and check_digit(code) == 0
