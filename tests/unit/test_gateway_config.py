from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import in_quiet_hours, next_occurrence, parse_recurrence
from gateway.config import ConfigError, load_settings


def test_defaults_are_the_embedded_ones() -> None:
    s = load_settings(None, env={})
    assert s.db_url.startswith("sqlite+aiosqlite:///") and s.port == 8080 and s.host == "127.0.0.1"
    assert s.voice == "vi-espeak" and s.outbox == Path("data/outbox")


def test_every_wrong_key_and_value_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "loa.toml"
    cfg.write_text('port = "tám"\nvoise = "x"\nrole = "boss"\n[quiet_hours.sms]\nstart = "25:00"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={"LOA_LEASE_SECONDS": "abc"})
    text = "\n".join(err.value.problems)
    for expected in (
        "port: phải là số nguyên",
        "voise: khóa không được hỗ trợ",
        "quiet_hours.sms.start",
        "lease_seconds: phải là số nguyên",
    ):
        assert expected in text


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "loa.toml"
    cfg.write_text("port = 9000\n", encoding="utf-8")
    assert load_settings(cfg, env={"LOA_PORT": "9100"}).port == 9100


def test_config_check_command(tmp_path: Path) -> None:
    cfg = tmp_path / "loa.toml"
    cfg.write_text('database_url = "mysql://x"\nport = 70000\n', encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "config", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert out.returncode == 2
    assert "port: phải từ 1 đến 65535" in out.stdout and "database_url" in out.stdout


def test_daily_programme_next_occurrences_in_vietnam_time() -> None:
    assert [t.strftime("%H:%M") for t in parse_recurrence("daily 17:00,06:00")] == ["06:00", "17:00"]
    after = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội
    assert next_occurrence("daily 06:00,17:00", after) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    late = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 18:00 in Hà Nội
    assert next_occurrence("daily 06:00,17:00", late) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert next_occurrence("", after) is None
    for bad in ("weekly 06:00", "daily 25:00", "daily"):
        with pytest.raises(WorkflowError) as err:
            parse_recurrence(bad)
        assert (err.value.field == "recurrence" and "GG:PP" in err.value.message) or "daily" in err.value.message


def test_quiet_hours_cross_midnight() -> None:
    night = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 23:00 in Hà Nội
    assert in_quiet_hours(night, "21:00", "06:00") == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    early = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 04:30 next day
    assert in_quiet_hours(early, "21:00", "06:00") == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    day = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00
    assert in_quiet_hours(day, "21:00", "06:00") is None
    assert in_quiet_hours(day, "09:00", "11:00") == datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def test_config_check_prints_the_kannel_callback_key(tmp_path: Path) -> None:
    from gateway.sms.kannel import callback_key

    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("s3cret", encoding="utf-8")
    env = {**os.environ, "LOA_DATA_DIR": str(data), "LOA_KANNEL_SENDSMS_URL": "http://127.0.0.1:13013/cgi-bin/sendsms"}
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "config", "check"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and callback_key("s3cret") in out.stdout


def test_sample_config_is_valid() -> None:
    sample = Path(__file__).resolve().parents[2] / "conf" / "loa.toml"
    assert load_settings(sample, env={}).port == 8080
