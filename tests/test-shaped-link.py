#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Adaptive split over a shaped link (docs/adaptive.md, "The shaped-link test").

Two network namespaces joined by a veth pair; the edge's side of the link is
shaped with a tc token bucket (tbf).  The cloud (zmqsrc ! queue !
splitnncloud, which reports its time per frame back) runs in one namespace,
the edge (vtest.avi at 4 frames/s ! splitnnedge cut=auto ! zmqsink with
acks) in the other, capped to a third of one CPU: an edge device slower than
its cloud, the premise of splitting at all.  During one stream the rate
steps 50 -> 2 -> 20 Mbit/s.  Then a few fixed cuts (those the adaptive run
held at the steps, plus cuts 4 and 48) run a shorter stream with the same
steps.  Checked:

 (a) after each step the edge's link estimate is within 35% of the new rate
     within ESTIMATE_FRAMES frames, or the time three messages of the held cut
     take at the new rate if longer; where the cut the edge held at the step
     is clearly worse at the new rate than the best fixed cut there (its
     fixed-cut median more than MOVE_TOLERANCE above the best's: a fact
     on a few frames, not a close call), the chosen cut changes within
     MOVE_FRAMES frames of the step, and any first change after a step goes
     the expected way (fewer bytes after a drop; more bytes or less edge
     time after a rise).  Whether the scenario holds (cut 48 clearly slower
     than cut 4 at 50 Mbit/s: the edge's cap took and the cloud is faster)
     is printed, not asserted: on a machine loaded far beyond one busy core
     the cloud is as slow as the capped edge, cut 48 is then best at every
     rate and no move is required;
 (b) once settled (last 60% of each phase), the median end-to-end latency
     against the best fixed cut at that rate: measured, printed and written to
     out/shaped-link.json, but not asserted.  On this 2-core AVX2 machine the
     fixed cuts 3 and 48 come within 13% of each other at 2 Mbit/s with the
     edge capped, so which one the controller settles on, and the latency of
     the queue it inherits at the step, swing the ratio from 1.05 to 3.19
     between two runs of the same commit (2026-12-07).  Latency comparisons
     belong to bench/bandwidth-sweep (issue 20: a timing comparison uses
     enough samples or lives in bench/);
 (c) every frame that entered the edge came out of the cloud or is in a drop
     counter, exactly, and zmqsink sent exactly what zmqsrc received;
 (d) frames come out of the cloud in the settled part of every phase, in
     the adaptive run and in every fixed run (2026-12-07: a queue grown
     behind messages the link estimator had forgotten delivered nothing
     for the last 45 s of the adaptive run and of fixed cut 1).

Needs root (ip netns, tc, a cpu cgroup); exits 77 (skip) with the reason
where they are not available.  Writes out/shaped-link.{json,svg} under the
source root.
"""
import json
import math
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netshape  # noqa: E402
from netshape import Link, CpuCap, Peer, MODEL, VIDEO  # noqa: E402

SKIP = 77
OUT = os.path.join(netshape.SRC, "out")

FPS = 4                        # the edge keeps up at every cut under its cap
EDGE_CPU = 1 / 3               # of one core: about 3x slower than the cloud
# The schedules: (seconds after the first frame, rate in Mbit/s).  2 Mbit/s
# gets longer: it delivers about one frame a second.
STEPS = [(0, 50), (15, 2), (35, 20)]
ADAPTIVE_SECONDS = 50
FIXED_STEPS = [(0, 50), (8, 2), (20, 20)]
FIXED_SECONDS = 30
FIXED_ALWAYS = (4, 48)         # an early cut and the whole network on the edge
SETTLED = 0.6                  # (b) looks at the last 60 % of each phase
ESTIMATE_FRAMES = 12           # (a): link estimate near the new rate within this many frames
MOVE_FRAMES = 20               # (a): the cut moves within this many frames (5 s)
# (a): a move is required only where the held cut's fixed median at the new
# rate is this much above the best fixed cut's.  The fixed runs give 5-30
# frames a phase on a busy machine: only a clear difference is a fact (cut 1
# at 2 Mbit/s, 1.6 s of link time a frame, against cut 48's 0.8 s; cut 48's
# whole network on the capped edge at 20 Mbit/s).  Cuts closer than that
# are a matter for bench/bandwidth-sweep.
MOVE_TOLERANCE = 0.4
LATENCY_TOLERANCE = 0.15       # (b), reported only
# (d): frames out of the cloud in the settled part of every phase, adaptive
# run and fixed runs (fixed cut 0 at 2 Mbit/s carries one frame in 2.6 s:
# two or three in the 7 s settled part of its phase).
MIN_DELIVERED = {"adaptive": 3, "fixed": 1}
MAX_LAG_MS = 150
PORT = 5555


def log(*a):
    print("shaped-link:", *a, flush=True)


def run(link, cap, cut, seconds, steps):
    """One stream edge -> cloud with the rate steps.  Returns (edge, cloud,
    step times in us)."""
    ack = f"ack-endpoint=tcp://{Link.IP_CLOUD}:{PORT + 1}"
    cloud = Peer(link.ns_cloud,
                 f"zmqsrc name=src endpoint=tcp://{Link.IP_CLOUD}:{PORT} {ack} sender-eos=end "
                 f"! queue ! splitnncloud name=c model={MODEL} ! fakesink sync=false",
                 "--out", "c", "--report", "src:received,dropped-no-caps,dropped-malformed,replies",
                 "--report", "c:packets,bad-packets,whole-ms")
    time.sleep(1.5)            # the cloud binds, loads the model and times it
    # cut=auto ranks edge-only and cloud-only too since issue 17; this test
    # compares it with fixed feature cuts, so it keeps to the cuts
    # (bench/bandwidth-sweep compares every option).
    if cut == "auto":
        cut = "auto baselines=none"
    edge = Peer(link.ns_edge,
                f"filesrc location={VIDEO} ! decodebin ! videorate ! video/x-raw,framerate={FPS}/1 "
                f"! videoconvert ! clocksync ! identity eos-after={seconds * FPS} "
                f"! splitnnedge name=e model={MODEL} cut={cut} stats-interval=250 "
                f"! zmqsink name=k endpoint=tcp://{Link.IP_CLOUD}:{PORT} {ack} "
                f"max-lag={MAX_LAG_MS} linger=5000",
                "--in", "e", "--report", "e:frames-in,frames-out,dropped,cloud-reports,candidates",
                "--report", "k:sent,dropped,dropped-lag,acks,lost,discarded-at-stop,replies,bandwidth-estimate",
                cap=cap)
    step_times = []
    link.set_rate(steps[0][1])
    if not edge.first_in.wait(60):
        edge.wait(0)
        cloud.wait(0)
        raise RuntimeError("the edge never produced a frame: " + "".join(edge.err[-5:]))
    t0 = time.monotonic()
    for at, rate in steps:
        time.sleep(max(0, t0 + at - time.monotonic()))
        if at > 0:
            link.set_rate(rate)
        step_times.append((time.monotonic() * 1e6, rate))
    edge.wait(seconds * 1.5 + 60)
    cloud.wait(30)
    return edge, cloud, step_times


def accounting(edge, cloud, what):
    e, k = edge.report("e"), edge.report("k@stopped")
    src, c = cloud.report("src"), cloud.report("c")
    outs = len(cloud.of("out"))
    problems = []
    if not (e and k and src and c):
        problems.append(f"{what}: missing reports (edge {edge.of('end')}, cloud {cloud.of('end')})")
        return problems, {}
    # Sent but never taken by zmqsrc: the sink must have counted them lost
    # or discarded at stop (with acks every message sent ends in one of
    # acks, lost, discarded-at-stop; a lost ack can make a delivered
    # message count as lost, hence at most).
    unreceived = k["sent"] - src["received"] - src["dropped-no-caps"]
    accounted = (outs + e["dropped"] + k["dropped"] + unreceived + src["dropped-no-caps"]
                 + src["dropped-malformed"] + c["bad-packets"])
    fig = {"frames-in": e["frames-in"], "out": outs, "edge-dropped": e["dropped"], "sink-dropped": k["dropped"],
           "sink-dropped-lag": k["dropped-lag"], "sent": k["sent"], "acks": k["acks"], "lost": k["lost"],
           "discarded-at-stop": k["discarded-at-stop"], "received": src["received"],
           "no-caps": src["dropped-no-caps"], "malformed": src["dropped-malformed"], "bad": c["bad-packets"],
           "cloud-replies": src["replies"], "replies-at-edge": k["replies"], "cloud-reports-used": e["cloud-reports"]}
    if accounted != e["frames-in"]:
        problems.append(f"{what}: {e['frames-in']} frames in, {accounted} accounted for: {fig}")
    if k["sent"] != k["acks"] + k["lost"] + k["discarded-at-stop"]:
        problems.append(f"{what}: zmqsink sent {k['sent']} != acks {k['acks']} + lost {k['lost']} "
                        f"+ discarded at stop {k['discarded-at-stop']}")
    if not 0 <= unreceived <= k["lost"] + k["discarded-at-stop"]:
        problems.append(f"{what}: zmqsink sent {k['sent']}, zmqsrc took {src['received']} "
                        f"+ {src['dropped-no-caps']} without caps: {unreceived} neither delivered nor "
                        f"counted lost ({k['lost']}) or discarded at stop ({k['discarded-at-stop']})")
    return problems, fig


def step_frames(t_in, step_times):
    """The first input frame at or after each step."""
    out = []
    for ts, _ in step_times:
        later = [s for s, t in t_in.items() if t >= ts]
        out.append(min(later) if later else max(t_in) + 1)
    return out


def phases(lat, t_in, step_times):
    """Per rate: the frames of the phase and the median latency over its
    settled part (the last SETTLED of it)."""
    sf = step_frames(t_in, step_times)
    out = []
    for i, (_, rate) in enumerate(step_times):
        lo = sf[i]
        hi = sf[i + 1] if i + 1 < len(sf) else max(t_in) + 1
        first = hi - int((hi - lo) * SETTLED)
        values = [lat[s] for s in range(first, hi) if s in lat]
        out.append({"rate": rate, "frames": [lo, hi], "settled-from": first, "delivered": len(values),
                    "median-ms": statistics.median(values) if values else None,
                    "p90-ms": netshape.percentile(values, 0.9)})
    return out


def phase_of(t, step_times):
    i = 0
    for k, (ts, _) in enumerate(step_times):
        if t >= ts:
            i = k
    return i


def svg(path, frames, rate, est, cut):
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
    for f in range(0, n, 50):
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


def check_steps(changes, stats, t_in, step_times, best, fixed, cut_at, failures):
    """(a): the estimate and the cut after each step.  Returns the figures.

    Whether the cut must move is judged on the decision, not on which fixed
    cut happened to be fastest: two cuts within a few percent of each other
    swap places from run to run on a busy machine (once the cut settled at
    2 Mbit/s on a cut as good as the best there, and "the best" at 20 Mbit/s
    was that same cut in one run, another in the next).  A move is required
    only where the held cut is clearly slower at the new rate than the best
    fixed cut, by the fixed runs' own medians."""
    sf = step_frames(t_in, step_times)
    out = []
    for i in range(1, len(step_times)):
        ts, rate = step_times[i]
        prev_rate = step_times[i - 1][1]
        end = sf[i + 1] if i + 1 < len(sf) else max(t_in) + 1
        fig = {"rate": rate, "step-frame": sf[i]}
        near = [t for t, s in stats if t >= ts and abs(s["bandwidth"] / 1e6 - rate) <= 0.35 * rate]
        fig["estimate-frames"] = (min([s for s, t in t_in.items() if t >= near[0]] or [max(t_in)]) - sf[i]
                                  if near else None)
        after = [(f, c) for f, c in changes if sf[i] <= f < end]
        # The estimator needs the message in flight at the step and two
        # dispersion samples after it (docs/adaptive.md): three messages of
        # the held cut at the new rate.  For cut 1 (390 kB) at 2 Mbit/s that
        # is 4.7 s, 19 frames; 12 frames missed by one sample (2.85 Mbit/s
        # at frame 12, 1.9 at 18, 2026-12-07).  The held cut's bytes as
        # measured (the first change after the step) or as entered.
        before = [c for f, c in changes if f < sf[i]]
        held_bytes = (after[0][1]["previous-bytes"] if after else
                      before[-1]["predicted-bytes"] if before else 0)
        allowed = max(ESTIMATE_FRAMES, math.ceil(3 * 8 * held_bytes / (rate * 1e6) * FPS))
        fig["estimate-allowed-frames"] = allowed
        if fig["estimate-frames"] is None or fig["estimate-frames"] > allowed:
            failures.append(f"(a) step to {rate} Mbit/s: link estimate not within 35% after "
                            f"{allowed} frames (took {fig['estimate-frames']})")
        fig["move-frames"] = after[0][0] - sf[i] if after else None
        if after:
            f, c = after[0]
            fig["move"] = [c["old-cut"], c["new-cut"], c["reason"]]
            if rate < prev_rate:
                ok = c["predicted-bytes"] < c["previous-bytes"]
            else:
                ok = c["predicted-bytes"] > c["previous-bytes"] or c["predicted-edge-ms"] < c["previous-edge-ms"]
            if not ok:
                failures.append(f"(a) step to {rate} Mbit/s: the first cut change goes the wrong way: {c}")
        held = cut_at.get(sf[i] - 1, -1)
        best_ms = fixed[best[rate]][i]["median-ms"] if best[rate] is not None else None
        held_ms = fixed[held][i]["median-ms"] if held in fixed else None
        fig["held-cut"], fig["held-fixed-ms"], fig["best-fixed-ms"] = held, held_ms, best_ms
        # A held cut with no fixed figures at the new rate (none delivered)
        # counts as clearly worse.
        must_move = best_ms is not None and held != best[rate] and (
            held_ms is None or held_ms > best_ms * (1 + MOVE_TOLERANCE))
        fig["must-move"] = must_move
        if must_move and (fig["move-frames"] is None or fig["move-frames"] > MOVE_FRAMES):
            failures.append(f"(a) step {prev_rate} -> {rate} Mbit/s: the held cut {held} ({held_ms} ms at "
                            f"the new rate) is clearly slower than the best fixed cut {best[rate]} "
                            f"({best_ms:.0f} ms), and the cut did not move within {MOVE_FRAMES} frames "
                            f"(moved after {fig['move-frames']})")
        out.append(fig)
    return out


def attempt(link, cap):
    """One measurement: the adaptive run, then the fixed cuts; the failures."""
    failures = []
    figures = {"steps": STEPS, "fixed-steps": FIXED_STEPS, "fps": FPS, "edge-cpu": EDGE_CPU,
               "max-lag-ms": MAX_LAG_MS}
    start = time.monotonic()
    log(f"adaptive run: {ADAPTIVE_SECONDS} s at {FPS} frames/s, rate steps {STEPS}, "
        f"edge capped at {EDGE_CPU:.2f} CPU")
    edge, cloud, step_times = run(link, cap, "auto", ADAPTIVE_SECONDS, STEPS)
    lat, t_in = netshape.latencies(edge, cloud)
    problems, acc = accounting(edge, cloud, "adaptive")
    failures += problems
    figures["adaptive-accounting"] = acc
    figures["candidates"] = edge.report("e").get("candidates")
    changes = [(f["frame"], f) for _, f in edge.messages("splitnn-cut-changed")]
    stats = edge.messages("splitnn-edge-stats")
    figures["cut-changes"] = [{"frame": f, "from": c["old-cut"], "to": c["new-cut"], "reason": c["reason"],
                               "bandwidth": c["bandwidth"], "predicted-bytes": c["predicted-bytes"],
                               "previous-bytes": c["previous-bytes"], "predicted-ms": c["predicted-latency-ms"],
                               "predicted-cloud-ms": c["predicted-cloud-ms"]} for f, c in changes]
    for f, c in changes:
        log(f"frame {f}: cut {c['old-cut']} -> {c['new-cut']} ({c['reason']}), estimate "
            f"{c['bandwidth'] / 1e6:.1f} Mbit/s, bytes {c['previous-bytes']:.0f} -> {c['predicted-bytes']:.0f}, "
            f"edge {c['previous-edge-ms']:.0f} -> {c['predicted-edge-ms']:.0f} ms, cloud "
            f"{c['previous-cloud-ms']:.0f} -> {c['predicted-cloud-ms']:.0f} ms")
    cut_at, cur = {}, -1
    ch = dict(changes)
    for s in sorted(t_in):
        cur = ch[s]["new-cut"] if s in ch else cur
        cut_at[s] = cur
    adaptive = phases(lat, t_in, step_times)
    for p in adaptive:
        p["settled-cuts"] = sorted({cut_at[s] for s in range(p["settled-from"], p["frames"][1]) if s in cut_at})
        p["final-cut"] = cut_at.get(p["frames"][1] - 1, -1)
    figures["adaptive"] = adaptive

    # The fixed cuts, each over the same rate steps.
    # The cuts held at the steps (the must-move judgement needs them) and
    # an early cut and cut 48 (the best at each rate is among these).
    candidates = sorted({p["final-cut"] for p in adaptive[:-1] if p["final-cut"] >= 0} | set(FIXED_ALWAYS))
    figures["fixed"] = {}
    for c in candidates:
        e2, c2, st2 = run(link, cap, str(c), FIXED_SECONDS, FIXED_STEPS)
        l2, t2 = netshape.latencies(e2, c2)
        problems, _ = accounting(e2, c2, f"fixed cut {c}")
        failures += problems
        figures["fixed"][c] = phases(l2, t2, st2)
        log(f"fixed cut {c}: " + ", ".join(f"{p['rate']} Mbit/s {p['median-ms']} ms ({p['delivered']} frames)"
                                           for p in figures["fixed"][c]))
    best = {}
    for i, (_, rate) in enumerate(STEPS):
        medians = {c: ph[i]["median-ms"] for c, ph in figures["fixed"].items() if ph[i]["median-ms"]}
        best[rate] = min(medians, key=medians.get) if medians else None
    figures["best-fixed"] = best

    # (a)
    figures["steps-after"] = check_steps(changes, stats, t_in, step_times, best, figures["fixed"], cut_at,
                                         failures)
    # The scenario: the capped edge makes cut 48 (the whole network on the
    # edge) clearly slower than an early cut where the link is fast.  Where
    # it is not (a cap that did not take; a machine so loaded that the
    # cloud is as slow as the capped edge: load 12 on 2 cores, cut 4 957 ms
    # and cut 48 409 ms at 50 Mbit/s) no move is required and (a) tests
    # less: reported, not asserted, as the best cut then is 48 throughout
    # and staying there is right.  Which cut is best at 2 Mbit/s is a matter of
    # 13 % (see the docstring), so "the best differs between rates" is not
    # asserted.
    early = figures["fixed"][4][0]["median-ms"]
    whole = figures["fixed"][48][0]["median-ms"]
    figures["scenario-48-over-4-at-50"] = whole / early if early and whole else None
    if not (early and whole and whole > early * (1 + MOVE_TOLERANCE)):
        log(f"NOTE (scenario), not asserted: at {STEPS[0][1]} Mbit/s fixed cut 48 ({whole} ms) is not clearly "
            f"slower than cut 4 ({early} ms), so no move is required after the steps: the edge's CPU cap "
            f"did not take, or the machine is so busy that the cloud is as slow as the capped edge")
    if len(set(best.values())) < 2:
        log(f"NOTE: the best fixed cut is {best} at every rate")
    # (d) frames come out in every phase, adaptive and fixed: a sender that
    # settles on delivering nothing (issue 20) fails here whatever the timings.
    for what, ph in [("adaptive", adaptive)] + [(f"fixed cut {c}", v) for c, v in figures["fixed"].items()]:
        least = MIN_DELIVERED["adaptive" if what == "adaptive" else "fixed"]
        for p in ph:
            if p["delivered"] < least:
                failures.append(f"(d) {what}: {p['delivered']} frames out of the cloud in the settled part "
                                f"of the {p['rate']} Mbit/s phase (frames {p['settled-from']}-{p['frames'][1]}), "
                                f"fewer than {least}")
    # (b)
    for i, p in enumerate(adaptive):
        b = best[p["rate"]]
        if b is None or p["median-ms"] is None:
            log(f"NOTE (b), not asserted: {p['rate']} Mbit/s: no latency figures ({p}, best fixed {b})")
            continue
        p["best-fixed-cut"], p["best-fixed-ms"] = b, figures["fixed"][b][i]["median-ms"]
        p["ratio"] = p["median-ms"] / p["best-fixed-ms"]
        log(f"{p['rate']} Mbit/s: adaptive {p['median-ms']:.0f} ms (cuts {p['settled-cuts']}), best fixed "
            f"cut {b} {p['best-fixed-ms']:.0f} ms, ratio {p['ratio']:.2f}")
        if p["ratio"] > 1 + LATENCY_TOLERANCE:
            log(f"NOTE (b), not asserted: {p['rate']} Mbit/s: adaptive median {p['median-ms']:.0f} ms "
                f"is {p['ratio']:.2f}x the best fixed cut ({b}: {p['best-fixed-ms']:.0f} ms)")
    for f in figures["steps-after"]:
        log(f"step to {f['rate']} Mbit/s: estimate near it after {f['estimate-frames']} frames "
            f"(allowed {f['estimate-allowed-frames']}), "
            f"held cut {f['held-cut']} ({f['held-fixed-ms']} ms fixed, best {f['best-fixed-ms']} ms, "
            f"must move: {f['must-move']}), cut moved after {f['move-frames']} frames {f.get('move', '')}")
    figures["seconds"] = time.monotonic() - start

    os.makedirs(OUT, exist_ok=True)
    frames = sorted(t_in)
    rate_at = [step_times[phase_of(t_in[s], step_times)][1] for s in frames]
    est_at, k = [], 0
    for s in frames:
        while k + 1 < len(stats) and stats[k + 1][0] <= t_in[s]:
            k += 1
        est_at.append(stats[k][1]["bandwidth"] / 1e6 if stats and stats[k][0] <= t_in[s] else 0)
    svg(os.path.join(OUT, "shaped-link.svg"), frames, rate_at, est_at, [cut_at[s] for s in frames])
    with open(os.path.join(OUT, "shaped-link.json"), "w") as fh:
        json.dump(figures, fh, indent=1, default=str)
    log(f"figures in {OUT}/shaped-link.json and .svg ({figures['seconds']:.0f} s)")
    return failures


def main():
    # meson's timeout sends SIGTERM: still stop the peers, remove the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    link = Link(f"snl{os.getpid() % 100000}")
    cap = None
    try:
        netshape.check_prerequisites()
        cap = CpuCap(f"splitnn-edge-{os.getpid()}", EDGE_CPU)
        link.up(STEPS[0][1])
    except netshape.Unavailable as e:
        if cap:
            cap.remove()
        print(f"SKIP: {e}", flush=True)
        return SKIP
    try:
        failures = attempt(link, cap)
    finally:
        Peer.kill_all()
        link.down()
        cap.remove()

    for f in failures:
        log("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
