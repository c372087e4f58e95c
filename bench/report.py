#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables, ratios and the plot from what bench/run wrote into OUT.

    bench/report.py OUT        prints Markdown tables; writes OUT/report.md and OUT/performance.png
"""
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def jsonl(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" ---: " for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main(out):
    out = Path(out)
    lines = []
    say = lines.append
    m = json.loads(out.joinpath("machine.json").read_text())
    say(f"Machine: {m['model']}, {m['cpus']} cores, {m['mem_gib']} GiB RAM. Last bench/run "
        f"(steps: {m.get('steps', 'all')}): {m['date']}, commit {m['commit']}, load average "
        f"{m['load_before']} before, {m.get('load_after', '?')} after.")

    # ---- engine
    eng = out.joinpath("engine.txt").read_text() if out.joinpath("engine.txt").exists() else ""
    rows, ratios = [], {}
    cpu = dict((int(t), (a, b, r)) for t, a, b, r in re.findall(
        r"threads (\d):.*\n.*\n  CPU time per frame: libsplitnn ([\d.]+) ms, ONNX Runtime least ([\d.]+) ms, ratio ([\d.]+)", eng))
    for t, sn, cfg, ort, r in re.findall(
            r"threads (\d): libsplitnn ([\d.]+) ms \(cpu [\d.]+\), ONNX Runtime fastest \((\S+)\) ([\d.]+) ms, ratio ([\d.]+)", eng):
        c = cpu.get(int(t), ("?", "?", "?"))
        rows.append([t, f"{float(sn):.1f} ms", f"{float(ort):.1f} ms ({cfg})", r, f"{c[0]} / {c[1]} ms", c[2]])
        ratios[int(t)] = float(r)
    say("\n### Engine: libsplitnn vs ONNX Runtime at its fastest (interleaved rounds)\n")
    for line in re.findall(r"^(machine: .*|XNNPACK microkernels.*|load average .*)$", eng, re.M):
        say(f"    {line}")
    say("")
    say(table(["threads", "libsplitnn", "ONNX Runtime fastest", "ratio (lower is better)",
               "CPU per frame (libsplitnn / ONNX Runtime)", "CPU ratio"], rows))
    for line in re.findall(r"^(busy: .*|achieved: .*|dense3x3 .*|pointwise .*)$", eng, re.M):
        say(f"\n{line}")
    ref = re.search(r"reference kernels.*: (\d+) ms", eng)
    if ref:
        say(f"\nReference kernels (the oracle, 1 thread): {ref.group(1)} ms.")

    # ---- stages
    st = json.loads(out.joinpath("stages.json").read_text()) if out.joinpath("stages.json").exists() else None
    if st:
        stages_tables(st, say)
    target = {}
    if st:
        big = next(c for c in st["cuts"] if c["id"] == st["largest_cut"])
        target = {r["bits"]: r["encode_ms"] for r in big["codecs"] if r["codec"] == "lossless"}
    elements_tables(out, say)
    serve = jsonl(out / "serve.jsonl")
    streams_table(serve, say)

    # ---- summary
    say("\n### Ratios\n")
    for t, r in sorted(ratios.items()):
        say(f"- engine, {t} thread{'s' if t > 1 else ''}: libsplitnn / fastest ONNX Runtime = {r:.2f} "
            f"({'met' if r <= 0.8 else 'MISSED'}: target <= 0.8, issue 21)")
    if st:
        w1 = st["whole_ms"][0]
        say(f"- preprocessing / whole network (1 thread): RGB {st['preprocess_stretch_ms'] / w1:.3f}, "
            f"I420 {st['preprocess_i420_ms'] / w1:.3f}; CenterNet decode / whole network: {st['decode_ms'] / w1:.3f}")
    for bits, ms in sorted(target.items()):
        say(f"- largest cut {st['largest_cut']}, {bits} bits: quantize+pack+lossless encode {ms:.2f} ms "
            f"({'met' if ms < 2 else 'MISSED'}: target < 2 ms)")
    for r in serve:
        if r["offered"] == 8:
            met = keeps_up(r)
            k = r.get("pipelines", 1)
            say(f"- 8 streams x 10 fps at cut {r['cut']}, {k} cloud pipeline{'s' if k > 1 else ''} x "
                f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}: {r['total_fps']:.1f} fps delivered, "
                f"{'met' if met else 'not met'} (cloud {r['cloud_median_ms']:.1f} ms/frame: capacity about "
                f"{k * 1000 / r['cloud_median_ms']:.0f} fps; cloud process CPU {r['cpu_percent']:.0f} % of one core)")
    text = "\n".join(lines)
    print(text)
    out.joinpath("report.md").write_text(text + "\n")
    if st:
        plot(out, st, serve)


def keeps_up(r):
    """Every stream delivered at 10 fps (9.5 allows for counting at the window's edges) and the
    queue did not grow: a cloud that falls behind shows it as seconds of latency."""
    fps = r["fps_per_stream"]
    return len(fps) == r["offered"] and min(fps) >= 9.5 and r["latency_p90_ms"] < 1000


def stages_tables(st, say):
    w1, w2 = st["whole_ms"]
    say(f"\n### Stages ({st['frames']} frames of vtest.avi, every {st['step']}th; each ratio against the "
        "whole network measured in the same frame loop)\n")
    say(table(["stage", "median", "ratio to the whole network (1 thread)"], [
        ["whole network, 1 thread", f"{w1:.1f} ms", "1"],
        ["whole network, 2 threads", f"{w2:.1f} ms", f"{w2 / w1:.2f}"],
        [f"preprocess {st['frame_width']}x{st['frame_height']} RGB -> 512x512, stretch",
         f"{st['preprocess_stretch_ms']:.2f} ms", f"{st['preprocess_stretch_ms'] / w1:.3f}"],
        ["preprocess, RGB, letterbox", f"{st['preprocess_letterbox_ms']:.2f} ms", f"{st['preprocess_letterbox_ms'] / w1:.3f}"],
        ["preprocess, I420 (what decoders give splitnnedge), stretch", f"{st['preprocess_i420_ms']:.2f} ms",
         f"{st['preprocess_i420_ms'] / w1:.3f}"],
        [f"CenterNet decode, top-100 + NMS ({st['detections']:.0f} detections)", f"{st['decode_ms']:.2f} ms",
         f"{st['decode_ms'] / w1:.3f}"],
    ]))
    say("\n#### Per cut: edge and cloud parts\n")
    rows = []
    for c in st["cuts"]:
        e1, e2 = c["edge_ms"]
        c1, c2 = c["cloud_ms"]
        rows.append([c["id"], c["tensors"], f"{c['values']:,}", f"{e1:.1f}", f"{c1:.1f}", f"{(e1 + c1) / w1:.2f}",
                     f"{e2:.1f}", f"{c2:.1f}", f"{(e2 + c2) / w2:.2f}"])
    say(table(["cut", "tensors", "values", "edge 1t ms", "cloud 1t ms", "(edge+cloud) / whole, 1t",
               "edge 2t ms", "cloud 2t ms", "(edge+cloud) / whole, 2t"], rows))
    say("\n#### Per cut and bit width: quantize, and encode / decode per codec (ms; KB on the wire)\n")
    say("Encode = quantize + pack + code + packet (CRC included), what splitnnedge does after the edge part; "
        "decode = parse + check + decode + dequantize, what splitnncloud does before the cloud part.\n")
    rows = []
    for c in st["cuts"]:
        by = defaultdict(dict)
        for r in c["codecs"]:
            by[r["bits"]][r["codec"]] = r
        for bits, cs in sorted(by.items()):
            row = [c["id"], bits, f"{cs['none']['quant_ms']:.2f}"]
            for name in ("none", "lossless", "lossy", "auto"):
                r = cs[name]
                row.append(f"{r['encode_ms']:.2f} / {r['decode_ms']:.2f} ({r['bytes'] / 1000:.0f})")
            rows.append(row)
    say(table(["cut", "bits", "quantize", "none", "lossless", "lossy", "auto"], rows))
    big = next(c for c in st["cuts"] if c["id"] == st["largest_cut"])
    say(f"\nTarget: quantize + pack + lossless encode of the largest useful cut (cut {big['id']}, "
        f"{big['values']:,} values) under 2 ms per frame:\n")
    for r in big["codecs"]:
        if r["codec"] == "lossless":
            say(f"- {r['bits']} bits: {r['encode_ms']:.2f} ms ({'met' if r['encode_ms'] < 2 else 'MISSED'}; "
                f"{r['encode_ms'] / big['edge_ms'][0]:.3f} of its 1-thread edge part)")


def elements_tables(out, say):
    names = {"0": "cloud-only peer (cut 0: the input image)", "48": "edge-only peer (cut 48: the heads)"}
    edge = defaultdict(list)
    for r in jsonl(out / "edge.jsonl"):
        edge[r["cut"]].append(r)
    if edge:
        peer = med([r["median_ms"] for r in edge.get("48", [])])
        say("\n### splitnnedge in a pipeline (filesrc ! decodebin ! videoconvert ! splitnnedge ! appsink, "
            "no clock, 1 thread; medians over the rounds, cuts interleaved)\n")
        rows = []
        for cut, rs in edge.items():
            ms = med([r["median_ms"] for r in rs])
            rows.append([names.get(cut, f"cut {cut}"), f"{ms:.1f}", f"{med([r['p90_ms'] for r in rs]):.1f}",
                         f"{med([r['element_fps'] for r in rs]):.1f}", f"{med([r['pipeline_fps'] for r in rs]):.1f}",
                         f"{med([r['mean_bytes'] for r in rs]) / 1000:.0f}", f"{max(r['peak_rss_mib'] for r in rs):.0f}",
                         f"{ms / peer:.2f}"])
        say(table(["edge runs", "ms/frame (median)", "p90", "element fps", "pipeline fps", "KB/packet",
                   "peak RSS MiB", "time / edge-only"], rows))
    cloud = defaultdict(list)
    for r in jsonl(out / "cloud.jsonl"):
        cloud[(r["cut"], r["threads"])].append(r)
    if cloud:
        say("\n### splitnncloud on the recorded packets (appsrc ! splitnncloud ! fakesink, no clock; medians "
            "over the rounds, cuts and thread counts interleaved)\n")
        rows = []
        for (cut, t), rs in cloud.items():
            ms = med([r["median_ms"] for r in rs])
            peer = med([r["median_ms"] for r in cloud.get(("0", t), [])])
            rows.append([names.get(cut, f"cut {cut}"), t, f"{ms:.1f}", f"{med([r['p90_ms'] for r in rs]):.1f}",
                         f"{med([r['element_fps'] for r in rs]):.1f}", f"{max(r['peak_rss_mib'] for r in rs):.0f}",
                         f"{ms / peer:.2f}"])
        say(table(["cloud runs", "threads", "ms/packet (median)", "p90", "element fps", "peak RSS MiB",
                   "time / cloud-only"], rows))



def streams_table(serve, say):
    if serve:
        say("\n### One cloud process fed by N streams at 10 fps over ZeroMQ (tcp loopback)\n")
        say("The streams replay the edge's recorded packets from one sender process (no edge network "
            "runs during these runs). Cloud: one splitnncloud at 2 threads (1 x 2), or two splitnncloud "
            "pipelines at 1 thread each in the same process, the streams split between their ports (2 x 1). "
            "Delivered = detections out of the cloud per stream per second, counted after the warm-up; "
            "latency = from the sender's send to the detections leaving the cloud. 10 fps each = every "
            "stream at 9.5 fps or more and latency p90 under 1 s (a cloud that falls behind queues).\n")
        rows = []
        for r in serve:
            fps = r["fps_per_stream"]
            ok = keeps_up(r)
            cap = 1000 / r["cloud_median_ms"] if r["cloud_median_ms"] else float("nan")
            cap *= r.get("pipelines", 1)
            rows.append([r["cut"], f"{r.get('pipelines', 1)} x {r['threads']}", r["offered"],
                         f"{min(fps):.1f}-{max(fps):.1f}" if fps else "0",
                         f"{r['total_fps']:.1f} / {10 * r['offered']}", "yes" if ok else "**no**",
                         f"{r['cloud_median_ms']:.1f}", f"{cap:.0f}", f"{r['latency_median_ms']:.0f}",
                         f"{r['latency_p90_ms']:.0f}", f"{r['cpu_percent']:.0f}", f"{r['peak_rss_mib']:.0f}",
                         r.get("load", "?")])
        say(table(["cut", "cloud pipelines x threads", "streams", "delivered fps per stream", "total fps / offered", "10 fps each?",
                   "cloud ms/frame", "capacity fps (pipelines x 1000 / ms)", "latency median ms", "p90",
                   "cloud CPU % (of one core)", "peak RSS MiB", "load average after"], rows))


def plot(out, st, serve):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no matplotlib: no plot; scripts/setup installs python3-matplotlib)")
        return
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8))
    cuts = st["cuts"]
    x = range(len(cuts))
    w = 0.38
    for k, (t, shade) in enumerate(((0, 0.0), (1, 0.45))):
        off = [i + (k - 0.5) * w for i in x]
        e = [c["edge_ms"][t] for c in cuts]
        cl = [c["cloud_ms"][t] for c in cuts]
        ax[0].bar(off, e, w, color=(0.15 + shade, 0.35 + shade / 2, 0.7), label=f"edge, {t + 1} thread{'s' if t else ''}")
        ax[0].bar(off, cl, w, bottom=e, color=(0.85, 0.45 + shade / 2, 0.15 + shade),
                  label=f"cloud, {t + 1} thread{'s' if t else ''}")
        ax[0].axhline(st["whole_ms"][t], color="k", ls="--" if t else ":", lw=1,
                      label=f"whole network, {t + 1} thread{'s' if t else ''}")
    ax[0].set_xticks(list(x), [str(c["id"]) for c in cuts])
    ax[0].set_xlabel("cut")
    ax[0].set_ylabel("ms per frame (median)")
    ax[0].set_title("Edge and cloud parts per cut")
    ax[0].legend(fontsize=7)
    codecs = ("none", "lossless", "lossy", "auto")
    for k, name in enumerate(codecs):
        enc = [next(r["encode_ms"] for r in c["codecs"] if r["codec"] == name and r["bits"] == 8) for c in cuts]
        dec = [next(r["decode_ms"] for r in c["codecs"] if r["codec"] == name and r["bits"] == 8) for c in cuts]
        off = [i + (k - 1.5) * 0.2 for i in x]
        ax[1].bar(off, enc, 0.2, label=f"{name} encode")
        ax[1].scatter(off, dec, marker="_", s=80, color="k", zorder=3, label="decode" if k == 0 else None)
    ax[1].axhline(2, color="r", lw=1, ls="--", label="2 ms target (lossless)")
    ax[1].set_xticks(list(x), [str(c["id"]) for c in cuts])
    ax[1].set_xlabel("cut")
    ax[1].set_ylabel("ms per frame (median)")
    ax[1].set_title("Encode (bars) and decode (ticks), 8 bits")
    ax[1].legend(fontsize=7)
    for cut in sorted({r["cut"] for r in serve}, key=int):
        rs = [r for r in serve if r["cut"] == cut and r.get("pipelines", 1) == 1]
        line, = ax[2].plot([r["offered"] for r in rs], [r["total_fps"] for r in rs], "o-",
                           label=f"cut {cut}, 1 x 2 threads")
        two = [r for r in serve if r["cut"] == cut and r.get("pipelines", 1) > 1]
        if two:
            ax[2].plot([r["offered"] for r in two], [r["total_fps"] for r in two], "s", mfc="none", ms=9,
                       color=line.get_color(), label=f"cut {cut}, 2 x 1 thread")
    if serve:
        n = sorted({r["offered"] for r in serve})
        ax[2].plot(n, [10 * k for k in n], "k--", lw=1, label="offered (10 fps per stream)")
    ax[2].set_xlabel("concurrent streams")
    ax[2].set_ylabel("delivered frames per second, all streams")
    ax[2].set_title("One cloud process, N streams at 10 fps")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "performance.png", dpi=110)
    print(f"\nplot: {out / 'performance.png'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/bench")
