"""IVR flows in YAML: any text a person may save as ``ivr_flows/*.yaml``, and any
structure YAML can hold, against the flow schema."""

from __future__ import annotations

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.ivr import flows
from tests.fuzz.harness import TEST, survive, text

SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | text(max_size=12)
NAMES = st.sampled_from(["flow", "start", "nodes", "kind", "text", "next", "choices", "menu", "say", "1"])
KEY = NAMES | SCALAR.filter(lambda v: v is not None)
TREE = st.recursive(
    SCALAR | NAMES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY, inner, max_size=5),
    max_leaves=25,
)


def _dump(tree: object) -> bytes:
    return yaml.safe_dump(tree, allow_unicode=True).encode("utf-8", "surrogatepass")


@TEST
@given(TREE)
@example({1: "a", "b": "c"}).via("keys of mixed types: sorted() raised TypeError")
def test_ivr_flow_structures(tree: object) -> None:
    survive(flows.parse, tree, allowed=(flows.FlowError,))


@TEST
@given(TREE.map(_dump) | text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")) | st.binary(max_size=300))
@example(b"\xff").via("a file that is not UTF-8 raised UnicodeDecodeError")
@example(b"a: &a [*a]").via("a recursive alias")
@example(b"flow: x\nstart: a\nnodes:\n  a: {kind: [1]}").via("an unhashable kind raised TypeError")
def test_ivr_flow_yaml_files(data: bytes) -> None:
    survive(flows.loads, data, "x.yaml: ", allowed=(flows.FlowError,))
