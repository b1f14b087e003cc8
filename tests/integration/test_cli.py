"""The ``loa`` command as other tools and people use it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, need_shared
from tests.support.piper_tiny import write_tiny_piper
from tests.support.viettts_tiny import write_tiny_checkpoints


def loa(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_normalize_writes_one_line_per_input_line() -> None:
    text = "Ngày 10/08/2022, có 15 người.\n\nTăng 30-50%\nUBND xã"
    out = loa("normalize", stdin=text)
    assert out.returncode == 0
    lines = out.stdout.split("\n")[:-1]
    assert lines == [
        "ngày mười tháng tám năm hai nghìn không trăm hai mươi hai có mười lăm người",
        "",
        "tăng ba mươi đến năm mươi phần trăm",
        "ủy ban nhân dân xã",
    ]


def test_normalize_explain_prints_each_rewrite_with_its_class(tmp_path: Path) -> None:
    overrides = tmp_path / "pronunciations.tsv"
    overrides.write_text("H.\thạt\taddress\n", encoding="utf-8")
    out = loa("normalize", "--explain", "--overrides", str(overrides), stdin="Ấp 3, H. Củ Chi, gọi 114\nÔng Lê Văn H.")
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split("\n")[:2]
    assert first == "[number] 3, → ba | [override] H. → hạt | [service_number] 114 → một một bốn"
    assert second == "[acronym] H. → hát"


def test_speak_a_corpus_bulletin_with_the_default_voice(tmp_path: Path) -> None:
    source = need_shared(CORPUS / "huong-dan-so-ket-chi-thi-07.txt")
    out = loa("speak", "-f", str(source), "-o", str(tmp_path / "x.wav"))
    assert out.returncode == 0, out.stderr
    assert "RTF" in out.stdout and (tmp_path / "x.wav").stat().st_size > 100_000


def test_speak_reads_stdin_and_writes_telephone_audio(tmp_path: Path) -> None:
    out = loa("speak", "-f", "-", "-o", str(tmp_path / "p.ulaw"), stdin="Xin chào bà con.")
    assert out.returncode == 0, out.stderr
    assert "8000 Hz" in out.stdout


def test_voices_install_list_and_speak_with_piper(tmp_path: Path) -> None:
    model = write_tiny_piper(tmp_path / "src")
    assert loa("voices", "install", str(model)).returncode == 0
    listed = loa("voices", "list").stdout
    assert "vi-espeak" in listed and "vi_VN-tiny-x_low" in listed
    out = loa("speak", "xin chào", "-o", str(tmp_path / "p.wav"), "--voice", "vi_VN-tiny-x_low")
    assert out.returncode == 0, out.stderr


def test_convert_viettts_then_speak_with_the_folder(tmp_path: Path) -> None:
    src = write_tiny_checkpoints(tmp_path / "ck")
    out = loa(
        "voices",
        "convert-viettts",
        "--duration",
        str(src["duration"]),
        "--acoustic",
        str(src["acoustic"]),
        "--vocoder",
        str(src["vocoder"]),
        "--lexicon",
        str(src["lexicon"]),
        "--config",
        str(src["config"]),
        "-o",
        str(tmp_path / "voice"),
        "--id",
        "tiny",
        "--install",
    )
    assert out.returncode == 0, out.stderr
    assert "tiny" in loa("voices", "list").stdout
    spoken = loa("speak", "xin chào", "-o", str(tmp_path / "v.wav"), "--voice", str(tmp_path / "voice"))
    assert spoken.returncode == 0, spoken.stderr and "16000 Hz" in spoken.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["speak", "xin chào", "-o", "x.wav", "--voice", "khong-co"], "chưa được cài"),
        (["speak", "xin chào", "-o", "x.ulaw", "--rate", "16000"], "--rate"),
        (["speak", "xin chào", "-o", "x.xyz"], "--format"),
        (
            [
                "voices",
                "convert-viettts",
                "--duration",
                "a",
                "--acoustic",
                "b",
                "--vocoder",
                "c",
                "--lexicon",
                "d",
                "-o",
                "out",
            ],
            "--duration",
        ),
    ],
)
def test_errors_name_the_option_in_vietnamese(tmp_path: Path, args: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
