"""Signed media URLs for Asterisk (gateway/ivr/media.py) and the rule that HTTP media needs
ARI on every Asterisk (gateway/config.py)."""

from __future__ import annotations

import pytest

from gateway.config import AsteriskServer, ConfigError, Settings, _validate, load_settings
from gateway.ivr.media import MediaLinks, media_key


def test_links_in_one_window_are_the_same_url_so_asterisks_cache_keeps_one_copy() -> None:
    now = [1_000_000.0]
    links = MediaLinks("http://loa:8080/", media_key("k"), 3600, lambda: now[0])
    first = links.url("prompts", "abc.ulaw")
    now[0] += 60
    assert links.url("prompts", "abc.ulaw") == first
    assert first.startswith("http://loa:8080/asterisk/media/prompts/abc.ulaw?exp=")
    assert "." not in first.split("?", 1)[1]  # res_http_media_cache reads the extension from the path
    expires, sig = first.split("exp=")[1].split("&sig=")
    assert 3600 <= links.remaining("prompts", "abc.ulaw", expires, sig) <= 7200  # type: ignore[operator]
    assert links.remaining("bulletins", "abc.ulaw", expires, sig) is None
    assert links.remaining("prompts", "abc.ulaw", str(int(expires) + 1), sig) is None
    assert MediaLinks("http://loa", media_key("other"), 3600, lambda: now[0]).remaining(
        "prompts", "abc.ulaw", expires, sig
    ) is None
    now[0] = float(expires)
    assert links.remaining("prompts", "abc.ulaw", expires, sig) is None  # expired


def test_a_name_outside_the_servable_pattern_gets_no_link() -> None:
    links = MediaLinks("http://loa", media_key("k"))
    for kind, name in (("prompts", "../x.ulaw"), ("prompts", "x.mp3"), ("spool", "x.ulaw")):
        with pytest.raises(ValueError):
            links.url(kind, name)


def test_http_media_needs_ari_on_every_asterisk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(asterisk_media="http", asterisk=(AsteriskServer("xa"),))
    assert any(p.startswith("asterisk[0].ari_url:") for p in _validate(settings))
    everywhere = Settings(asterisk_media="http", host="0.0.0.0")
    assert any(p.startswith("asterisk_media_url:") for p in _validate(everywhere))  # http://0.0.0.0 reaches nobody
    assert Settings(asterisk_media="http", host="0.0.0.0", asterisk_media_url="http://10.0.0.5:8080").media_url == (
        "http://10.0.0.5:8080"
    )
    config = tmp_path / "loa.toml"
    config.write_text('asterisk_media = "http"\n[[asterisk]]\nname = "xa"\nari_url = "ftp://x"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert any("ari_url" in p for p in caught.value.problems)
