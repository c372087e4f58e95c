#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One-convolution models for bench/engine.sh: the peak rate of each engine
on the convolutions that dominate the detector.

    engine-kernels.py OUT_DIR   writes OUT_DIR/{dense3x3,pointwise}.onnx and
                                their inputs OUT_DIR/{dense3x3,pointwise}.npy,
                                and prints "NAME GFLOP" per model

dense3x3:  3x3 convolution, 64 -> 64 channels at 128x128, + bias and ReLU
           (the issue's yardstick: XNNPACK's dense 3x3 convolution)
pointwise: 1x1 convolution, 96 -> 576 channels at 64x64 (the shape of
           MobileNetV3's expansion layers, where the detector spends most
           of its time), + bias and ReLU
Inputs are NHWC, transposed to NCHW inside the model and back at the end,
as in the detector: libsplitnn relabels those Transposes, ONNX Runtime
runs them (a few percent of its time here).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_model(c_in, c_out, k, hw):
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32) * 0.1
    nodes = [
        helper.make_node('Transpose', ['x'], ['xc'], perm=[0, 3, 1, 2]),
        helper.make_node('Conv', ['xc', 'w', 'b'], ['yc'], kernel_shape=[k, k],
                         pads=[k // 2] * 4),
        helper.make_node('Relu', ['yc'], ['yr']),
        helper.make_node('Transpose', ['yr'], ['y'], perm=[0, 2, 3, 1]),
    ]
    graph = helper.make_graph(
        nodes, 'conv',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, hw, hw, c_in])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, hw, hw, c_out])],
        [numpy_helper.from_array(w, 'w'), numpy_helper.from_array(b, 'b')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    flops = 2.0 * c_in * c_out * k * k * hw * hw
    x = rng.uniform(-1, 1, (1, hw, hw, c_in)).astype(np.float32)
    return model, x, flops


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, args in (('dense3x3', (64, 64, 3, 128)), ('pointwise', (96, 576, 1, 64))):
        model, x, flops = conv_model(*args)
        onnx.save(model, os.path.join(out, name + '.onnx'))
        np.save(os.path.join(out, name + '.npy'), x)
        print(name, flops / 1e9)


if __name__ == '__main__':
    main()
