"""A small builder for ONNX graphs written node by node (no torch, no jax)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


class GraphBuilder:
    """Collects nodes and initializers; names every value uniquely."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{self.name}.{hint}_{self._count}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        name = self.fresh(hint)
        array = np.asarray(value, dtype=dtype)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        return self.ops(op_type, inputs, 1, hint, **attrs)[0]

    def ops(self, op_type: str, inputs: list[str], outputs: int, hint: str | None = None, **attrs: Any) -> list[str]:
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, **attrs))
        return names

    def input(self, name: str, elem: int, shape: list[Any]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        return name

    def output(self, value: str, name: str, elem: int, shape: list[Any]) -> None:
        self.nodes.append(helper.make_node("Identity", [value], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def graph(self) -> onnx.GraphProto:
        return helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)

    def model(self, metadata: dict[str, str] | None = None) -> onnx.ModelProto:
        model = helper.make_model(self.graph(), opset_imports=[helper.make_opsetid("", OPSET)], producer_name="loa")
        model.ir_version = IR_VERSION
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model, full_check=False)
        return model

    # --- common blocks ---------------------------------------------------------------
    def matmul_add(self, x: str, w: np.ndarray, b: np.ndarray | None, hint: str) -> str:
        y = self.op("MatMul", [x, self.const(w, hint + "_w")], hint)
        return self.op("Add", [y, self.const(b, hint + "_b")], hint) if b is not None else y

    def conv1d(self, x: str, w_kio: np.ndarray, b: np.ndarray | None, dilation: int = 1, hint: str = "conv") -> str:
        """Haiku Conv1D (weights [k, in, out], SAME padding) on NCL activations."""
        k = w_kio.shape[0]
        total = (k - 1) * dilation
        pads = [total // 2, total - total // 2]
        inputs = [x, self.const(w_kio.transpose(2, 1, 0), hint + "_w")]
        if b is not None:
            inputs.append(self.const(b, hint + "_b"))
        return self.op("Conv", inputs, hint, dilations=[dilation], pads=pads, kernel_shape=[k])

    def gelu_tanh(self, x: str) -> str:
        """jax.nn.gelu(approximate=True): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
        cube = self.op("Mul", [self.op("Mul", [x, x]), x])
        inner = self.op("Add", [x, self.op("Mul", [cube, self.const(0.044715)])])
        t = self.op("Tanh", [self.op("Mul", [inner, self.const(np.sqrt(2.0 / np.pi))])])
        cdf = self.op("Mul", [self.op("Add", [t, self.const(1.0)]), self.const(0.5)])
        return self.op("Mul", [x, cdf])


def float_input(b: GraphBuilder, name: str, shape: list[Any]) -> str:
    return b.input(name, TensorProto.FLOAT, shape)


def int_input(b: GraphBuilder, name: str, shape: list[Any]) -> str:
    return b.input(name, TensorProto.INT64, shape)
