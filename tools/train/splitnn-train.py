#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Train the quantization-switch model: one weight set for every split path.

Source patent (shared/seeds/000, [0066]-[0082]): a model is trained for all
split paths at once.  For each path only the tensors of that path's cut are
quantized; right after the dequantized feature a precision-restoration (PR)
convolution and a batch normalization kept per path restore what the
quantizer took; every iteration sums the losses of all paths and updates
once.  Beyond the patent, each crossing tensor can go through a learned
bottleneck (an edge-side 1x1 convolution to fewer channels, inverted by the
cloud-side PR convolution), which is what brings a packet under a JPEG of
the input.  See docs/training.md.

Labels are not available for our footage, so the loss distils the unsplit
float model's CenterNet outputs (heatmaps and box sizes).

    splitnn-train.py MODEL.onnx --frames data/vtest.avi --cuts-json cuts.json \\
        --out models/centernet-qs.onnx [--mode adapters|full] [--bits 2,4,8] ...
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import snonnx  # noqa: E402


# ---------------------------------------------------------------- frames

def load_frames(spec, first, count, size, splitnn_bin=None):
    """Model inputs (N x H x W x 3 float32, RGB 0-255, frame stretched to the
    model's input the way libsplitnn's preprocessing does) from a video, an
    image, a folder of images, or a folder of .npy inputs written by
    `splitnn detect --save-inputs`."""
    paths = spec.split(",")
    out = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.listdir(p))
            npys = [n for n in names if n.endswith(".npy")]
            if npys:
                out += [np.load(os.path.join(p, n)).reshape(size, size, 3) for n in npys]
            else:
                out += [_read_image(os.path.join(p, n), size) for n in names
                        if n.lower().endswith((".jpg", ".jpeg", ".png"))]
        elif p.lower().endswith((".jpg", ".jpeg", ".png")):
            out.append(_read_image(p, size))
        else:
            out += _read_video(p, first, count, size, splitnn_bin)
    return np.stack(out).astype(np.float32)


