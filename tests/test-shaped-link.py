#!/usr/bin/env python3
"""Adaptive split over a shaped link (docs/adaptive.md, "The shaped-link test").

Two network namespaces joined by a veth pair; the edge's side of the link is
shaped with a tc token bucket (tbf).  The cloud (zmqsrc ! queue ! splitnncloud)
runs in one namespace, the edge (vtest.avi paced at its frame rate !
splitnnedge cut=auto ! zmqsink with acks) in the other.  During one stream
the rate steps 50 -> 2 -> 20 Mbit/s.  Then, at each rate, a few fixed cuts
run for a short stream each.  Checked:

 (a) after each step the edge gets a link estimate near the new rate within
     SETTLE_FRAMES frames, and the first cut change after the step goes the
     expected way (fewer predicted bytes after a drop; more bytes or less
     edge time after a rise);
 (b) once settled (last 60% of each phase), the median end-to-end latency
     is within 15% of the best fixed cut at that rate;
 (c) every frame that entered the edge came out of the cloud or is in a drop
     counter, and zmqsink sent exactly what zmqsrc received.

Needs root (ip netns, tc); exits 77 (skip) with the reason where namespaces
cannot be made.  Writes out/shaped-link.{json,svg} under the source root.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

SKIP = 77
SRC = os.environ.get("SPLITNN_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SPLITNN_BUILD_ROOT", os.path.join(SRC, "build"))
PEER = os.path.join(BUILD, "tests", "shaped-peer")
MODEL = os.path.join(SRC, "models", "centernet-mobilenetv3-coco.onnx")
VIDEO = os.path.join(SRC, "data", "vtest.avi")
OUT = os.path.join(SRC, "out")

# The schedule: (seconds after the first frame, rate in Mbit/s).
# 2 Mbit/s gets longer: it delivers about one frame a second.
STEPS = [(0, 50), (22, 2), (52, 20)]
ADAPTIVE_FRAMES = 750          # 75 s at vtest.avi's 10 frames/s (it has 795)
FIXED_FRAMES = {50: 60, 2: 180, 20: 60}   # per fixed-cut run
SETTLED = 0.6                  # (b) looks at the last 60 % of each phase
SETTLE_FRAMES = 30             # (a): estimate near the new rate within this many frames
LATENCY_TOLERANCE = 0.15       # (b)
MAX_LAG_MS = 150

PID = os.getpid() % 100000
NS_EDGE, NS_CLOUD = f"snl{PID}e", f"snl{PID}c"
DEV_EDGE, DEV_CLOUD = f"snl{PID}a", f"snl{PID}b"
IP_EDGE, IP_CLOUD = "10.199.77.1", "10.199.77.2"


def log(*a):
    print("shaped-link:", *a, flush=True)


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def sh(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def set_rate(mbit, first=False):
    # A token bucket: netem is not in every kernel.  The bucket lets its
    # depth through at line rate, so keep it small (10 kB or 2 ms of data);
    # a 4 MB queue never fills with max-lag bounding the backlog.
    burst = max(10000, int(mbit * 1e6 / 8 * 0.002))
    sh("ip", "netns", "exec", NS_EDGE, "tc", "qdisc", "add" if first else "change",
       "dev", DEV_EDGE, "root", "tbf", "rate", f"{mbit}mbit", "burst", str(burst), "limit", "4000000")


def setup_link():
    if os.geteuid() != 0:
        skip("needs root for ip netns and tc")
    for tool in ("ip", "tc"):
        if not shutil.which(tool):
            skip(f"'{tool}' not found (Debian package iproute2)")
    r = sh("ip", "netns", "add", NS_EDGE, check=False)
    if r.returncode != 0:
        skip(f"cannot create a network namespace here: {r.stderr.strip()}")
    try:
        make_link()
    except RuntimeError as e:
        teardown_link()
        skip(f"cannot make the veth link: {e}")


def make_link():
    sh("ip", "netns", "add", NS_CLOUD)
    sh("ip", "link", "add", DEV_EDGE, "type", "veth", "peer", "name", DEV_CLOUD)
    sh("ip", "link", "set", DEV_EDGE, "netns", NS_EDGE)
    sh("ip", "link", "set", DEV_CLOUD, "netns", NS_CLOUD)
    for ns, dev, ip in ((NS_EDGE, DEV_EDGE, IP_EDGE), (NS_CLOUD, DEV_CLOUD, IP_CLOUD)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # Frames leave in bursts; do not make each one restart slow start.
    sh("ip", "netns", "exec", NS_EDGE, "sysctl", "-qw", "net.ipv4.tcp_slow_start_after_idle=0", check=False)
    try:
        set_rate(STEPS[0][1], first=True)
    except RuntimeError as e:
        teardown_link()
        skip(f"cannot shape the link with tc tbf: {e}")


def teardown_link():
    for ns in (NS_EDGE, NS_CLOUD):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


PEERS = []


class Peer:
    """A shaped-peer process in a namespace; its JSON lines, collected."""

    def __init__(self, ns, pipeline, *opts):
        PEERS.append(self)
        self.events = []
        self.first_in = threading.Event()
        env = dict(os.environ, GST_DEBUG=os.environ.get("GST_DEBUG", "0"))
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, PEER, pipeline, *opts],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.err = []
        self.err_thread = threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True)
        self.err_thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.events.append(ev)
            if ev["ev"] == "in":
                self.first_in.set()

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(2)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        self.err_thread.join(5)

    def of(self, kind):
        return [e for e in self.events if e["ev"] == kind]

    def report(self, element):
        for e in self.of("report"):
            if e["element"] == element:
                return fields(e["s"])
        return {}

    def messages(self, name):
        return [(e["t"], fields(e["s"])) for e in self.of("msg") if e["s"].startswith(name + ",")]


def fields(s):
    """The fields of a serialised GstStructure, numbers as numbers."""
    out = {}
    for k, typ, v in re.findall(r"([\w-]+)=\(([\w]+)\)(\"(?:[^\"\\]|\\.)*\"|[^,;]+)", s):
        v = v.strip('"')
        if typ in ("int", "uint", "guint64", "gint64", "long", "ulong"):
            out[k] = int(v)
        elif typ in ("double", "float"):
            out[k] = float(v)
        else:
            out[k] = v
    return out


def run(cut, frames, steps=None):
    """One stream edge -> cloud.  Returns (edge, cloud, step times in us)."""
    port = 5555
    cloud = Peer(NS_CLOUD,
                 f"zmqsrc name=src endpoint=tcp://{IP_CLOUD}:{port} ack-endpoint=tcp://{IP_CLOUD}:{port + 1} "
                 f"! queue ! splitnncloud name=c model={MODEL} ! fakesink sync=false",
                 "--out", "c", "--report", "src:received,dropped-no-caps,dropped-malformed",
                 "--report", "c:packets,bad-packets")
    time.sleep(1.5)            # the cloud binds and loads the model
    edge = Peer(NS_EDGE,
                f"filesrc location={VIDEO} ! decodebin ! videoconvert ! clocksync ! identity eos-after={frames} "
                f"! splitnnedge name=e model={MODEL} cut={cut} stats-interval=250 "
                f"! zmqsink name=k endpoint=tcp://{IP_CLOUD}:{port} ack-endpoint=tcp://{IP_CLOUD}:{port + 1} "
                f"max-lag={MAX_LAG_MS} linger=5000",
                "--in", "e", "--report", "e:frames-in,frames-out,dropped",
                "--report", "k:sent,dropped,dropped-lag,acks,bandwidth-estimate")
    step_times = []
    if not edge.first_in.wait(60):
        edge.wait(0)
        cloud.wait(0)
        raise RuntimeError("the edge never produced a frame: " + "".join(edge.err[-5:]))
    t0 = time.monotonic()
    for at, rate in steps or []:
        time.sleep(max(0, t0 + at - time.monotonic()))
        if at > 0:
            set_rate(rate)
        step_times.append((time.monotonic() * 1e6, rate))
    edge.wait(frames / 10 * 2 + 60)
    cloud.wait(30)
    return edge, cloud, step_times


def latencies(edge, cloud):
    t_in = {e["seq"]: e["t"] for e in edge.of("in")}
    return {e["seq"]: (e["t"] - t_in[e["seq"]]) / 1000 for e in cloud.of("out") if e["seq"] in t_in}, t_in


def accounting(edge, cloud, what):
    e, k = edge.report("e"), edge.report("k")
    src, c = cloud.report("src"), cloud.report("c")
    outs = len(cloud.of("out"))
    problems = []
    if not (e and k and src and c):
        problems.append(f"{what}: missing reports (edge {edge.of('end')}, cloud {cloud.of('end')})")
        return problems, {}
    accounted = outs + e["dropped"] + k["dropped"] + src["dropped-no-caps"] + src["dropped-malformed"] + c["bad-packets"]
    fig = {"frames-in": e["frames-in"], "out": outs, "edge-dropped": e["dropped"], "sink-dropped": k["dropped"],
           "sink-dropped-lag": k["dropped-lag"], "sent": k["sent"], "received": src["received"],
           "no-caps": src["dropped-no-caps"], "malformed": src["dropped-malformed"], "bad": c["bad-packets"]}
    if accounted != e["frames-in"]:
        problems.append(f"{what}: {e['frames-in']} frames in, {accounted} accounted for: {fig}")
    if k["sent"] != src["received"] + src["dropped-no-caps"]:
        problems.append(f"{what}: zmqsink sent {k['sent']}, zmqsrc took {src['received']} "
                        f"+ {src['dropped-no-caps']} without caps")
    return problems, fig


def phase_of(t, step_times):
    i = 0
    for k, (ts, _) in enumerate(step_times):
        if t >= ts:
            i = k
    return i


def svg(path, frames, rate, est, cut, lat):
    W, H, L, R, T, B = 900, 420, 60, 60, 20, 40
    n = max(frames) + 1 if frames else 1
    X = lambda f: L + (W - L - R) * f / n
    top_rate = 60
    Yr = lambda v: T + (H - T - B) * (1 - min(v, top_rate) / top_rate)
    max_cut = max(cut + [1])
    Yc = lambda c: T + (H - T - B) * (1 - c / max_cut)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="14">shaped rate (grey), link estimate (blue) in Mbit/s, left; chosen cut (red), right; frame below</text>']
    for v in (0, 10, 20, 30, 40, 50, 60):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{Yr(v):.1f}" y2="{Yr(v):.1f}" stroke="#eee"/>'
                   f'<text x="{L - 5}" y="{Yr(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for c in range(0, max_cut + 1, max(1, max_cut // 6)):
        out.append(f'<text x="{W - R + 5}" y="{Yc(c) + 4:.1f}" fill="#c00">{c}</text>')
    for f in range(0, n, 100):
        out.append(f'<text x="{X(f):.1f}" y="{H - B + 15}" text-anchor="middle">{f}</text>')

    def poly(xs, ys, color, width=1.5):
        pts = " ".join(f"{X(x):.1f},{y:.1f}" for x, y in zip(xs, ys))
        return f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"/>'
    out.append(poly(frames, [Yr(r) for r in rate], "#999", 3))
    ef = [f for f, v in zip(frames, est) if v]
    out.append(poly(ef, [Yr(v) for v in est if v], "#06c"))
    out.append(poly(frames, [Yc(c) for c in cut], "#c00"))
    out.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(out))


def main():
    # meson's timeout sends SIGTERM: still stop the peers and remove the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    for f, what in ((PEER, "tests/shaped-peer (build it)"), (MODEL, "the model (scripts/fetch-assets)"),
                    (VIDEO, "data/vtest.avi (scripts/fetch-assets)")):
        if not os.path.exists(f):
            skip(f"missing {what}")
    setup_link()
    failures = []
    figures = {"steps": STEPS, "max-lag-ms": MAX_LAG_MS}
    try:
        start = time.monotonic()
        log(f"adaptive run: {ADAPTIVE_FRAMES} frames, rate steps {STEPS}")
        edge, cloud, step_times = run("auto", ADAPTIVE_FRAMES, STEPS)
        lat, t_in = latencies(edge, cloud)
        problems, acc = accounting(edge, cloud, "adaptive")
        failures += problems
        figures["adaptive-accounting"] = acc
        changes = [(f["frame"], f) for _, f in edge.messages("splitnn-cut-changed")]
        stats = [(t, f) for t, f in edge.messages("splitnn-edge-stats")]
        step_frames = []
        for ts, _ in step_times:
            later = [s for s, t in t_in.items() if t >= ts]
            step_frames.append(min(later) if later else max(t_in))
        figures["step-frames"] = step_frames
        figures["cut-changes"] = [{"frame": f, "from": c["old-cut"], "to": c["new-cut"], "reason": c["reason"],
                                   "bandwidth": c["bandwidth"], "predicted-bytes": c["predicted-bytes"],
                                   "previous-bytes": c["previous-bytes"]} for f, c in changes]
        for f, c in changes:
            log(f"frame {f}: cut {c['old-cut']} -> {c['new-cut']} ({c['reason']}), "
                f"estimate {c['bandwidth'] / 1e6:.1f} Mbit/s, bytes {c['previous-bytes']:.0f} -> {c['predicted-bytes']:.0f}")

        # (a) estimate and direction after each step
        settle = []
        for i in range(1, len(step_times)):
            ts, rate = step_times[i]
            prev_rate = step_times[i - 1][1]
            near = [t for t, s in stats if t >= ts and abs(s["bandwidth"] / 1e6 - rate) <= 0.35 * rate]
            if near:
                settled_frame = min([s for s, t in t_in.items() if t >= near[0]] or [max(t_in)])
                settle.append(settled_frame - step_frames[i])
            else:
                settle.append(None)
            if settle[-1] is None or settle[-1] > SETTLE_FRAMES:
                failures.append(f"(a) step to {rate} Mbit/s: link estimate not within 35% after "
                                f"{SETTLE_FRAMES} frames (took {settle[-1]})")
            after = [c for f, c in changes if f >= step_frames[i] and (i + 1 >= len(step_frames) or f < step_frames[i + 1])]
            if after:
                c = after[0]
                if rate < prev_rate:
                    ok = c["predicted-bytes"] < c["previous-bytes"]
                else:
                    ok = c["predicted-bytes"] > c["previous-bytes"] or c["predicted-edge-ms"] < c["previous-edge-ms"]
                if not ok:
                    failures.append(f"(a) step to {rate} Mbit/s: first cut change goes the wrong way: {c}")
        figures["estimate-settle-frames"] = settle

        # cut per frame, and the settled figures per phase
        cut_at, cur = {}, -1
        ch = dict(changes)
        for s in sorted(t_in):
            if s in ch:
                cur = ch[s]["new-cut"]
            cut_at[s] = cur
        phases = []
        for i, (ts, rate) in enumerate(step_times):
            lo = step_frames[i]
            hi = step_frames[i + 1] if i + 1 < len(step_frames) else max(t_in) + 1
            half = hi - int((hi - lo) * SETTLED)
            l = [lat[s] for s in range(half, hi) if s in lat]
            cuts = sorted({cut_at[s] for s in range(half, hi) if s in cut_at})
            phases.append({"rate": rate, "frames": [lo, hi], "settled-cuts": cuts, "final-cut": cut_at.get(hi - 1, -1),
                           "delivered": len(l), "median-ms": statistics.median(l) if l else None})
        figures["adaptive"] = phases

        # fixed cuts at each rate: where the adaptive run ended each phase,
        # plus an early cut and the whole network on the edge (the smallest
        # packets with the default codec)
        candidates = sorted({p["final-cut"] for p in phases if p["final-cut"] >= 0} | {4, 48})
        figures["candidates"] = candidates
        figures["fixed"] = {}
        for _, rate in STEPS:
            set_rate(rate)
            res = {}
            for c in candidates:
                e2, c2, _ = run(str(c), FIXED_FRAMES[rate])
                l2, _ = latencies(e2, c2)
                problems, _ = accounting(e2, c2, f"cut {c} at {rate} Mbit/s")
                failures += problems
                vals = [l2[s] for s in sorted(l2) if s >= 15]    # after start-up
                res[c] = statistics.median(vals) if vals else None
                log(f"fixed cut {c} at {rate} Mbit/s: median {res[c]} ms over {len(vals)} frames")
            figures["fixed"][rate] = res
        set_rate(STEPS[0][1])

        # (b)
        for p in phases:
            fixed = {c: v for c, v in figures["fixed"][p["rate"]].items() if v is not None}
            if not fixed or p["median-ms"] is None:
                failures.append(f"(b) {p['rate']} Mbit/s: no latency figures ({p}, {fixed})")
                continue
            best_cut = min(fixed, key=fixed.get)
            p["best-fixed-cut"], p["best-fixed-ms"] = best_cut, fixed[best_cut]
            p["ratio"] = p["median-ms"] / fixed[best_cut]
            log(f"{p['rate']} Mbit/s: adaptive {p['median-ms']:.0f} ms (cuts {p['settled-cuts']}), best fixed "
                f"cut {best_cut} {fixed[best_cut]:.0f} ms, ratio {p['ratio']:.2f}")
            if p["ratio"] > 1 + LATENCY_TOLERANCE:
                failures.append(f"(b) {p['rate']} Mbit/s: adaptive median {p['median-ms']:.0f} ms is "
                                f"{p['ratio']:.2f}x the best fixed cut ({best_cut}: {fixed[best_cut]:.0f} ms)")
        figures["seconds"] = time.monotonic() - start

        os.makedirs(OUT, exist_ok=True)
        frames = sorted(t_in)
        rate_at = [step_times[phase_of(t_in[s], step_times)][1] for s in frames]
        est_at, k = [], 0
        for s in frames:
            while k + 1 < len(stats) and stats[k + 1][0] <= t_in[s]:
                k += 1
            est_at.append(stats[k][1]["bandwidth"] / 1e6 if stats and stats[k][0] <= t_in[s] else 0)
        svg(os.path.join(OUT, "shaped-link.svg"), frames, rate_at, est_at, [cut_at[s] for s in frames], lat)
        with open(os.path.join(OUT, "shaped-link.json"), "w") as fh:
            json.dump(figures, fh, indent=1, default=str)
        log(f"figures in {OUT}/shaped-link.json and .svg")
    finally:
        for p in PEERS:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
        teardown_link()

    for f in failures:
        log("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
