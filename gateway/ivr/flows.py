"""IVR flows in YAML (``ivr_flows/*.yaml``), checked against a schema before a call ever
reaches them. Every problem names the file, the node and the field, in Vietnamese:
``hotline.yaml: nút 'menu', trường 'choices.4': trỏ tới nút 'khieu_nai' không có``.

A flow is ``flow`` (its name, the FastAGI script that runs it), ``start`` and ``nodes``;
each node has a ``kind`` and that kind's fields (see ``KINDS``). Prompts are text: Loa
renders them with its voice into the 8 kHz file Asterisk plays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KEYS = set("0123456789*#")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class FlowError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    text: str = ""
    next: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    timeout: float = 5.0
    retries: int = 2
    invalid_text: str = "Phím bạn bấm không có trong danh sách."
    no_input: str = ""
    store: str = ""
    digits: int = 8
    max_seconds: int = 120
    silence_seconds: int = 5
    beep: bool = True
    finish_key: str = "#"
    value: str = ""
    count: int = 3
    empty_text: str = "Hiện chưa có bản tin nào."
    not_found_text: str = "Không tìm thấy phản ánh với mã số này."
    via: str = "dial"
    target: str = ""
    bulletin: str = ""
    ask_area: bool = False
    confirm_text: str = (
        "Bạn sắp ngừng nhận cuộc gọi và tin nhắn bản tin. Tin khẩn cấp vẫn được gửi tới bạn. "
        "Để xác nhận, bấm phím 9 lần nữa."
    )
    confirm_key: str = "9"
    kept_text: str = "Bạn vẫn tiếp tục nhận bản tin."
    heard_key: str = ""  # pressed during the call's bulletin: the listener confirms hearing it
    heard_when: str = "end_or_key"  # the bulletin counts as heard at its end, on the key, or either

    def choice(self, key: str) -> str | None:
        return dict(self.choices).get(key)


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: dict[str, Node]
    source: str = ""

    def texts(self) -> list[str]:
        """Every fixed prompt, for rendering ahead of the first call."""
        out: list[str] = []
        for node in self.nodes.values():
            out += [t for t in (node.text, node.empty_text, node.not_found_text) if t]
            if node.kind == "menu":
                out.append(node.invalid_text)
            if node.kind == "optout":
                out += [node.confirm_text, node.kept_text]
        return list(dict.fromkeys(out))


# kind -> (required fields, optional fields)
KINDS: dict[str, tuple[set[str], set[str]]] = {
    "play": ({"next"}, {"text", "bulletin", "heard_key", "heard_when"}),
    # AMD() in the dialplan: a machine hears ``text`` (short) and the call ends; a person goes on
    "machine": ({"text", "next"}, set()),
    "menu": ({"text", "choices"}, {"timeout", "retries", "invalid_text", "no_input"}),
    "input": ({"text", "store", "next"}, {"digits", "timeout"}),
    "record": ({"next"}, {"text", "max_seconds", "silence_seconds", "beep", "finish_key"}),
    "say_digits": ({"value", "next"}, {"text"}),
    "lookup": ({"next"}, {"not_found_text", "value"}),
    "bulletins": ({"next"}, {"text", "count", "empty_text", "ask_area"}),
    "transfer": ({"target"}, {"via", "text", "next"}),
    "optout": ({"next"}, {"text", "confirm_text", "confirm_key", "kept_text"}),
    "hangup": (set(), {"text"}),
}
REFS = ("next", "no_input")
NUMBERS: dict[str, tuple[type, float, float]] = {
    "timeout": (float, 1, 60),
    "retries": (int, 0, 5),
    "digits": (int, 1, 20),
    "max_seconds": (int, 5, 600),
    "silence_seconds": (int, 1, 30),
    "count": (int, 1, 10),
}
TEXTS = ("text", "invalid_text", "empty_text", "not_found_text", "target", "confirm_text", "kept_text")


def _node(name: str, raw: Any, problems: list[str], where: str) -> Node | None:
    here = f"{where}nút '{name}'"
    if not NAME.match(name):
        problems.append(f"{here}: tên nút chỉ gồm chữ thường không dấu, số và '_' (tối đa 40 ký tự)")
    if not isinstance(raw, dict):
        problems.append(f"{here}: phải là một bảng các trường")
        return None
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append(f"{here}, trường 'kind': phải là một trong {', '.join(sorted(KINDS))}")
        return None
    required, optional = KINDS[kind]
    values: dict[str, Any] = {}
    for key in sorted(required - set(raw)):
        problems.append(f"{here}, trường '{key}': bắt buộc với nút kiểu {kind}")
    for key, value in raw.items():
        if key == "kind":
            continue
        if key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            problems.append(f"{here}, trường '{key}': nút kiểu {kind} không có trường này (có: {allowed})")
            continue
        field = f"{here}, trường '{key}'"
        if key in NUMBERS:
            kind_of, low, high = NUMBERS[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                problems.append(f"{field}: phải là số từ {low:g} đến {high:g}")
                continue
            values[key] = kind_of(value)
        elif key in ("beep", "ask_area"):
            if not isinstance(value, bool):
                problems.append(f"{field}: phải là true hoặc false")
                continue
            values[key] = value
        elif key == "choices":
            if not isinstance(value, dict) or not value:
                problems.append(f"{field}: phải là bảng phím -> nút, ví dụ {{'1': tin_moi}}")
                continue
            pairs = []
            for digit, target in value.items():
                digit = str(digit)
                if len(digit) != 1 or digit not in KEYS:
                    problems.append(f"{here}, trường 'choices.{digit}': phím phải là một trong 0-9, * hoặc #")
                elif not isinstance(target, str):
                    problems.append(f"{here}, trường 'choices.{digit}': phải là tên một nút")
                else:
                    pairs.append((digit, target))
            values[key] = tuple(pairs)
        elif key == "heard_when":
            if value not in ("end", "key", "end_or_key"):
                problems.append(f"{field}: phải là end (nghe hết), key (bấm phím xác nhận) hoặc end_or_key")
                continue
            values[key] = value
        elif key in ("finish_key", "confirm_key", "heard_key"):
            if str(value) not in KEYS:
                problems.append(f"{field}: phải là một phím 0-9, * hoặc #")
                continue
            values[key] = str(value)
        elif key == "via":
            if value not in ("dial", "queue"):
                problems.append(f"{field}: phải là dial (gọi số/máy lẻ) hoặc queue (hàng đợi)")
                continue
            values[key] = value
        elif key == "bulletin":
            if value != "current":
                problems.append(f"{field}: chỉ nhận 'current' (bản tin của cuộc gọi)")
                continue
            values[key] = value
        elif key in ("store", "value"):
            if not isinstance(value, str) or not NAME.match(value):
                problems.append(f"{field}: phải là tên biến (chữ thường, số, '_')")
                continue
            values[key] = value
        elif key in REFS:
            if not isinstance(value, str):
                problems.append(f"{field}: phải là tên một nút")
                continue
            values[key] = value
        elif key in TEXTS:
            if not isinstance(value, str) or not value.strip() or len(value) > 2000:
                problems.append(f"{field}: phải là câu tiếng Việt không rỗng (tối đa 2000 ký tự)")
                continue
            values[key] = value.strip()
    if kind == "play" and "text" not in raw and "bulletin" not in raw:
        problems.append(f"{here}: nút play cần 'text' hoặc 'bulletin'")
    return Node(name, kind, **values)


def parse(raw: Any, where: str = "") -> Flow:
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise FlowError([f"{where}tệp luồng phải là một bảng với flow, start, nodes"])
    for key in sorted(str(k) for k in set(raw) - {"flow", "start", "nodes", "description"}):
        problems.append(f"{where}trường '{key}': không được hỗ trợ (có: flow, start, nodes, description)")
    name = raw.get("flow")
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"{where}trường 'flow': bắt buộc, là tên luồng (chữ thường, số, '_'), ví dụ hotline")
    nodes_raw = raw.get("nodes")
    nodes: dict[str, Node] = {}
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        problems.append(f"{where}trường 'nodes': bắt buộc, là bảng các nút")
    else:
        for node_name, node_raw in nodes_raw.items():
            node = _node(str(node_name), node_raw, problems, where)
            if node is not None:
                nodes[node.name] = node
    start = raw.get("start")
    if not isinstance(start, str) or (nodes and start not in nodes):
        problems.append(f"{where}trường 'start': phải là tên một nút có trong 'nodes'")
    for node in nodes.values():
        refs = [(f, getattr(node, f)) for f in REFS if getattr(node, f)]
        refs += [(f"choices.{d}", t) for d, t in node.choices]
        for field, target in refs:
            if target not in nodes:
                problems.append(f"{where}nút '{node.name}', trường '{field}': trỏ tới nút '{target}' không có")
    if problems:
        raise FlowError(problems)
    assert isinstance(name, str) and isinstance(start, str)  # checked above
    return Flow(name, start, nodes, where.rstrip(": "))


def loads(data: bytes, where: str = "") -> Flow:
    """A flow from the bytes of its YAML file (UTF-8)."""
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FlowError([f"{where}tệp phải mã hóa UTF-8 (byte lỗi ở vị trí {exc.start})"]) from exc
    except yaml.YAMLError as exc:
        raise FlowError([f"{where}YAML sai cú pháp ({exc})"]) from exc
    except RecursionError as exc:
        raise FlowError([f"{where}YAML lồng nhau quá sâu"]) from exc
    return parse(raw, where)


def load(path: Path) -> Flow:
    where = f"{path.name}: "
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FlowError([f"{where}không đọc được tệp ({exc.strerror})"]) from exc
    return loads(data, where)


def load_dir(directory: Path) -> dict[str, Flow]:
    """Every flow in ``directory``; all problems of all files together."""
    flows: dict[str, Flow] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            flow = load(path)
        except FlowError as exc:
            problems += exc.problems
            continue
        if flow.name in flows:
            problems.append(f"{path.name}: luồng '{flow.name}' đã có trong {flows[flow.name].source}")
        flows[flow.name] = flow
    if problems:
        raise FlowError(problems)
    return flows
