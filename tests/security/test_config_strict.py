"""Issue 18, "Configuration and the command line": every ``loa.toml`` key and ``LOA_*``
variable is checked strictly (type, range, allowed values); nothing is coerced, unknown
keys are refused, and each problem names the key and the rule in Vietnamese."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings


def _problems(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> str:
    cfg = tmp_path / "loa.toml"
    cfg.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env=env or {})
    return "\n".join(err.value.problems)


def test_config_a_float_port_is_refused_not_truncated(tmp_path: Path) -> None:
    text = _problems(tmp_path, 'port = 8080.9\n[[asterisk]]\nname = "a"\nport = 5038.5\n')
    assert "port: phải là số nguyên (nhận được 8080.9)" in text
    assert "asterisk[0].port: phải là số nguyên" in text


def test_config_a_boolean_is_not_a_number(tmp_path: Path) -> None:
    text = _problems(tmp_path, "max_attempts = true\ncall_cps = false\n")
    assert "max_attempts: phải là số nguyên" in text
    assert "call_cps: phải là số" in text


def test_config_environment_values_are_parsed_strictly(tmp_path: Path) -> None:
    text = _problems(tmp_path, "", env={"LOA_PORT": "8080.9", "LOA_MAX_ATTEMPTS": "true", "LOA_CALL_CPS": "nhanh"})
    assert "LOA_PORT" in text and "port: phải là số nguyên" in text
    assert "max_attempts: phải là số nguyên" in text and "call_cps: phải là số" in text


def test_config_ranges_name_both_bounds(tmp_path: Path) -> None:
    text = _problems(tmp_path, "smpp_port = 0\nlease_seconds = 2\nsms_daily_cap = -1\nmodem_poll_seconds = 0\n")
    assert "smpp_port: phải từ 1 đến 65535" in text
    assert "lease_seconds: phải từ 5 đến" in text
    assert "sms_daily_cap: phải từ 0 đến" in text
    assert "modem_poll_seconds: phải từ 1 đến" in text


def test_config_allowed_values_are_listed(tmp_path: Path) -> None:
    text = _problems(tmp_path, 'role = "boss"\nsms_transport = "pigeon"\nsmpp_number_format = "x"\n')
    assert "role: phải là một trong: all, web, worker" in text
    assert "sms_transport: phải là một trong:" in text and "smpp" in text
    assert "smpp_number_format: phải là một trong: international, national" in text


def test_config_strings_and_paths_are_not_numbers(tmp_path: Path) -> None:
    text = _problems(tmp_path, 'host = 127\ndata_dir = 5\nvoice = ""\n')
    assert "host: phải là chuỗi ký tự" in text
    assert "data_dir: phải là đường dẫn" in text
    assert "voice: không được để trống" in text


def test_config_unknown_keys_are_refused_everywhere(tmp_path: Path) -> None:
    toml = 'prot = 9000\n[[asterisk]]\nname = "a"\nsecrte = "x"\n[quiet_hours.sms]\nstart = "21:00"\nstop = "06:00"\n'
    text = _problems(tmp_path, toml, env={"LOA_PROT": "9000"})
    assert "prot: khóa không được hỗ trợ" in text
    assert "asterisk[0].secrte: khóa không được hỗ trợ" in text
    assert "quiet_hours.sms.stop: khóa không được hỗ trợ" in text
    assert "LOA_PROT: biến môi trường không được hỗ trợ" in text


def test_config_quiet_hours_channel_names_are_known(tmp_path: Path) -> None:
    text = _problems(tmp_path, '[quiet_hours.fax]\nstart = "21:00"\nend = "06:00"\n')
    assert "quiet_hours.fax: khóa không được hỗ trợ" in text


def test_config_valid_values_still_load(tmp_path: Path) -> None:
    cfg = tmp_path / "loa.toml"
    cfg.write_text('port = 9000\ncall_cps = 3\ndata_dir = "d"\nagi_allowed_hosts = ["10.0.0.2"]\n', encoding="utf-8")
    s = load_settings(cfg, env={"LOA_MAX_ATTEMPTS": "7", "LOA_CALL_RING_SECONDS": "40", "LOA_CONFIG": "x"})
    assert (s.port, s.call_cps, s.data_dir, s.max_attempts, s.call_ring_seconds) == (9000, 3.0, Path("d"), 7, 40)
    assert s.agi_allowed_hosts == ("10.0.0.2",)
    assert isinstance(s.call_cps, float)
