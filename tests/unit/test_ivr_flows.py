"""IVR flow files: the shipped ones are valid; every mistake names file, node and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.ivr import flows
from gateway.ivr.agi import AgiProtocolError, command, parse_environment, parse_reply


def test_the_shipped_flows_are_valid_and_cover_the_hotline_menu() -> None:
    shipped = flows.load_dir(Settings().flows_dir)
    hotline = shipped["hotline"]
    assert dict(hotline.nodes["main"].choices) == {
        "1": "latest",
        "2": "feedback_intro",
        "3": "ask_ticket",
        "0": "operator",
    }
    assert shipped["outbound"].nodes["bulletin"].bulletin == "current"


def test_errors_name_the_file_node_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        """
flow: hotline
start: greeting
nodes:
  greeting: {kind: play, text: Xin chào, next: mian}
  mian_menu: {kind: menu, text: Bấm 1, choices: {"1": greeting, "x": greeting, "2": nowhere}, timeout: 99}
  rec: {kind: record, next: greeting, beep: "có", colour: red}
  odd: {kind: dance}
""",
        encoding="utf-8",
    )
    with pytest.raises(flows.FlowError) as caught:
        flows.load_dir(tmp_path)
    problems = "\n".join(caught.value.problems)
    assert "bad.yaml: nút 'greeting', trường 'next': trỏ tới nút 'mian' không có" in problems
    assert "nút 'mian_menu', trường 'choices.x': phím phải là một trong 0-9, * hoặc #" in problems
    assert "nút 'mian_menu', trường 'choices.2': trỏ tới nút 'nowhere' không có" in problems
    assert "nút 'mian_menu', trường 'timeout': phải là số từ 1 đến 60" in problems
    assert "nút 'rec', trường 'beep': phải là true hoặc false" in problems
    assert "nút 'rec', trường 'colour': nút kiểu record không có trường này" in problems
    assert "nút 'odd', trường 'kind': phải là một trong" in problems


def test_broken_yaml_and_a_missing_start_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("flow: [unclosed", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("flow: b\nstart: nope\nnodes: {x: {kind: hangup}}\n", encoding="utf-8")
    with pytest.raises(flows.FlowError) as caught:
        flows.load_dir(tmp_path)
    problems = "\n".join(caught.value.problems)
    assert "a.yaml: YAML sai cú pháp" in problems
    assert "b.yaml: trường 'start': phải là tên một nút có trong 'nodes'" in problems


def test_loa_ivr_check_prints_the_problems(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("flow: x\nstart: a\nnodes: {a: {kind: play}}\n", encoding="utf-8")
    argv = [sys.executable, "-m", "gateway.cli", "ivr", "check", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "nút 'a', trường 'next': bắt buộc với nút kiểu play" in done.stdout


def test_agi_replies_res_agi_c_2_5() -> None:
    reply = parse_reply("200 result=49 endpos=16000")
    assert (reply.digit, reply.endpos) == ("1", 16000)
    recorded = parse_reply("200 result=-1 (hangup) endpos=8000")
    assert (recorded.value, recorded.data) == (-1, "hangup")
    timeout = parse_reply("200 result=123 (timeout)")
    assert (timeout.result, timeout.data) == ("123", "timeout")
    assert parse_reply("511 Command Not Permitted on a dead channel or intercept routine").code == 511
    with pytest.raises(AgiProtocolError):
        parse_reply("garbage")


def test_agi_environment_keeps_the_query_string_apart_and_quotes_arguments() -> None:
    env = parse_environment(
        b"agi_network: yes\nagi_network_script: outbound?call=loa-1-2\nagi_request: agi://h/outbound?call=loa-1-2\n"
        b"agi_callerid: 0912000001\nagi_arg_1: a\nagi_arg_2: b\n"
    )
    assert (env.script, env.query, env.args, env.caller) == ("outbound", {"call": "loa-1-2"}, ["a", "b"], "0912000001")
    assert command("STREAM FILE", "/x/y", "") == 'STREAM FILE /x/y ""'
    assert command("EXEC", "Dial", 'PJSIP/a "b"') == 'EXEC Dial "PJSIP/a \\"b\\""'
    with pytest.raises(AgiProtocolError):
        parse_environment(b"hello world\n")
