#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Convert a TensorFlow.js graph model (model.json + weight shards) to ONNX.

    tfjs2onnx.py MODEL.json OUT.onnx --outputs tower_0/keypoints=keypoints,tower_0/wh=wh
                 [--input-name images] [--metadata KEY=VALUE ...]

Written for the CenterNet-MobileNetV3 detector that @vladmandic/human ships,
and for the ops that graph uses; any other TF op stops the conversion with
an error naming the node.  Choices:

- The graph input stays NHWC (as in TF.js: a camera frame is NHWC), followed
  by one Transpose; everything inside runs NCHW, ONNX's native layout; each
  requested output gets a Transpose back to NHWC so the outputs have the
  original shapes.
- TF "SAME" padding becomes explicit ONNX pads computed from the static
  shapes (asymmetric when the total is odd: TF puts the extra row/column
  after, and so do we).
- Fused conv + bias (+ Relu) becomes Conv (+ Relu); depthwise conv becomes a
  grouped Conv; Relu6 becomes Clip(0, 6); hard-swish stays the Mul/Add/Clip/
  Mul it is in the graph (its 1/6 is stored as float16 0.16662598, not 1/6,
  so replacing it by HardSwish would change the numbers).
- ResizeBilinear maps to Resize(linear) with the coordinate mode that its
  align_corners / half_pixel_centers flags mean.
- Weights, stored as float16 in the shard, are written as float32.

