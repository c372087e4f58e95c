# SPDX-License-Identifier: LGPL-2.1-or-later
"""Random loss on the shaped link (docs/performance.md, "Loss on the shaped
link"); run through bench/loss, which builds first.

The link of the shaped-link test (tests/netshape.py: two network
namespaces, a veth pair, tc tbf at RATE_MBIT on the edge's side) with
random loss added on both ends' ingress by nftables (`numgen random`): this
kernel has no sch_netem, and dropping on the receiving side is what a lossy
wire does (dropping in the sender's output hook would only make its TCP
retry at once).  ZeroMQ runs over TCP, so a lost packet becomes a
retransmission delay; a frame is lost only where zmqsink drops it (max-lag)
or a connection breaks.  What happened is read from the counters, not
assumed.

One stream per loss rate: report frames 400-794 of data/vtest.avi, every
5th (2 frames/s, 79 frames), through

  splitnnedge cut=4 codec=temporal range=calibrated SETTING ! zmqsink
  -> link ->  zmqsrc ! splitnncloud format=json threshold=0.05 ! filesink

and the same frames once through cut=edge-only (the unsplit float model)
as the reference.  bench/loss-fidelity pairs them by frame number and
scores them with the library's fidelity_ap50 (sn-eval.h), over the run and
per frame.  Writes out/loss-max-lag-N.json and prints the table in Markdown.
"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import netshape  # noqa: E402
from netshape import Link, Peer, MODEL, VIDEO, BUILD, SRC  # noqa: E402

# Report frames, every STEP-th: 2 frames/s, 79 frames.  At 5 frames/s the
# shared 2-core machine's cloud fell behind (seconds of queue, so zmqsrc's
# acks came late and zmqsink dropped for lag with no loss at all).
FIRST, LAST, STEP, SOURCE_FPS = 400, 794, 5, 10
FPS = SOURCE_FPS // STEP
RATE_MBIT = 20
MAX_LAG_MS = 150
# The frontier point 4:1:8:0:1:clip:3:0:3 of docs/performance.md ("Temporal
# feature codec"), intra only at the start and on a loss report.
SETTING = "bits=4 dead-zone=1 lone-dead-zone=3 residual-step=3 refresh=0 clip=0.999"
AFTER = 5                                    # frames scored after each gap
PORT = 5565
ACK = f"ack-endpoint=tcp://{Link.IP_CLOUD}:{PORT + 1}"
SPLITNN = os.path.join(BUILD, "tools", "splitnn")
LOSS_FIDELITY = os.path.join(BUILD, "bench", "loss-fidelity")


def machine_line():
    model, flags = platform.processor() or "?", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model in ("?", ""):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    isa = " ".join(x for x in ("avx2", "fma", "avx512f") if x in flags)
    return f"{model}, {os.cpu_count()} CPUs, {isa}"


def prepare(d):
    """The calibrated model (ranges from frames 0-399), the report frames as
    PNG and the
    reference detections."""
    os.makedirs(d, exist_ok=True)
    cal = os.path.join(d, "calibrated.onnx")
    if not os.path.exists(cal):
        subprocess.run([SPLITNN, "calibrate", MODEL, VIDEO, "--frames", "400", "--cuts", "4", "--clip", "0.999",
                        "-o", cal], check=True, stderr=subprocess.DEVNULL)
    clip = os.path.join(d, f"report-{STEP}")
    if not os.path.isdir(clip):
        # PNG, lossless: every run sees the same pixels (y4menc writes the
        # decoder's padded buffers, which y4mdec then cannot parse).
        every = clip + ".part"
        os.makedirs(every, exist_ok=True)
        subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO}", "!", "decodebin", "!",
                        "videoconvert", "!", "pngenc", "compression-level=1", "!", "multifilesink",
                        f"location={every}/%05d.png"], check=True)
        n = len(os.listdir(every))
        assert n > LAST, n
        for i in range(n):
            f = os.path.join(every, f"{i:05d}.png")
            if FIRST <= i <= LAST and (i - FIRST) % STEP == 0:
                os.rename(f, os.path.join(every, f"r{(i - FIRST) // STEP:05d}.png"))
            else:
                os.unlink(f)
        os.rename(every, clip)
    ref = os.path.join(d, f"reference-{STEP}.jsonl")
    if not os.path.exists(ref):
        subprocess.run(["gst-launch-1.0", "-q", "multifilesrc", f"location={clip}/r%05d.png", f"caps=image/png,framerate={FPS}/1", "!", "pngdec", "!", "videoconvert",
                        "!", "splitnnedge", f"model={MODEL}", "cut=edge-only", "!", "splitnncloud",
                        f"model={MODEL}", "format=json", "!", "filesink", f"location={ref}.part"], check=True)
        os.rename(ref + ".part", ref)
    return cal, clip, ref


def set_loss(link, percent):
    """Drop percent of the packets arriving at each end (nftables, netdev
    ingress), counted."""
    for ns, dev in ((link.ns_cloud, link.dev_cloud), (link.ns_edge, link.dev_edge)):
        rules = (f'table netdev snloss {{\n chain drop_in {{\n type filter hook ingress device "{dev}" priority 0;\n'
                 f' numgen random mod 10000 < {int(round(percent * 100))} counter drop\n }}\n}}\n')
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True,
                           capture_output=True)
        if r.returncode != 0:
            raise netshape.Unavailable(f"nft: {r.stderr.strip()} (Debian package nftables)")


def loss_counts(link):
    """Packets the loss rules dropped: (edge -> cloud, cloud -> edge)."""
    out = []
    for ns in (link.ns_cloud, link.ns_edge):
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", "netdev", "snloss"],
                           capture_output=True, text=True)
        n = 0
        for item in json.loads(r.stdout)["nftables"] if r.returncode == 0 else []:
            for e in item.get("rule", {}).get("expr", []):
                if "counter" in e:
                    n += e["counter"]["packets"]
        out.append(n)
    return tuple(out)


def run(percent, cal, clip, d):
    link = Link(f"snl{os.getpid() % 100000}")
    link.up(RATE_MBIT)
    try:
        set_loss(link, percent)
        out_json = os.path.join(d, f"loss-{percent}.jsonl")
        cloud = Peer(link.ns_cloud,
                     f"zmqsrc name=src endpoint=tcp://{Link.IP_CLOUD}:{PORT} {ACK} sender-eos=end ! queue ! "
                     f"splitnncloud name=c model={cal} format=json threshold=0.05 ! "
                     f"filesink location={out_json}",
                     "--out", "c", "--report", "c:packets,bad-packets,refused,mean-cloud-ms",
                     "--report", "src:received,dropped-malformed")
        time.sleep(1.5)
        edge = Peer(link.ns_edge,
                    f"multifilesrc location={clip}/r%05d.png caps=image/png,framerate={FPS}/1 ! pngdec ! videoconvert ! clocksync ! "
                    f"splitnnedge name=e model={cal} cut=4 codec=temporal range=calibrated {SETTING} ! "
                    f"zmqsink name=k endpoint=tcp://{Link.IP_CLOUD}:{PORT} {ACK} max-lag={MAX_LAG_MS} linger=5000 stats-interval=1000",
                    "--in", "e", "--report", "e:frames-in,frames-out,dropped,mean-bytes,refresh-requests",
                    "--report", "k:sent,dropped,dropped-lag,lost,discarded-at-stop,acks,bytes-sent")
        edge.wait(300)
        cloud.wait(60)
        dropped_packets = loss_counts(link)
    finally:
        Peer.kill_all()
        link.down()
    lat, _ = netshape.latencies(edge, cloud, "c")
    # zmqsink's link estimate (what max-lag divides the backlog by)
    estimates = [f.get("bandwidth-estimate", 0) / 1e6 for _, f in edge.messages("zmqsink-stats")]
    return {"loss-percent": percent, "packets-dropped-edge-to-cloud": dropped_packets[0],
            "packets-dropped-cloud-to-edge": dropped_packets[1],
            "edge": edge.report("e"), "zmqsink": edge.report("k"), "cloud": cloud.report("c"),
            "zmqsrc": cloud.report("src"), "ends": [edge.of("end"), cloud.of("end")],
            "errors": [p.err[-3:] for p in (edge, cloud)],
            "latency-ms": {"median": statistics.median(lat.values()) if lat else None,
                           "p90": netshape.percentile(list(lat.values()), 0.9),
                           "max": max(lat.values()) if lat else None},
            "bandwidth-estimate-mbit": {"median": statistics.median(estimates) if estimates else None,
                                        "min": min(estimates) if estimates else None},
            "detections": out_json}


def score(ref, result):
    lines = subprocess.run([LOSS_FIDELITY, ref, result["detections"]], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    rows = [json.loads(x) for x in lines]
    summary, frames = rows[-1], rows[:-1]
    # Gaps: runs of frames with no detections out (dropped by zmqsink,
    # refused by the cloud for want of a reference, lost); a gap's length is
    # the frames it took to recover.  After each gap, the per-frame
    # fidelity of the next AFTER delivered frames.
    gaps, after, i = [], [], 0
    while i < len(frames):
        if frames[i]["delivered"]:
            i += 1
            continue
        j = i
        while j < len(frames) and not frames[j]["delivered"]:
            j += 1
        gaps.append({"first-seq": frames[i]["seq"], "frames": j - i})
        after += [f["ap50"] for f in frames[j:j + AFTER] if f["delivered"]]
        i = j
    result.update(summary)
    result["gaps"] = gaps
    result["mean-frame-ap50-after-gap"] = statistics.mean(after) if after else None
    result["mean-frame-ap50"] = statistics.mean(f["ap50"] for f in frames if f["delivered"])
    return result


def table(results):
    lines = ["| random loss | packets dropped (edge->cloud / cloud->edge) | frames delivered | "
             "zmqsink dropped-lag / lost | cloud refused (no reference) / bad | refresh requests | "
             "fidelity_ap50 delivered / all | gaps, frames to recover (mean / max) | "
             "mean per-frame AP, all / 5 after a gap | latency median / p90 / max ms | bytes/frame | "
             "zmqsink link estimate median / min Mbit/s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        g = [x["frames"] for x in r["gaps"]]
        lat = r["latency-ms"]
        lines.append(
            f"| {r['loss-percent']} % | {r['packets-dropped-edge-to-cloud']} / {r['packets-dropped-cloud-to-edge']} "
            f"| {r['delivered']} / {r['frames']} "
            f"| {r['zmqsink'].get('dropped-lag')} / {r['zmqsink'].get('lost')} "
            f"| {r['cloud'].get('refused')} / {r['cloud'].get('bad-packets')} "
            f"| {r['edge'].get('refresh-requests')} "
            f"| {r['ap50_delivered']:.2f} / {r['ap50_all']:.2f} "
            f"| {len(g)}, {statistics.mean(g) if g else 0:.1f} / {max(g) if g else 0} "
            f"| {r['mean-frame-ap50']:.1f} / "
            + (f"{r['mean-frame-ap50-after-gap']:.1f}" if r["mean-frame-ap50-after-gap"] is not None else "—")
            + f" | {lat['median']:.0f} / {lat['p90']:.0f} / {lat['max']:.0f} "
            f"| {r['edge'].get('mean-bytes', 0):,.0f} | "
            + (f"{r['bandwidth-estimate-mbit']['median']:.1f} / {r['bandwidth-estimate-mbit']['min']:.1f} |"
               if r.get("bandwidth-estimate-mbit", {}).get("median") is not None else "— |"))
    return "\n".join(lines)


def main():
    global MAX_LAG_MS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--losses", default="0,1,5", help="loss rates in percent")
    ap.add_argument("--max-lag", type=int, default=MAX_LAG_MS,
                    help="zmqsink max-lag in ms (0: never drop for lag, so frames are only delayed)")
    ap.add_argument("--dir", default="/tmp/splitnn-loss", help="calibrated model, clip, reference, detections")
    args = ap.parse_args()
    MAX_LAG_MS = args.max_lag
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        netshape.check_prerequisites()
    except netshape.Unavailable as e:
        sys.exit(f"loss: {e}")
    start, load0 = time.monotonic(), os.getloadavg()
    cal, clip, ref = prepare(args.dir)
    results = []
    for p in [float(x) for x in args.losses.split(",")]:
        print(f"loss: {p} % ({time.monotonic() - start:.0f} s)", flush=True)
        results.append(score(ref, run(p if p % 1 else int(p), cal, clip, args.dir)))
    machine = (f"{machine_line()}; load average {load0[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
               f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    out = os.path.join(SRC, "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"loss-max-lag-{MAX_LAG_MS}.json"), "w") as fh:
        json.dump({"machine": machine, "setting": SETTING, "fps": FPS, "rate-mbit": RATE_MBIT,
                   "max-lag-ms": MAX_LAG_MS, "results": results}, fh, indent=1)
    print(table(results))
    print(f"loss: {machine}; {time.monotonic() - start:.0f} s; max-lag {MAX_LAG_MS} ms; "
          f"out/loss-max-lag-{MAX_LAG_MS}.json")


if __name__ == "__main__":
    main()
