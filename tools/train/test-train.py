#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The training tool on a tiny detector-shaped model (runs in CI, CPU only).

Checks: the summed multi-path loss decreases; the exported model loads in
libsplitnn and lists its paths; for each path the C runtime's outputs equal
PyTorch's for the same input — exactly up to float rounding (1e-4) with
quantization off, and within the effect of one quantization step with it
on (both quantize with the same formula; a value at a rounding tie may
land one code apart)."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import snonnx  # noqa: E402

BUILD = os.environ.get("SPLITNN_BUILD_ROOT", os.path.join(HERE, "..", "..", "build"))
SPLITNN = os.path.join(BUILD, "tools", "splitnn")


def tiny_detector(path, rng):
    """NHWC 1x32x32x3 input, a stride-2 stem, a residual block whose input the
    head also taps (a skip, so some cuts carry two tensors), sigmoid heatmaps
    'keypoints' 1x16x16x3 and 'wh' 1x16x16x4, like the real detector."""
    inits, nodes = [], []

    def conv(name, x, cin, cout, k=3, stride=1, act="Relu"):
        w = (rng.standard_normal((cout, cin, k, k)) * (1.0 / np.sqrt(cin * k * k))).astype(np.float32)
        b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, name + "/w"), numpy_helper.from_array(b, name + "/b")])
        p = k // 2
        nodes.append(helper.make_node("Conv", [x, name + "/w", name + "/b"], [name + "/conv"],
                                      kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p]))
        if act:
            nodes.append(helper.make_node(act, [name + "/conv"], [name]))
            return name
        return name + "/conv"

    nodes.append(helper.make_node("Transpose", ["images"], ["nchw"], perm=[0, 3, 1, 2]))
    s = conv("stem", "nchw", 3, 8, stride=2)
    a = conv("block/a", s, 8, 12)
    bb = conv("block/b", a, 12, 8, act=None)
    nodes.append(helper.make_node("Add", [bb, s], ["block/add"]))
    h = conv("head/h", "block/add", 8, 8)
    nodes.append(helper.make_node("Concat", [h, s], ["head/cat"], axis=1))
    k = conv("head/k", "head/cat", 16, 3, k=1, act="Sigmoid")
    w = conv("head/wh", "head/cat", 16, 4, k=1, act="Relu")
    nodes.append(helper.make_node("Transpose", [k], ["keypoints"], perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("Transpose", [w], ["wh"], perm=[0, 2, 3, 1]))
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 32, 32, 3])],
                          [helper.make_tensor_value_info("keypoints", TensorProto.FLOAT, [1, 16, 16, 3]),
                           helper.make_tensor_value_info("wh", TensorProto.FLOAT, [1, 16, 16, 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def torch_path(model_path, path_index, bits, x):
    """The exported path computed by PyTorch from the exported file alone."""
    sys.path.insert(0, HERE)
    import importlib.util
    spec = importlib.util.spec_from_file_location("train", os.path.join(HERE, "splitnn-train.py"))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    m = onnx.load(model_path)
    net = snonnx.OnnxNet(m)
    desc = json.loads({p.key: p.value for p in m.metadata_props}["splitnn.paths"])[path_index]
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    with torch.no_grad():
        v = net.run({"images": x})
        start = {}
        for a in desc["adapters"]:
            z = F.conv2d(v[a["tensor"]], inits[a["edge_weight"]], inits[a["edge_bias"]], stride=a["stride"])
            z = train.fake_quant(z, bits)
            start[a["tensor"]] = F.conv_transpose2d(z, inits[a["cloud_weight"]], inits[a["cloud_bias"]],
                                                    stride=a["stride"])
        out = net.run(dict(start), skip=net.ancestors([a["tensor"] for a in desc["adapters"]]))
    return desc, [out[o].numpy() for o in net.output_names]


class TrainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        rng = np.random.default_rng(7)
        cls.model = os.path.join(d, "tiny.onnx")
        tiny_detector(cls.model, rng)
        frames = os.path.join(d, "frames")
        os.mkdir(frames)
        for i in range(12):
            np.save(os.path.join(frames, "f%02d.npy" % i), (rng.random((1, 32, 32, 3)) * 255).astype(np.float32))
        cls.frames = frames
        cuts = subprocess.run([SPLITNN, "cuts", "--json", cls.model], check=True, capture_output=True, text=True)
        cls.cuts = [json.loads(l) for l in cuts.stdout.splitlines()]
        cls.cuts_json = os.path.join(d, "cuts.json")
        with open(cls.cuts_json, "w") as f:
            f.write(cuts.stdout)
        cls.out = os.path.join(d, "tiny-qs.onnx")
        cls.log = os.path.join(d, "loss.jsonl")
        two = [c for c in cls.cuts if len(c["tensors"]) == 2]
        one = [c for c in cls.cuts if len(c["tensors"]) == 1 and c["edge_flops"] > 0 and c["cloud_flops"] > 0]
        assert two and one, "the tiny model should have single- and two-tensor cuts"
        cls.chosen = "%d,%d" % (one[0]["id"], two[0]["id"])
        spec = __import__("importlib.util").util.spec_from_file_location("train", os.path.join(HERE, "splitnn-train.py"))
        train = __import__("importlib.util").util.module_from_spec(spec)
        spec.loader.exec_module(train)
        rc = train.main([cls.model, "--frames", frames, "--cuts-json", cls.cuts_json, "--cuts", cls.chosen,
                         "--bits", "4,8", "--bottleneck", "2", "--bottleneck-stride", "2", "--stride-min-size", "16",
                         "--min-values", "16", "--steps", "400", "--batch", "4", "--lr", "3e-3", "--device", "cpu",
                         "--threads", "1", "--out", cls.out, "--log", cls.log])
        assert rc == 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_loss_decreases(self):
        losses = [json.loads(l)["loss"] for l in open(self.log)]
        first, last = np.mean(losses[:5]), np.mean(losses[-5:])
        self.assertLess(last, 0.8 * first, "loss went from %.4f to %.4f" % (first, last))

    def test_export_loads_and_lists_paths(self):
        res = subprocess.run([SPLITNN, "inspect", self.out], capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("trained paths: 4", res.stdout)
        # The float path is unchanged: same outputs as the original model.
        x = np.load(os.path.join(self.frames, "f00.npy"))
        net_a, net_b = snonnx.OnnxNet(self.model), snonnx.OnnxNet(self.out)
        with torch.no_grad():
            for a, b in zip(net_a(torch.from_numpy(x)), net_b(torch.from_numpy(x))):
                np.testing.assert_array_equal(a.numpy(), b.numpy())

    def _c_outputs(self, path_name, bits, x_file, outdir):
        res = subprocess.run([SPLITNN, "run", self.out, "-i", "images=" + x_file, "--path", path_name,
                              "--bits", str(bits), "-d", outdir], capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        return [np.load(os.path.join(outdir, n + ".npy")) for n in ("keypoints", "wh")]

    def test_c_matches_pytorch_per_path(self):
        x_file = os.path.join(self.frames, "f03.npy")
        x = torch.from_numpy(np.load(x_file))
        m = onnx.load(self.out)
        descs = json.loads({p.key: p.value for p in m.metadata_props}["splitnn.paths"])
        self.assertEqual(len(descs), 4)
        for i, d in enumerate(descs):
            for bits in (32, d["bits"]):
                with self.subTest(path=d["name"], bits=bits), tempfile.TemporaryDirectory() as od:
                    _, ref = torch_path(self.out, i, bits, x)
                    got = self._c_outputs(d["name"], bits, x_file, od)
                    for r, g in zip(ref, got):
                        self.assertEqual(r.shape, g.shape)
                        if bits == 32:
                            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)
                        else:
                            # Rounding ties may move a code by one step: bound
                            # the mean difference, not every element.
                            scale = max(1.0, float(np.abs(r).max()))
                            self.assertLess(float(np.abs(g - r).mean()) / scale, 2e-3)

    def test_bad_path_is_refused(self):
        res = subprocess.run([SPLITNN, "run", self.out, "-i", "images=" + os.path.join(self.frames, "f00.npy"),
                              "--path", "no-such-path"], capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("no trained path 'no-such-path'", res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
