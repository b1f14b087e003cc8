"""Issue 15: "what will be said" marks each rewritten token with its class; overrides limited to a class."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.text.explain import CLASSES, MAX_TOKENS
from tts.text.normalizer import Normalizer, load_overrides

TEXT = "CCCD số 079203004567, Ấp 3, X. Tân Phú, H. Củ Chi: nộp 300 nghìn đồng/hộ/năm ⚠️ gọi 114"


def test_explain_marks_each_rewritten_token_with_its_class() -> None:
    (line,) = Normalizer().explain(TEXT)
    marked = {(r.written.rstrip(",:"), r.spoken, r.cls) for r in line if r.cls}
    assert ("CCCD", "căn cước công dân", "abbreviation") in marked
    assert ("079203004567", "không bảy chín hai không ba không không bốn năm sáu bảy", "identifier") in marked
    assert ("X.", "xã", "address") in marked and ("H.", "huyện", "address") in marked
    assert ("đồng/hộ/năm", "đồng một hộ một năm", "rate") in marked
    assert ("114", "một một bốn", "service_number") in marked
    assert ("⚠️", "", "symbol") in marked
    plain = [r for r in line if r.cls is None]
    assert [r.spoken for r in plain][:3] == ["số", "ấp", "tân"]


def test_explain_spells_out_the_same_words_as_normalize() -> None:
    n = Normalizer()
    text = "Ngày 10/08/2022 lúc 7h30, Nhóm I và II, tỷ số 3-0, 51F-678.90\nDòng 2: tiepnhan@hcc.gov.vn"
    explained = [" ".join(r.spoken for r in line if r.spoken) for line in n.explain(text)]
    assert explained == n.normalize(text).split("\n")


def test_override_limited_to_a_class_applies_only_there() -> None:
    n = Normalizer(overrides={"H.": "hạt\taddress", "Pleiku": "plây cu"})
    assert n.normalize("Ấp 3, H. Củ Chi. Ông Nguyễn Văn H. đến Pleiku.") == (
        "ấp ba hạt củ chi ông nguyễn văn hát đến plây cu"
    )
    phrases = n.phrases("Ấp 3, H. Củ Chi. Ông H. đến.")
    assert [p.text for p in phrases] == ["ấp ba", "hạt củ chi", "ông hát", "đến"]
    (line,) = n.explain("xã X., H. Củ Chi")
    assert ("H.", "hạt", "override") in {(r.written, r.spoken, r.cls) for r in line}


def test_override_file_takes_an_optional_class_column(tmp_path: Path) -> None:
    path = tmp_path / "pronunciations.tsv"
    path.write_text("# chú thích\nPleiku\tplây cu\nH.\thạt\taddress\n", encoding="utf-8")
    assert load_overrides(path) == {"Pleiku": "plây cu", "H.": "hạt\taddress"}
    path.write_text("H.\thạt\tđịa chỉ\n", encoding="utf-8")
    with pytest.raises(ValueError, match="dòng 1: loại 'địa chỉ' không có"):
        load_overrides(path)
    assert "address" in CLASSES


def test_very_long_chunk_is_read_without_tracing() -> None:
    n = Normalizer(overrides={"114": "một trăm mười bốn\tservice_number"})
    assert n.normalize("gọi 114 ngay") == "gọi một trăm mười bốn ngay"
    line = "gọi 114 ngay " * MAX_TOKENS  # no sentence end: one chunk, too long to trace
    assert n.normalize(line) == Normalizer().normalize(line)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789.,:/-%hHIVXđĐ@#~<> aăbcPQTx", max_size=80) | st.text(max_size=80))
def test_explain_never_crashes_and_says_what_normalize_says(text: str) -> None:
    n = Normalizer()
    explained = [" ".join(r.spoken for r in line if r.spoken) for line in n.explain(text)]
    assert explained == n.normalize(text).split("\n")
