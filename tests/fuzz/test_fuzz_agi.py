"""FastAGI (res_agi.c): the agi_* header block and the replies to commands."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.ivr.agi import AgiProtocolError, Environment, parse_environment, parse_reply
from tests.fuzz.harness import TEST, survive, text

KEYS = st.sampled_from(
    ["agi_request", "agi_network", "agi_network_script", "agi_callerid", "agi_uniqueid", "agi_arg_1", "agi_arg_2"]
)
HEADER_LINE = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}", KEYS, text(max_size=60)),
    text(max_size=80),
)
HEADER_BLOCK = st.one_of(
    st.lists(HEADER_LINE, max_size=12).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
    st.binary(max_size=2048),
)
REPLY = st.one_of(
    st.builds(
        lambda code, result, data, endpos: f"{code} result={result}{data}{endpos}",
        st.sampled_from(["200", "510", "511", "520", "999", "20"]),
        st.one_of(st.integers(-5, 2**70).map(str), text(max_size=10)),
        st.one_of(st.just(""), text(max_size=20).map(lambda t: f" ({t})")),
        st.one_of(st.just(""), st.integers(-(2**70), 2**70).map(lambda n: f" endpos={n}"), text(max_size=12)),
    ),
    text(max_size=200),
)


def _read_environment(block: bytes) -> None:
    env = parse_environment(block)
    assert isinstance(env, Environment)
    env.script, env.query, env.args, env.caller, env.uniqueid  # noqa: B018  every property a flow reads


def _read_reply(line: str) -> None:
    reply = parse_reply(line)
    reply.ok, reply.value, reply.digit  # noqa: B018


@TEST
@given(HEADER_BLOCK)
def test_fastagi_environment_block_res_agi_c(block: bytes) -> None:
    survive(_read_environment, block, allowed=(AgiProtocolError,))


@TEST
@given(REPLY)
@example("200 result=1114112").via("found by fuzzing: Reply.digit raised ValueError from chr()")
@example("200 result=99999999999999999999").via("found by make fuzz (atheris): OverflowError from chr()")
def test_fastagi_reply_lines_res_agi_c(line: str) -> None:
    survive(_read_reply, line, allowed=(AgiProtocolError,))
