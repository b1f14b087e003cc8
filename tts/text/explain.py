"""Which written tokens the normalizer rewrote, into what, and by which class of rule.

``explain_line`` replays the rules of a :class:`~tts.text.normalizer.Normalizer` on one line
and aligns the tokens before and after each rule (difflib on whitespace tokens), so every
run of output words is traced back to the written tokens it came from and the rule that
rewrote it. The console's "what will be said" marks these runs, and a pronunciation
override limited to a class (``H.<TAB>hạt<TAB>address``) replaces a run only when that
class of rule produced it.

Alignment costs more than the rules themselves, so a line is explained in sentence-sized
chunks; a chunk with more than :data:`MAX_TOKENS` tokens and no sentence end is read
without tracing (no marks, class-limited overrides not applied there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

MAX_TOKENS = 400

# Rule (method name) -> class shown to the officer and usable in pronunciations.tsv.
RULE_CLASSES = {
    "override": "override",
    "web": "email_url",
    "tags": "hashtag_mention",
    "signs": "symbol",
    "identifiers": "identifier",
    "document_codes": "document_code",
    "phones": "phone",
    "long_digits": "identifier",
    "plates": "plate",
    "service_numbers": "service_number",
    "scores": "score",
    "addresses": "address",
    "rates": "rate",
    "dates": "date",
    "versions": "version",
    "coordinates": "coordinate",
    "fractions": "fraction",
    "ranges": "range",
    "times": "time",
    "colon_ratios": "ratio",
    "roman": "roman",
    "ordinals": "ordinal",
    "ratios": "ratio",
    "numbers": "number",
    "abbreviations": "abbreviation",
    "loanwords": "loanword",
    "upper_words": "acronym",
    "clean": "symbol",
}
CLASSES = frozenset(RULE_CLASSES.values())


@dataclass(frozen=True)
class Rewrite:
    """A run of output words, the written text it came from, and the class that rewrote it."""

    written: str
    spoken: str
    cls: str | None  # None: read as written


Step = tuple[str, Callable[[str], str]]


def _chunks(text: str) -> Iterable[str]:
    piece: list[str] = []
    for token in text.split():
        piece.append(token)
        if len(piece) >= 40 and token[-1] in ".!?;:":
            yield " ".join(piece)
            piece = []
    if piece:
        yield " ".join(piece)


Raw = tuple[str, str, "str | None"]  # written, spoken before the final clean-up (punctuation kept), class


def trace(text: str, steps: list[Step]) -> list[Raw] | None:
    """Runs of one prepared chunk as (written, raw spoken, class), or None when it is too long to trace."""
    cur = text.split()
    if len(cur) > MAX_TOKENS:
        return None
    groups = list(range(len(cur)))
    written = list(cur)
    classes: list[str | None] = [None] * len(cur)
    for name, rule in steps:
        new = rule(" ".join(cur)).split()
        if new == cur:
            continue
        new_groups: list[int] = []
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, cur, new, autojunk=False).get_opcodes():
            if tag == "equal":
                new_groups += groups[i1:i2]
                continue
            old = list(dict.fromkeys(groups[i1:i2]))
            written.append(" ".join(written[g] for g in old))
            classes.append(RULE_CLASSES.get(name, name))
            new_groups += [len(written) - 1] * (j2 - j1)
        cur, groups = new, new_groups
    out: list[Raw] = []
    for index, token in enumerate(cur):
        if out and groups[index - 1] == groups[index]:
            out[-1] = (out[-1][0], f"{out[-1][1]} {token}", out[-1][2])
        else:
            out.append((written[groups[index]], token, classes[groups[index]]))
    return out


def key(written: str) -> str:
    """How a written token is looked up in class-limited overrides: case and edge punctuation ignored."""
    return written.strip(".,;:!?()\"'“”").lower()


def apply_overrides(runs: list[Raw], overrides: dict[tuple[str, str], str]) -> list[Raw]:
    """Replace the runs a class-limited override names; the run's trailing pause mark is kept."""
    out: list[Raw] = []
    for written, raw, cls in runs:
        spoken = overrides.get((cls or "", key(written)))
        if spoken is not None:
            tail = re.search(r"[.,;:!?…]+$", raw)
            raw, cls = spoken + (tail[0] if tail else ""), RULE_CLASSES["override"]
        out.append((written, raw, cls))
    return out


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def _rewrite(run: Raw, clean: Callable[[str], str]) -> Rewrite:
    written, raw, cls = run
    spoken = _words(clean(raw))
    if cls is None and (spoken != _words(written.lower()) or (not spoken and written.strip())):
        cls = RULE_CLASSES["clean"]  # digits or symbols read (or dropped) by the final pass
    return Rewrite(written, spoken, cls)


def runs(text: str, steps: list[Step], overrides: dict[tuple[str, str], str]) -> list[Raw]:
    """Traced runs of a prepared line, chunk by chunk; an untraceable chunk is one unmarked run."""
    out: list[Raw] = []
    for chunk in _chunks(text):
        traced = trace(chunk, steps)
        if traced is None:
            spoken = chunk
            for _, rule in steps:
                spoken = rule(spoken)
            out.append((chunk, spoken, None))
        else:
            out += apply_overrides(traced, overrides)
    return out


def explain_text(
    text: str, steps: list[Step], clean: Callable[[str], str], overrides: dict[tuple[str, str], str]
) -> list[Rewrite]:
    return [_rewrite(run, clean) for run in runs(text, steps, overrides)]