def _stretch(rgb, size):
    """TF legacy bilinear (no half-pixel centres), like sn-image.c."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    return snonnx.resize_linear_asymmetric(t, size, size)[0].permute(1, 2, 0).numpy()


def _read_image(path, size):
    try:
        import cv2
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        return _stretch(bgr[:, :, ::-1], size)
    except ImportError:
        from PIL import Image
        return _stretch(np.asarray(Image.open(path).convert("RGB")), size)


def _read_video(path, first, count, size, splitnn_bin):
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        cap = cv2.VideoCapture(path)
        frames, i = [], 0
        while len(frames) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            if i >= first:
                frames.append(_stretch(bgr[:, :, ::-1], size))
            i += 1
        return frames
    # No OpenCV (Debian without python3-opencv): libsplitnn decodes the video
    # through GStreamer and writes the exact model inputs.
    if not splitnn_bin:
        raise SystemExit("reading %s needs python3-opencv or --splitnn (the splitnn tool)" % path)
    tmp = tempfile.mkdtemp(prefix="splitnn-frames-")
    try:
        subprocess.run([splitnn_bin, "detect", args_model_global, path, "--frames", str(first + count),
                        "--save-inputs", tmp], check=True, stdout=subprocess.DEVNULL)
        names = sorted(n for n in os.listdir(tmp) if n.endswith(".npy"))[first:]
        return [np.load(os.path.join(tmp, n)).reshape(size, size, 3) for n in names]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


args_model_global = None


# ---------------------------------------------------------------- paths

def choose_paths(cuts, input_values):
    """The patent's default path option: among the cuts worth using (fewer
    values cross than the model input has, and some work on each side), the
    first cut of each group with the same feature size (the spatial size of
    the deepest tensor crossing)."""
    groups = {}
    for c in cuts:
        if c["values"] >= input_values or c["edge_flops"] <= 0 or c["cloud_flops"] <= 0:
            continue
        hw = min(t["shape"][2] * t["shape"][3] for t in c["tensors"] if len(t["shape"]) == 4
                 and t["shape"][2] * t["shape"][3] > 1)
        if hw not in groups:
            groups[hw] = c
    return [groups[k] for k in sorted(groups, reverse=True)]


def resolve_cuts(cuts, spec, input_values):
    if spec in (None, "", "auto"):
        return choose_paths(cuts, input_values)
    chosen = []
    for s in spec.split(","):
        m = [c for c in cuts if str(c["id"]) == s or c["name"] == s]
        if not m:
            raise SystemExit("no cut %r in the model (see `splitnn cuts`)" % s)
        chosen.append(m[0])
    return chosen


# ---------------------------------------------------------------- the quantization switch

def fake_quant(x, bits):
    """Per-sample, per-channel min/max affine quantization — exactly what
    libsplitnn's quantizer does with per-channel ranges — with a
    straight-through gradient."""
    if bits >= 32:
        return x
    if bits == 16:
        return x + (x.half().float() - x).detach()
    levels = (1 << bits) - 1
    lo = x.amin(dim=(2, 3), keepdim=True).detach()
    hi = x.amax(dim=(2, 3), keepdim=True).detach()
    scale = torch.where(hi > lo, (hi - lo) / levels, torch.ones_like(hi))
    q = torch.clamp(torch.floor((x - lo) / scale + 0.5), 0, levels)
    return x + (lo + q * scale - x).detach()


class TensorAdapter(nn.Module):
    """What one crossing tensor goes through on one path: bottleneck (edge),
    quantizer, precision restoration and per-path batch norm (cloud).

    The bottleneck maps each s x s patch of the C-channel tensor to k
    values (a conv with kernel and stride s; s = 1 is a 1x1 conv), and the
    PR layer maps them back (the transposed conv).  With k = C and s = 1
    the adapter is the patent's: PR conv + BN after the quantized feature."""

    def __init__(self, channels, k, bits, stride=1):
        super().__init__()
        self.channels, self.k, self.bits, self.stride = channels, k, bits, stride
        self.edge = nn.Conv2d(channels, k, stride, stride=stride)
        self.pr = nn.ConvTranspose2d(k, channels, stride, stride=stride)
        self.bn = nn.BatchNorm2d(channels, momentum=0.05)

    def init_from(self, feats):
        """PCA of the float feature's patches: the bottleneck keeps the top-k
        components, the PR layer maps them back; with k = C and s = 1 this is
        the identity.  The BN's affine starts at the feature's own statistics
        so the whole adapter starts close to the identity."""
        C, k, s = self.channels, self.k, self.stride
        N, _, H, W = feats.shape
        patches = feats.double().reshape(N, C, H // s, s, W // s, s).permute(0, 2, 4, 1, 3, 5)
        x = patches.reshape(-1, C * s * s)
        mu = x.mean(0)
        if k == C * s * s:
            v = torch.eye(C * s * s, dtype=torch.float64)
        else:
            cov = ((x - mu).T @ (x - mu)) / max(1, x.shape[0] - 1)
            evals, evecs = torch.linalg.eigh(cov)
            v = evecs[:, torch.argsort(evals, descending=True)[:k]]
        with torch.no_grad():
            w = v.T.reshape(k, C, s, s).float()
            self.edge.weight.copy_(w)
            self.edge.bias.copy_((-(v.T @ mu)).float())
            self.pr.weight.copy_(w)             # ConvTranspose2d weight is [in=k, out=C, s, s]
            self.pr.bias.copy_(mu.reshape(C, s * s).mean(1).float())
            recon = (x - mu) @ v @ v.T + mu
            rc = recon.reshape(-1, C, s * s).permute(0, 2, 1).reshape(-1, C)
            m, var = rc.mean(0), rc.var(0)
            self.bn.running_mean.copy_(m.float())
            self.bn.running_var.copy_(var.float())
            self.bn.weight.copy_(torch.sqrt(var + self.bn.eps).float())
            self.bn.bias.copy_(m.float())

    def forward(self, x):
        z = fake_quant(self.edge(x), self.bits)
        return self.bn(self.pr(z))

    def folded(self):
        """(edge W [k,C,s,s], edge b [k], cloud W [k,C,s,s], cloud b [C]) with
        the BN folded into the PR layer, as libsplitnn applies them."""
        sc = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        cw = self.pr.weight * sc[None, :, None, None]
        cb = (self.pr.bias - self.bn.running_mean) * sc + self.bn.bias
        return (self.edge.weight.detach(), self.edge.bias.detach(), cw.detach(), cb.detach())


class Path(nn.Module):
    def __init__(self, cut, bits, ratio, min_values, stride, stride_min):
        super().__init__()
        self.cut, self.bits = cut, bits
        self.tensors = [t["name"] for t in cut["tensors"]]
        self.name = "cut%d-%db" % (cut["id"], bits)
        ads = []
        for t in cut["tensors"]:
            C = t["shape"][1]
            values = int(np.prod(t["shape"]))
            small = values <= min_values
            st = stride if (not small and t["shape"][2] >= stride_min
                            and t["shape"][2] % stride == 0 and t["shape"][3] % stride == 0) else 1
            k = C * st * st if (small or (ratio <= 1 and st == 1)) else max(1, math.ceil(C / ratio))
            ads.append(TensorAdapter(C, k, bits, st))
        self.adapters = nn.ModuleList(ads)

    def packet_values(self):
        return sum(a.k * int(np.prod(t["shape"][2:])) // (a.stride * a.stride)
                   for a, t in zip(self.adapters, self.cut["tensors"]))


class MultiPath(nn.Module):
    """The float network plus every path's adapters."""

    def __init__(self, net, paths):
        super().__init__()
        self.net = net
        self.paths = nn.ModuleList(paths)
        self.skips = [net.ancestors(p.tensors) for p in paths]

    def teacher(self, x):
        """Float outputs and every value (no gradients)."""
        with torch.no_grad():
            v = self.net.run({self.net.input_names[0]: x})
        return v

    def path_forward(self, i, values, x=None):
        """Outputs of path i.  With `values` (the float run's tensors) the
        edge part is not recomputed (adapters mode); with x it is (full mode,
        so gradients reach the edge weights)."""
        p = self.paths[i]
        if x is not None:
            edge = self.net.run({self.net.input_names[0]: x}, skip=set(range(len(self.net.nodes))) - self.skips[i])
            start = {t: edge[t] for t in p.tensors}
        else:
            start = {t: values[t] for t in p.tensors}
        start = {t: a(start[t]) for t, a in zip(p.tensors, p.adapters)}
        out = self.net.run(dict(start), skip=self.skips[i])
        return [out[o] for o in self.net.output_names]


def _logit(p):
    p = p.clamp(1e-6, 1 - 1e-6)
    return torch.log(p) - torch.log1p(-p)


def distill_loss(student, teacher):
    """CenterNet distillation.  Detections are the heatmap peaks above a
    threshold, so what matters is the cells where the float model or the
    student is active (objects and false positives), not the millions of
    background cells: an L1 between logits on those cells, normalised by
    their count (as CenterNet's focal loss normalises by objects), plus an L1
    on the box distances weighted by where the float model sees objects."""
    sk, swh = student
    tk, twh = teacher
    m = (torch.maximum(tk, sk.detach()) > 0.05).float()
    hm = (torch.abs(_logit(sk) - _logit(tk)) * m).sum() / (m.sum() + 1.0)
    obj = tk.amax(dim=3, keepdim=True)
    box = (torch.abs(swh - twh) * obj).sum() / (obj.sum() * 4 + 1e-6) / 16.0
    return hm + box


def validate(mp, frames, dev, batch=4):
    """Held-out check in eval mode, per path: of the float model's heatmap
    cells above 0.3, the fraction the path also has above 0.3, and the
    path's cells above 0.3 the float model does not have."""
    mp.eval()
    stats = [[0, 0, 0] for _ in mp.paths]
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            x = frames[i:i + batch].to(dev)
            v = mp.teacher(x)
            tk = v[mp.net.output_names[0]] > 0.3
            for pi in range(len(mp.paths)):
                sk = mp.path_forward(pi, v)[0] > 0.3
                stats[pi][0] += int(tk.sum())
                stats[pi][1] += int((tk & sk).sum())
                stats[pi][2] += int((sk & ~tk).sum())
    mp.train()
    mp.net.eval()
    return [(p.name, s[1] / max(1, s[0]), s[2] / max(1, s[0])) for p, s in zip(mp.paths, stats)]


# ---------------------------------------------------------------- export

def export(model_path, out_path, mp, cuts_meta, mode, ratio, provenance):
    """One ONNX file: the float graph (fine-tuned weights in full mode) plus
    each path's folded adapters as initializers, and `splitnn.paths`
    metadata telling libsplitnn which adapter belongs to which path."""
    m = onnx.load(model_path)
    if mode == "full":
        by_name = {i.name: i for i in m.graph.initializer}
        for name, key in mp.net.const_names.items():
            t = getattr(mp.net, key)
            if isinstance(t, nn.Parameter):
                by_name[name].CopyFrom(onnx.numpy_helper.from_array(t.detach().cpu().numpy(), name))
    desc = []
    for pi, p in enumerate(mp.paths):
        ad = []
        for ti, (tname, a) in enumerate(zip(p.tensors, p.adapters)):
            ew, eb, cw, cb = [t.cpu().numpy().astype(np.float32) for t in a.folded()]
            names = ["splitnn.path%d.t%d.%s" % (pi, ti, s) for s in ("edge_w", "edge_b", "cloud_w", "cloud_b")]
            for n, arr in zip(names, (ew, eb, cw, cb)):
                m.graph.initializer.append(onnx.numpy_helper.from_array(arr, n))
            ad.append({"tensor": tname, "channels": a.channels, "k": a.k, "stride": a.stride,
                       "edge_weight": names[0], "edge_bias": names[1],
                       "cloud_weight": names[2], "cloud_bias": names[3]})
        desc.append({"name": p.name, "cut": p.cut["name"], "bits": p.bits, "per_channel": True,
                     "adapters": ad})
    meta = {e.key: e for e in m.metadata_props}
    for key, value in (("splitnn.paths", json.dumps(desc, separators=(",", ":"))),
                       ("splitnn.training", json.dumps(provenance, separators=(",", ":")))):
        if key in meta:
            meta[key].value = value
        else:
            e = m.metadata_props.add()
            e.key, e.value = key, value
    onnx.save(m, out_path)


def export_delta(onnx_path, model_path, delta_path):
    """What training added to or changed in the model (adapters, metadata and,
    in full mode, the fine-tuned weights), as a compressed .npz: small
    enough to bring back from a training machine; apply_delta rebuilds the
    exported model from the original."""
    orig = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(model_path).graph.initializer}
    m = onnx.load(onnx_path)
    arrays = {}
    for i in m.graph.initializer:
        a = onnx.numpy_helper.to_array(i)
        if i.name not in orig or not np.array_equal(orig[i.name], a):
            arrays["init:" + i.name] = a
    meta = {e.key: e.value for e in m.metadata_props if e.key in ("splitnn.paths", "splitnn.training")}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(delta_path, **arrays)


