"""FLOPs of an ONNX vocoder per second of audio, counted from its Conv/ConvTranspose nodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def conv_flops_per_audio_second(vocoder: Path, sample_rate: int, hop: int) -> float:
    """Multiply-adds x 2 of every convolution for one second of output audio.

    Activation lengths follow the graph: the mel runs at sample_rate / hop frames per
    second and each ConvTranspose multiplies the rate by its stride.
    """
    model = onnx.load(str(vocoder))
    weights = {t.name: numpy_helper.to_array(t).shape for t in model.graph.initializer}
    rate = sample_rate / hop
    total = 0.0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        shape = weights[node.input[1]]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "ConvTranspose":
            cin, cout, k = shape
            rate *= int(np.prod(attrs.get("strides", [1])))
            total += 2.0 * cin * cout * k * rate / int(np.prod(attrs.get("strides", [1])))
        else:
            cout, cin, k = shape
            total += 2.0 * cin * cout * k * rate
    return total
