"""The voices and speaking speeds a bulletin may use: the voices installed on this server
(``loa voices``), at one of the offered speeds (:data:`tts.voices.registry.SPEEDS`)."""

from __future__ import annotations

from gateway.bulletins.errors import WorkflowError

SPEED_LABELS = {0.8: "Rất chậm", 0.9: "Chậm", 1.0: "Bình thường", 1.1: "Nhanh", 1.2: "Rất nhanh"}


def choices() -> list[tuple[str, str, bool]]:
    """(voice id, name, whether its speed can change) of every installed voice."""
    from tts.voices.registry import list_voices

    return [(info.id, info.name or info.id, info.kind in ("espeak", "piper")) for info, _ in list_voices()]


def check(voice: str, speed: float) -> None:
    """A configured voice at an offered speed, or the field and the rule in Vietnamese."""
    from tts.voices.base import VoiceError
    from tts.voices.registry import at_speed, resolve

    try:
        info, _folder = resolve(voice)
    except VoiceError as exc:
        raise WorkflowError("voice", str(exc), 422) from exc
    try:
        at_speed(info, speed)
    except VoiceError as exc:
        raise WorkflowError("speed", str(exc), 422) from exc
