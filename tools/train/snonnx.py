# SPDX-License-Identifier: LGPL-2.1-or-later
"""ONNX graphs of libsplitnn's op set as PyTorch modules.

The training tool needs the detector as a differentiable PyTorch module that
can start from any cut: given the cut's tensors, run only the nodes that
come after it.  This is a small interpreter, not a general converter: it
covers the ops libsplitnn's converter emits for CNN detectors (convolution,
elementwise arithmetic, clip/relu/sigmoid, global pooling, resize, concat,
transpose, pad) and refuses anything else by name, the way libsplitnn's
loader does.

Conv weights and biases become nn.Parameters (trainable in full
fine-tuning); every other initializer is a buffer.
"""

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

SUPPORTED = {
    "Add", "Sub", "Mul", "Div", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
    "Conv", "GlobalAveragePool", "ReduceMean", "Resize", "Concat", "Transpose", "Pad",
    "Identity", "MaxPool", "AveragePool",
}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pt_name(name):
    # nn.Module attribute names may not contain '.' or '/'.
    return "p_" + "".join(c if c.isalnum() else "_" for c in name) + "_%x" % (hash(name) & 0xFFFF)


def resize_linear_asymmetric(x, out_h, out_w):
    """Bilinear resize with ONNX 'asymmetric' coordinates (TF's legacy
    ResizeBilinear: src = dst * in / out, no half-pixel shift), the
    convention our converter keeps; F.interpolate has no such mode."""
    n, c, h, w = x.shape

    def axis(size_in, size_out, device):
        pos = torch.arange(size_out, device=device, dtype=torch.float32) * (size_in / size_out)
        lo = pos.floor().clamp(max=size_in - 1)
        frac = (pos - lo).clamp(0, 1)
        lo = lo.long()
        hi = (lo + 1).clamp(max=size_in - 1)
        return lo, hi, frac

    y0, y1, fy = axis(h, out_h, x.device)
    x0, x1, fx = axis(w, out_w, x.device)
    top = x[:, :, y0, :] * (1 - fy)[None, None, :, None] + x[:, :, y1, :] * fy[None, None, :, None]
    return top[:, :, :, x0] * (1 - fx) + top[:, :, :, x1] * fx


