"""CAP 1.2 alerts (OASIS, §3.2 element structure): whole documents built from the
required elements with values in and out of the value lists, and raw bytes."""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from gateway.bulletins import cap
from gateway.bulletins.errors import WorkflowError
from tests.fuzz.harness import TEST, survive, text


def _value(allowed: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(allowed) | text(max_size=20)


def _element(name: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        value.map(lambda v: f"<{name}>{escape(v)}</{name}>"),
        value.map(lambda v: f"<{name}>{v}</{name}>"),  # unescaped: broken XML on purpose
    )


SENT = st.sampled_from(["2026-11-23T06:00:00+07:00", "2026-11-23T06:00:00", "9999-12-31T23:59:59-23:59"]) | text(
    max_size=30
)
AREA = st.builds(
    lambda desc, code: f"<area>{desc}<geocode><valueName>x</valueName>{code}</geocode></area>",
    _element("areaDesc", text(max_size=20)),
    _element("value", text(max_size=10)),
)
INFO = st.builds(
    lambda *parts: "<info>" + "".join(parts) + "</info>",
    _element("language", st.sampled_from(["vi-VN", "en-US"]) | text(max_size=6)),
    _element("category", _value(cap.CATEGORIES)),
    _element("event", text(max_size=20)),
    _element("urgency", _value(cap.URGENCY)),
    _element("severity", _value(cap.SEVERITY)),
    _element("certainty", _value(cap.CERTAINTY)),
    _element("headline", text(max_size=30)),
    _element("description", text(max_size=60)),
    st.lists(AREA, max_size=2).map("".join),
)
ALERT = st.builds(
    lambda *parts: (f'<alert xmlns="{cap.NS[1:-1]}">' + "".join(parts) + "</alert>").encode("utf-8", "surrogatepass"),
    _element("identifier", text(max_size=20)),
    _element("sender", text(max_size=20)),
    _element("sent", SENT),
    _element("status", _value(cap.STATUS)),
    _element("msgType", _value(cap.MSG_TYPES)),
    _element("scope", _value(cap.SCOPES)),
    _element("references", text(max_size=40)),
    st.lists(INFO, max_size=2).map("".join),
)


def _read(data: bytes) -> None:
    alert = cap.parse_cap(data)
    alert.key, alert.priority, alert.text  # noqa: B018


@TEST
@given(ALERT | st.binary(max_size=500))
def test_cap_1_2_alert_section_3_2(data: bytes) -> None:
    survive(_read, data, allowed=(WorkflowError,))
