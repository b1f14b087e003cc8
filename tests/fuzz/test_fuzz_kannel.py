"""Kannel's callbacks (user guide: sms-service get-url %p/%a, dlr-url %d/%A/%F): the query
string of an MO and of a delivery report, the shared key, and what Loa reads out of them
afterwards (the part reference, the sender, the keyword)."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from gateway.sms import keywords, receipts
from gateway.sms.kannel import key_matches, parse_dlr, parse_mo
from tests.fuzz.harness import TEST, survive, text

KEY = "a" * 32
PARAM = st.sampled_from(["key", "type", "answer", "ref", "smsc_id", "from", "text", "x"])
QUERY = st.one_of(
    st.lists(st.tuples(PARAM, text(max_size=30)), max_size=8).map(
        lambda pairs: urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs])
    ),
    text(max_size=200),
)


def _read_dlr(query: str) -> None:
    params = QueryParams(query)
    key_matches(params.get("key", ""), KEY)
    receipt = parse_dlr(params)
    assert receipt.outcome in ("delivered", "failed", "pending")
    receipts.part_reference(receipt.reference)


def _read_mo(query: str) -> None:
    params = QueryParams(query)
    key_matches(params.get("key", ""), KEY)
    mo = parse_mo(params)
    keywords.parse(mo.text)


@TEST
@given(QUERY)
@example("key=%C3%A9").via("hmac.compare_digest raises TypeError on non-ASCII text")
@example("type=%C2%B2").via("int('²') after str.isdigit()")
@example("ref=d1.%C2%B2").via("the part number '²' after str.isdigit()")
def test_kannel_dlr_url_callback(query: str) -> None:
    survive(_read_dlr, query, allowed=())


@TEST
@given(QUERY)
@example("key=%C3%A9").via("hmac.compare_digest raises TypeError on non-ASCII text")
def test_kannel_mo_get_url_callback(query: str) -> None:
    survive(_read_mo, query, allowed=())