Only python3-onnx and python3-numpy (Debian) are needed.
"""

import argparse
import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONVERTER_VERSION = "1"
OPSET = 13
NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]


class ConversionError(Exception):
    pass


def attr_s(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None or "s" not in a:
        return default
    return base64.b64decode(a["s"]).decode()


def attr_ints(node, key):
    a = node.get("attr", {}).get(key)
    if a is None:
        return None
    return [int(i) for i in a.get("list", {}).get("i", [])]


def attr_b(node, key, default=False):
    a = node.get("attr", {}).get(key)
    return a.get("b", default) if a else default


def fused_ops(node):
    a = node.get("attr", {}).get("fused_ops")
    if not a:
        return []
    return [base64.b64decode(s).decode() for s in a.get("list", {}).get("s", [])]


def load_weights(model_json_path, manifest):
    """Decode every weight of the manifest (float16-quantized floats, int32)."""
    folder = os.path.dirname(model_json_path)
    values = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q and q.get("dtype") == "float16":
                a = np.frombuffer(buf, np.float16, n, off).astype(np.float32)
                off += 2 * n
            elif q:
                raise ConversionError(f"weight {w['name']}: quantization {q} is not supported")
            elif w["dtype"] == "float32":
                a = np.frombuffer(buf, np.float32, n, off).copy()
                off += 4 * n
            elif w["dtype"] == "int32":
                a = np.frombuffer(buf, np.int32, n, off).copy()
                off += 4 * n
            else:
                raise ConversionError(f"weight {w['name']}: dtype {w['dtype']} is not supported")
            values[w["name"]] = a.reshape(shape)
        if off != len(buf):
            raise ConversionError(f"weight shards hold {len(buf)} bytes, the manifest describes {off}")
    return values


class Converter:
    def __init__(self, graph, weights, input_name):
        self.nodes = {n["name"]: n for n in graph["node"]}
        self.weights = weights
        self.input_name = input_name
        self.onnx_nodes = []
        self.initializers = []
        self.shapes = {}         # ONNX tensor name -> NCHW (or plain) shape
        self.tensor_of = {}      # TF tensor name -> ONNX tensor name
        self.counter = 0

    # -- helpers ---------------------------------------------------------------
    def fresh(self, base):
        self.counter += 1
        return f"{base}__{self.counter}"

    def const(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, tf_name):
        if tf_name not in self.weights:
            n = self.nodes.get(tf_name)
            if n is None or n["op"] != "Const":
                raise ConversionError(f"'{tf_name}' is not a constant")
            raise ConversionError(f"constant '{tf_name}' has no value in the weight shards")
        return self.weights[tf_name]

    def is_const(self, tf_name):
        return tf_name in self.weights

    def emit(self, op, inputs, output, shape, **attrs):
        self.onnx_nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        self.shapes[output] = list(shape)
        return output

    @staticmethod
    def same_pads(in_hw, k_hw, strides, dilations):
        pads_begin, pads_end, out = [], [], []
        for i in range(2):
            o = -(-in_hw[i] // strides[i])
            eff = (k_hw[i] - 1) * dilations[i] + 1
            total = max((o - 1) * strides[i] + eff - in_hw[i], 0)
            pads_begin.append(total // 2)
            pads_end.append(total - total // 2)
            out.append(o)
        return pads_begin + pads_end, out

    # -- conversion -----------------------------------------------------------
    def tensor(self, tf_input):
        name = tf_input.split(":")[0]
        if tf_input.startswith("^"):
            raise ConversionError(f"control dependency '{tf_input}' is not supported")
        if name not in self.tensor_of:
            self.convert_node(self.nodes[name])
        return self.tensor_of[name]

    def convert_conv(self, node, depthwise):
        x = self.tensor(node["input"][0])
        n, c, h, w = self.shapes[x]
        kernel = self.weight(node["input"][1])
        if attr_s(node, "data_format", "NHWC") != "NHWC":
            raise ConversionError(f"node '{node['name']}': only NHWC convolutions are supported")
        strides = attr_ints(node, "strides") or [1, 1, 1, 1]
        dil = attr_ints(node, "dilations") or [1, 1, 1, 1]
        strides, dil = strides[1:3], dil[1:3]
        kh, kw = kernel.shape[0], kernel.shape[1]
        if depthwise:
            cin, mult = kernel.shape[2], kernel.shape[3]
            wt = kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            group = cin
            cout = cin * mult
        else:
            if kernel.shape[2] != c:
                raise ConversionError(f"node '{node['name']}': kernel expects {kernel.shape[2]} channels, input has {c}")
            wt = kernel.transpose(3, 2, 0, 1)
            group = 1
            cout = kernel.shape[3]
        padding = attr_s(node, "padding")
        if padding == "SAME":
            pads, out_hw = self.same_pads([h, w], [kh, kw], strides, dil)
        elif padding == "VALID":
            pads = [0, 0, 0, 0]
            out_hw = [(h - ((kh - 1) * dil[0] + 1)) // strides[0] + 1,
                      (w - ((kw - 1) * dil[1] + 1)) // strides[1] + 1]
        else:
            raise ConversionError(f"node '{node['name']}': padding '{padding}' is not supported")
        inputs = [x, self.const(node["name"] + "/weights", wt.astype(np.float32))]
        ops = fused_ops(node)
        if ops:
            if ops[0] != "BiasAdd" or len(node["input"]) < 3:
                raise ConversionError(f"node '{node['name']}': fused ops {ops} are not supported")
            bias = self.weight(node["input"][2]).astype(np.float32).reshape(-1)
            inputs.append(self.const(node["name"] + "/bias", bias))
            ops = ops[1:]
        shape = [n, cout] + out_hw
        out = node["name"] if not ops else node["name"] + "/conv"
        self.emit("Conv", inputs, out, shape, kernel_shape=[kh, kw], strides=strides,
                  dilations=dil, pads=pads, group=group)
        for op in ops:
            if op == "Relu":
                out = self.emit("Relu", [out], node["name"], shape)
            elif op == "Relu6":
                out = self.emit("Clip", [out, self.const(self.fresh("zero"), np.float32(0)),
                                         self.const(self.fresh("six"), np.float32(6))], node["name"], shape)
            else:
                raise ConversionError(f"node '{node['name']}': fused activation '{op}' is not supported")
        self.tensor_of[node["name"]] = out

    def nchw_const(self, arr, rank):
        """A constant for broadcasting against a rank-`rank` NCHW tensor."""
        arr = np.asarray(arr, np.float32)
        if arr.ndim <= 1 and rank == 4 and arr.size > 1:
            return arr.reshape(-1, 1, 1)          # per channel (last NHWC axis)
        if arr.ndim == 4:
            return arr.transpose(NHWC_TO_NCHW)
        return arr

    def convert_binary(self, node, op):
        a_tf, b_tf = node["input"][0], node["input"][1]
        names, shapes = [], []
        for t in (a_tf, b_tf):
            if self.is_const(t.split(":")[0]):
                other = b_tf if t == a_tf else a_tf
                rank = len(self.shapes[self.tensor(other)])
                arr = self.nchw_const(self.weight(t.split(":")[0]), rank)
                names.append(self.const(self.fresh(node["name"] + "/c"), arr))
                shapes.append(list(arr.shape))
            else:
                x = self.tensor(t)
                names.append(x)
                shapes.append(self.shapes[x])
        out_shape = list(np.broadcast_shapes(tuple(shapes[0]), tuple(shapes[1])))
        self.tensor_of[node["name"]] = self.emit(op, names, node["name"], out_shape)

    def convert_node(self, node):
        op, name = node["op"], node["name"]
        if op == "Placeholder":
            if name != self.input_name:
                raise ConversionError(f"unexpected placeholder '{name}'")
            dims = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
            self.graph_input = helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)
            n, h, w, c = dims
            self.tensor_of[name] = self.emit("Transpose", ["images"], name, [n, c, h, w], perm=NHWC_TO_NCHW)
        elif op in ("_FusedConv2D", "Conv2D"):
            self.convert_conv(node, depthwise=False)
        elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            self.convert_conv(node, depthwise=True)
        elif op in ("Add", "AddV2", "Mul", "Sub"):
            self.convert_binary(node, {"Add": "Add", "AddV2": "Add", "Mul": "Mul", "Sub": "Sub"}[op])
        elif op == "Relu":
            x = self.tensor(node["input"][0])
            self.tensor_of[name] = self.emit("Relu", [x], name, self.shapes[x])
        elif op == "Relu6":
            x = self.tensor(node["input"][0])
            self.tensor_of[name] = self.emit(
                "Clip", [x, self.const(self.fresh("zero"), np.float32(0)),
                         self.const(self.fresh("six"), np.float32(6))], name, self.shapes[x])
        elif op == "Sigmoid":
            x = self.tensor(node["input"][0])
            self.tensor_of[name] = self.emit("Sigmoid", [x], name, self.shapes[x])
        elif op == "Identity":
            self.tensor_of[name] = self.tensor(node["input"][0])
        elif op == "Mean":
            x = self.tensor(node["input"][0])
            axes = [int(a) for a in np.asarray(self.weight(node["input"][1])).reshape(-1)]
            shape = self.shapes[x]
            rank = len(shape)
            axes = sorted(a % rank for a in axes)
            if rank != 4:
                raise ConversionError(f"node '{name}': Mean over a rank-{rank} tensor is not supported")
            onnx_axes = sorted(NHWC_TO_NCHW.index(a) for a in axes)
            keep = attr_b(node, "keep_dims")
            if onnx_axes == [2, 3] and keep:
                self.tensor_of[name] = self.emit("GlobalAveragePool", [x], name, shape[:2] + [1, 1])
            else:
                out = [1 if i in onnx_axes else d for i, d in enumerate(shape)]
                if not keep:
                    raise ConversionError(f"node '{name}': Mean without keep_dims is not supported")
                self.tensor_of[name] = self.emit("ReduceMean", [x], name, out, axes=onnx_axes, keepdims=1)
        elif op == "ConcatV2":
            ins = node["input"][:-1]
            axis = int(np.asarray(self.weight(node["input"][-1])).reshape(-1)[0])
            xs = [self.tensor(i) for i in ins]
            rank = len(self.shapes[xs[0]])
            if rank != 4:
                raise ConversionError(f"node '{name}': concat of rank-{rank} tensors is not supported")
            onnx_axis = NHWC_TO_NCHW.index(axis % rank)
            shape = list(self.shapes[xs[0]])
            shape[onnx_axis] = sum(self.shapes[x][onnx_axis] for x in xs)
            self.tensor_of[name] = self.emit("Concat", xs, name, shape, axis=onnx_axis)
        elif op == "ResizeBilinear":
            x = self.tensor(node["input"][0])
            size = [int(s) for s in np.asarray(self.weight(node["input"][1])).reshape(-1)]
            align, half = attr_b(node, "align_corners"), attr_b(node, "half_pixel_centers")
            if align and half:
                raise ConversionError(f"node '{name}': align_corners with half_pixel_centers is invalid")
            mode = "align_corners" if align else ("half_pixel" if half else "asymmetric")
            n, c = self.shapes[x][:2]
            sizes = self.const(name + "/sizes", np.array([n, c] + size, np.int64))
            self.tensor_of[name] = self.emit("Resize", [x, "", "", sizes], name, [n, c] + size,
                                             mode="linear", coordinate_transformation_mode=mode)
        else:
            raise ConversionError(f"node '{name}': TF op '{op}' is not supported by this converter")

    def output(self, tf_name, onnx_name):
        x = self.tensor(tf_name)
        shape = self.shapes[x]
        if len(shape) != 4:
            raise ConversionError(f"output '{tf_name}' has rank {len(shape)}; only 4-D outputs are supported")
        nhwc = [shape[i] for i in NCHW_TO_NHWC]
        self.emit("Transpose", [x], onnx_name, nhwc, perm=NCHW_TO_NHWC)
        return helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, nhwc)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_json")
    ap.add_argument("out_onnx")
    ap.add_argument("--outputs", required=True, help="TF_NAME=ONNX_NAME,... in output order")
    ap.add_argument("--input", default="tower_0/images", help="the graph's placeholder")
    ap.add_argument("--metadata", action="append", default=[], help="KEY=VALUE stored in the model")
    args = ap.parse_args(argv)

    try:
        model = json.load(open(args.model_json))
        weights = load_weights(args.model_json, model["weightsManifest"])
        conv = Converter(model["modelTopology"], weights, args.input)
        outputs = []
        for spec in args.outputs.split(","):
            tf_name, _, onnx_name = spec.partition("=")
            if tf_name not in conv.nodes:
                raise ConversionError(f"output '{tf_name}' is not a node of the graph")
            outputs.append(conv.output(tf_name, onnx_name or tf_name))
    except ConversionError as e:
        print(f"tfjs2onnx: {e}", file=sys.stderr)
        return 1

    graph = helper.make_graph(conv.onnx_nodes, "centernet", [conv.graph_input], outputs, conv.initializers)
    m = helper.make_model(graph, producer_name="splitnn-tfjs2onnx", producer_version=CONVERTER_VERSION,
                          opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    meta = {"splitnn.converter": f"tfjs2onnx {CONVERTER_VERSION}"}
    for kv in args.metadata:
        k, _, v = kv.partition("=")
        meta[k] = v
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    tmp = args.out_onnx + ".tmp"
    onnx.save(m, tmp)
    os.replace(tmp, args.out_onnx)
    n_params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    print(f"tfjs2onnx: wrote {args.out_onnx}: {len(m.graph.node)} nodes, {n_params} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