class OnnxNet(nn.Module):
    """The graph of an ONNX model, runnable from its inputs or from any set
    of intermediate tensors (a cut)."""

    def __init__(self, model):
        super().__init__()
        if isinstance(model, (str, bytes)):
            model = onnx.load(model)
        self.proto = model
        g = model.graph
        self.nodes = list(g.node)
        for n in self.nodes:
            if n.op_type not in SUPPORTED:
                raise ValueError("node %s: op %s is not supported by the training interpreter"
                                 % (n.name or n.output[0], n.op_type))
        self.input_names = [i.name for i in g.input]
        self.output_names = [o.name for o in g.output]
        self.attrs = [_attrs(n) for n in self.nodes]
        conv_params = set()
        for n in self.nodes:
            if n.op_type == "Conv":
                conv_params.update(n.input[1:])
        self.const_names = {}
        for init in g.initializer:
            arr = onnx.numpy_helper.to_array(init).copy()
            t = torch.from_numpy(arr)
            key = _pt_name(init.name)
            self.const_names[init.name] = key
            if init.name in conv_params and t.dtype == torch.float32:
                self.register_parameter(key, nn.Parameter(t))
            else:
                self.register_buffer(key, t)
        # Constant nodes become buffers too.
        for n in self.nodes:
            if n.op_type == "Constant":
                raise ValueError("Constant nodes should be folded by the converter")
        self.producer = {}
        for i, n in enumerate(self.nodes):
            for o in n.output:
                self.producer[o] = i

    def const(self, name):
        key = self.const_names.get(name)
        return None if key is None else getattr(self, key)

    def ancestors(self, tensors):
        """Indices of the nodes needed to compute `tensors` from the inputs."""
        need, stack = set(), [t for t in tensors]
        while stack:
            t = stack.pop()
            i = self.producer.get(t)
            if i is None or i in need:
                continue
            need.add(i)
            stack.extend(x for x in self.nodes[i].input if x)
        return need

    def run(self, values, skip=frozenset(), outputs=None, hooks=None):
        """Runs every node not in `skip` whose inputs are available, in graph
        order, on the dict `values` (tensor name -> torch tensor); returns
        `values`.  hooks maps a tensor name to a function applied to it right
        after it is produced (per-path adapters at split points)."""
        for i, n in enumerate(self.nodes):
            if i in skip:
                continue
            args = []
            for name in n.input:
                if not name:
                    args.append(None)
                    continue
                v = values.get(name)
                if v is None:
                    v = self.const(name)
                if v is None:
                    raise KeyError("node %s: input %s is not available" % (n.name, name))
                args.append(v)
            out = self._op(n, self.attrs[i], args)
            values[n.output[0]] = out
            if hooks and n.output[0] in hooks:
                values[n.output[0]] = hooks[n.output[0]](out)
        return values

    def forward(self, x):
        v = self.run({self.input_names[0]: x})
        return [v[o] for o in self.output_names]

    @staticmethod
    def _op(n, a, args):
        op = n.op_type
        if op == "Add":
            return args[0] + args[1]
        if op == "Sub":
            return args[0] - args[1]
        if op == "Mul":
            return args[0] * args[1]
        if op == "Div":
            return args[0] / args[1]
        if op == "Relu":
            return F.relu(args[0])
        if op == "Sigmoid":
            return torch.sigmoid(args[0])
        if op == "HardSigmoid":
            return (args[0] * a.get("alpha", 0.2) + a.get("beta", 0.5)).clamp(0, 1)
        if op == "HardSwish":
            return F.hardswish(args[0])
        if op == "Identity":
            return args[0]
        if op == "Clip":
            lo = args[1] if len(args) > 1 and args[1] is not None else None
            hi = args[2] if len(args) > 2 and args[2] is not None else None
            return torch.clamp(args[0], None if lo is None else float(lo), None if hi is None else float(hi))
        if op == "Conv":
            x, w = args[0], args[1]
            b = args[2] if len(args) > 2 else None
            pads = a.get("pads", [0] * 4)
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise ValueError("node %s: auto_pad is not supported" % n.name)
            # ONNX pads are [top, left, bottom, right]; F.pad wants (left, right, top, bottom).
            x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
            return F.conv2d(x, w, b, stride=a.get("strides", [1, 1]),
                            dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        if op == "GlobalAveragePool":
            return args[0].mean(dim=(2, 3), keepdim=True)
        if op == "ReduceMean":
            axes = a.get("axes")
            if axes is None and len(args) > 1 and args[1] is not None:
                axes = [int(v) for v in args[1]]
            return args[0].mean(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
        if op == "Concat":
            return torch.cat(args, dim=a["axis"])
        if op == "Transpose":
            return args[0].permute(*a["perm"])
        if op == "Pad":
            pads = [int(v) for v in args[1]]
            half = len(pads) // 2
            if any(pads[:2]) or any(pads[half:half + 2]):
                raise ValueError("node %s: padding of batch/channel axes" % n.name)
            value = float(args[2]) if len(args) > 2 and args[2] is not None else 0.0
            return F.pad(args[0], (pads[3], pads[half + 3], pads[2], pads[half + 2]), value=value)
        if op in ("MaxPool", "AveragePool"):
            pads = a.get("pads", [0] * 4)
            x = F.pad(args[0], (pads[1], pads[3], pads[0], pads[2]),
                      value=float("-inf") if op == "MaxPool" else 0.0)
            fn = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
            return fn(x, a["kernel_shape"], stride=a.get("strides", a["kernel_shape"]))
        if op == "Resize":
            mode = a.get("mode", b"nearest")
            ct = a.get("coordinate_transformation_mode", b"half_pixel")
            x = args[0]
            if len(args) > 3 and args[3] is not None and args[3].numel():
                oh, ow = int(args[3][2]), int(args[3][3])
            else:
                sc = args[2]
                oh, ow = int(x.shape[2] * float(sc[2])), int(x.shape[3] * float(sc[3]))
            if mode in (b"linear", "linear") and ct in (b"asymmetric", "asymmetric"):
                return resize_linear_asymmetric(x, oh, ow)
            if mode in (b"linear", "linear") and ct in (b"half_pixel", "half_pixel"):
                return F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)
            if mode in (b"nearest", "nearest") and ct in (b"asymmetric", "asymmetric"):
                return F.interpolate(x, size=(oh, ow), mode="nearest")
            raise ValueError("node %s: Resize mode %s / %s is not supported" % (n.name, mode, ct))
        raise ValueError("node %s: op %s is not supported" % (n.name, op))
