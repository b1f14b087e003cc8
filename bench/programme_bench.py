"""Programme rendering (issue #8): a programme of about 15 minutes built from the shared
corpus, rendered and assembled (jingles, greeting with the date, bridges, closing,
loudspeaker WAV + telephone μ-law + MP3) with the default voice and with a neural voice.
Targets: well under a minute with the default voice, less than its own length with a
neural one, the first item heard (in the MP3 that grows while the programme renders, what
the console plays) long before the whole is done. Anchor, same run and voice: the
engine rendering the same text as one plain file (what any bulletin costs).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LOA_SHARED_DIR", ROOT.parent / "shared"))
TARGET_CHARS = 11_500  # about 15 minutes read aloud


def _items() -> list[tuple[str, str]]:
    """Corpus paragraphs grouped into news items, up to about 15 minutes of text."""
    items: list[tuple[str, str]] = []
    total = 0
    for path in sorted((SHARED / "corpus").glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        title, paragraphs = lines[0], lines[1:]
        for n in range(0, len(paragraphs), 3):
            body = " ".join(paragraphs[n : n + 3])
            items.append((title if n == 0 else f"{title} (tiếp theo)", body))
            total += len(body)
            if total >= TARGET_CHARS:
                return items
    return items


async def _run(voice: str, root: Path) -> dict[str, float]:
    from gateway.bulletins.pronunciations import Pronunciations
    from gateway.bulletins.render import PURPOSES, Renderer
    from gateway.db.models import ProgrammeTemplate
    from gateway.programmes.assemble import GAP_SECONDS, assemble
    from gateway.programmes.items import Item, segments_for
    from gateway.storage.artifacts import ArtifactStore
    from tts.cache import PhraseCache

    items = [Item(n, title, body) for n, (title, body) in enumerate(_items(), 1)]
    template = ProgrammeTemplate(name="Bản tin sáng", greeting="", closing="", bridge="", jingle=True)
    segments = segments_for(template, items, datetime.now().astimezone())

    def renderer(name: str) -> Renderer:
        return Renderer(ArtifactStore(root / name), Pronunciations(root / "p.tsv"), PhraseCache(root / f"{name}-cache"))

    plain = renderer("anchor")
    synth = await plain.synthesizer(voice, "render")
    started = time.perf_counter()
    _, settings = PURPOSES["loudspeaker"]
    anchor = await synth.arender("\n".join(s.text for s in segments), root / "anchor.wav", settings)
    anchor_wall = time.perf_counter() - started

    compiled = renderer("programme")
    await compiled.synthesizer(voice, "render")  # loaded before the clock starts, as in the running gateway
    first_item: list[float] = []
    item_end: list[float] = []
    out = root / "out"
    mp3 = out / "programme.mp3"
    started = time.perf_counter()

    rendered = asyncio.Event()

    def seen(_n: int, segment: object, at: float) -> None:
        if getattr(segment, "item", None) is not None and not first_item:
            first_item.append(time.perf_counter() - started)
            item_end.append(at - GAP_SECONDS)
            rendered.set()

    async def audible() -> float:
        """When the growing MP3 (64 kbit/s: 8,000 bytes a second) holds all of item 1."""
        await rendered.wait()
        need = item_end[0] * 8000 + 1000  # plus the ID3 tag and the encoder's info frame
        while True:
            if mp3.exists() and mp3.stat().st_size >= need:
                return time.perf_counter() - started
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(audible())
    audio = await assemble(compiled, voice, segments, out, True, seen)
    wall = time.perf_counter() - started
    heard = await asyncio.wait_for(watcher, 5) if audio.web is not None else float("nan")
    return {
        "items": len(items),
        "chars": sum(len(s.text) for s in segments),
        "duration": audio.duration,
        "wall": wall,
        "first_item": first_item[0] if first_item else float("nan"),
        "first_heard": heard,
        "anchor_wall": anchor_wall,
        "anchor_duration": anchor.duration_seconds,
        "mp3": 1.0 if audio.web is not None else 0.0,
    }


def run(voice: str, label: str, target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(_run(voice, Path(tmp)))
    print(f"\n== programme, {label}: {int(r['items'])} items, {int(r['chars'])} characters ==")
    print(
        f"  programme {r['duration'] / 60:.1f} min (WAV + μ-law{' + MP3' if r['mp3'] else ''}) rendered and assembled"
        f" in {r['wall']:.1f} s (RTF {r['wall'] / r['duration']:.3f})"
    )
    print(
        f"  first item rendered after {r['first_item']:.1f} s, all of it in the MP3 a listener follows"
        f" after {r['first_heard']:.1f} s ({r['first_heard'] / r['wall'] * 100:.0f} % of the whole)"
    )
    print(
        f"  anchor: the engine rendering the same text as one WAV {r['anchor_wall']:.1f} s for"
        f" {r['anchor_duration'] / 60:.1f} min (RTF {r['anchor_wall'] / r['anchor_duration']:.3f});"
        f" programme/anchor {r['wall'] / r['anchor_wall']:.2f}x"
    )
    print(f"  target: {target}")


def main(neural_voice: Path | None = None) -> None:
    run("vi-espeak", "default voice vi-espeak", "well under a minute")
    if neural_voice is not None:
        run(str(neural_voice), f"neural voice ({neural_voice.name})", "less than the programme's own length (RTF < 1)")
    else:
        print("\nprogramme with a neural voice: skipped (the shared vietTTS fixtures were not found)")