def apply_delta(model_path, delta_path, out_path):
    d = np.load(delta_path)
    m = onnx.load(model_path)
    by_name = {i.name: i for i in m.graph.initializer}
    for key in d.files:
        if not key.startswith("init:"):
            continue
        name = key[5:]
        t = onnx.numpy_helper.from_array(d[key], name)
        if name in by_name:
            by_name[name].CopyFrom(t)
        else:
            m.graph.initializer.append(t)
    for k, v in json.loads(bytes(d["meta"]).decode()).items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, out_path)


# ---------------------------------------------------------------- main

def main(argv=None):
    global args_model_global
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--frames", help="video, image(s) or folder; comma-separated")
    ap.add_argument("--first", type=int, default=0, help="first video frame used (default 0)")
    ap.add_argument("--count", type=int, default=600, help="video frames used (default 600)")
    ap.add_argument("--cuts-json", help="output of `splitnn cuts --json MODEL` (else --splitnn runs it)")
    ap.add_argument("--splitnn", help="path of the splitnn tool (for cuts and video decoding)")
    ap.add_argument("--cuts", default="auto", help="'auto' (the patent's rule) or cut ids/names")
    ap.add_argument("--bits", default="4", help="bit widths; one path per cut and bit width")
    ap.add_argument("--bottleneck", type=float, default=4.0,
                    help="channel reduction ratio of the learned bottleneck (1: none, PR conv only)")
    ap.add_argument("--bottleneck-stride", type=int, default=1,
                    help="the bottleneck also pools s x s patches (learned) on tensors at least "
                    "--stride-min-size high (default 1: channels only)")
    ap.add_argument("--stride-min-size", type=int, default=64)
    ap.add_argument("--min-values", type=int, default=4096,
                    help="tensors with at most this many values get no bottleneck")
    ap.add_argument("--mode", choices=("adapters", "full"), default="adapters",
                    help="adapters: backbone frozen (fast); full: fine-tune every weight (the patent)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--out", required=True, help="output ONNX file")
    ap.add_argument("--log", help="write the loss curve (JSON lines) here")
    ap.add_argument("--val-first", type=int, default=600, help="first held-out video frame for the check")
    ap.add_argument("--val-count", type=int, default=24, help="held-out frames checked after training (0: none)")
    ap.add_argument("--delta", help="also write what training changed as a small .npz")
    ap.add_argument("--apply-delta", metavar="NPZ",
                    help="no training: rebuild --out from MODEL and a --delta file")
    a = ap.parse_args(argv)
    args_model_global = a.model
    if a.apply_delta:
        apply_delta(a.model, a.apply_delta, a.out)
        print("wrote %s" % a.out)
        return 0
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)

    if a.cuts_json:
        cuts = [json.loads(l) for l in open(a.cuts_json) if l.strip()]
    elif a.splitnn:
        res = subprocess.run([a.splitnn, "cuts", "--json", a.model], check=True, capture_output=True, text=True)
        cuts = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
    else:
        raise SystemExit("need --cuts-json or --splitnn to know the model's cuts")

    net = snonnx.OnnxNet(a.model)
    in_shape = [d.dim_value for d in net.proto.graph.input[0].type.tensor_type.shape.dim]
    size = in_shape[1]
    chosen = resolve_cuts(cuts, a.cuts, int(np.prod(in_shape)))
    bits = [int(b) for b in a.bits.split(",")]

    if not a.frames:
        raise SystemExit("--frames is required for training")
    if a.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    t0 = time.time()
    frames = load_frames(a.frames, a.first, a.count, size, a.splitnn)
    print("frames: %d from %s (%.1f s)" % (len(frames), a.frames, time.time() - t0), flush=True)
    frames_t = torch.from_numpy(frames)

    paths = [Path(c, b, a.bottleneck, a.min_values, a.bottleneck_stride, a.stride_min_size)
             for c in chosen for b in bits]
    mp = MultiPath(net, paths).to(dev)
    net.eval()
    for p in mp.parameters():
        p.requires_grad_(False)

    # Initialise the adapters from the float features of a calibration batch.
    calib = frames_t[torch.randperm(len(frames_t))[:min(16, len(frames_t))]].to(dev)
    vals = mp.teacher(calib)
    for p in paths:
        for t, ad in zip(p.tensors, p.adapters):
            ad.init_from(vals[t].cpu())
    del vals
    mp.to(dev)

    trainable = [q for p in paths for q in p.parameters()]
    if a.mode == "full":
        trainable += [q for q in net.parameters()]
    for q in trainable:
        q.requires_grad_(True)
    opt = torch.optim.Adam(trainable, lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.steps)
    for p in paths:
        print("path %-10s cut %2d  %d tensor(s)  %d values cross (%.1f KiB at %d bits)  bottleneck %s" % (
            p.name, p.cut["id"], len(p.tensors), p.packet_values(), p.packet_values() * p.bits / 8 / 1024,
            p.bits, [a2.k for a2 in p.adapters]), flush=True)

    log = open(a.log, "w") if a.log else None
    t0 = time.time()
    n = len(frames_t)
    for step in range(a.steps):
        idx = torch.randint(0, n, (a.batch,))
        x = frames_t[idx].to(dev)
        flip = torch.rand(a.batch, device=dev) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(2), x)
        teacher_vals = mp.teacher(x)
        teacher_out = [teacher_vals[o] for o in net.output_names]
        losses = []
        for i in range(len(paths)):
            out = mp.path_forward(i, teacher_vals, x if a.mode == "full" else None)
            losses.append(distill_loss(out, teacher_out))
        loss = torch.stack(losses).sum()
        if a.mode == "full":
            # The float path is a path too: it must stay what it was.
            fo = net(x)
            loss = loss + distill_loss(fo, teacher_out)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log:
            log.write(json.dumps({"step": step, "loss": float(loss.detach()),
                                  "paths": [float(l.detach()) for l in losses]}) + "\n")
        if step % max(1, a.steps // 20) == 0 or step == a.steps - 1:
            print("step %5d  loss %.5f  (%.1f s)" % (step, float(loss), time.time() - t0), flush=True)
    train_s = time.time() - t0
    print("trained %d steps in %.1f s (%.3f s/step, device %s)" % (a.steps, train_s, train_s / a.steps, dev))
    if a.val_count > 0 and not os.path.isdir(a.frames.split(",")[0]):
        val = torch.from_numpy(load_frames(a.frames.split(",")[0], a.val_first, a.val_count, size, a.splitnn))
        for name, recall, extra in validate(mp, val, dev):
            print("held-out (frames %d-%d): path %-10s keeps %.1f%% of the float model's hot cells, "
                  "adds %.1f%%" % (a.val_first, a.val_first + len(val) - 1, name, 100 * recall, 100 * extra))
    mp.eval()
    prov = {"mode": a.mode, "steps": a.steps, "batch": a.batch, "lr": a.lr,
            "frames": a.frames, "first": a.first, "count": len(frames), "bottleneck": a.bottleneck, "bottleneck_stride": a.bottleneck_stride,
            "seconds": round(train_s, 1), "device": str(dev)}
    export(a.model, a.out, mp.cpu(), cuts, a.mode, a.bottleneck, prov)
    print("wrote %s" % a.out)
    if a.delta:
        export_delta(a.out, a.model, a.delta)
        print("wrote %s (%d bytes)" % (a.delta, os.path.getsize(a.delta)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
