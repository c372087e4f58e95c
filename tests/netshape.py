# SPDX-License-Identifier: LGPL-2.1-or-later
"""A shaped link between an edge and a cloud on one machine.

Shared by tests/test-shaped-link.py and bench/bandwidth-sweep.py
(docs/adaptive.md): two network namespaces joined by a veth pair, the
edge's side shaped with a tc token bucket (tbf); an optional CPU cap on the
edge (a cgroup), so the edge is slower than the cloud as in the product's
premise; and tests/shaped-peer processes running pipelines in them, their
JSON lines collected.  Needs root; what cannot be set up raises
Unavailable with the reason, for the caller to skip on.
"""
import json
import os
import re
import shutil
import subprocess
import threading

SRC = os.environ.get("SPLITNN_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SPLITNN_BUILD_ROOT", os.path.join(SRC, "build"))
PEER = os.path.join(BUILD, "tests", "shaped-peer")
MODEL = os.path.join(SRC, "models", "centernet-mobilenetv3-coco.onnx")
VIDEO = os.path.join(SRC, "data", "vtest.avi")


class Unavailable(Exception):
    """Something this machine cannot do (the reason is the message)."""


def sh(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def check_prerequisites():
    if os.geteuid() != 0:
        raise Unavailable("needs root for ip netns, tc and cgroups")
    for tool in ("ip", "tc"):
        if not shutil.which(tool):
            raise Unavailable(f"'{tool}' not found (Debian package iproute2)")
    for f, what in ((PEER, "tests/shaped-peer (build it)"), (MODEL, "the model (scripts/fetch-assets)"),
                    (VIDEO, "data/vtest.avi (scripts/fetch-assets)")):
        if not os.path.exists(f):
            raise Unavailable(f"missing {what}")


class Link:
    """Namespaces tag+'e' (edge, 10.199.77.1) and tag+'c' (cloud, .2)."""
    IP_EDGE, IP_CLOUD = "10.199.77.1", "10.199.77.2"

    def __init__(self, tag):
        self.ns_edge, self.ns_cloud = f"{tag}e", f"{tag}c"
        self.dev_edge, self.dev_cloud = f"{tag}a", f"{tag}b"

    def up(self, mbit):
        r = sh("ip", "netns", "add", self.ns_edge, check=False)
        if r.returncode != 0:
            raise Unavailable(f"cannot create a network namespace here: {r.stderr.strip()}")
        try:
            sh("ip", "netns", "add", self.ns_cloud)
            sh("ip", "link", "add", self.dev_edge, "type", "veth", "peer", "name", self.dev_cloud)
            sh("ip", "link", "set", self.dev_edge, "netns", self.ns_edge)
            sh("ip", "link", "set", self.dev_cloud, "netns", self.ns_cloud)
            for ns, dev, ip in ((self.ns_edge, self.dev_edge, self.IP_EDGE),
                                (self.ns_cloud, self.dev_cloud, self.IP_CLOUD)):
                sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev)
                sh("ip", "-n", ns, "link", "set", dev, "up")
                sh("ip", "-n", ns, "link", "set", "lo", "up")
        except RuntimeError as e:
            self.down()
            raise Unavailable(f"cannot make the veth link: {e}")
        # Frames leave in bursts; do not make each one restart slow start.
        sh("ip", "netns", "exec", self.ns_edge, "sysctl", "-qw", "net.ipv4.tcp_slow_start_after_idle=0",
           check=False)
        try:
            self.set_rate(mbit, first=True)
        except RuntimeError as e:
            self.down()
            raise Unavailable(f"cannot shape the link with tc tbf: {e}")

    def set_rate(self, mbit, first=False):
        # A token bucket: netem is not in every kernel.  The bucket lets its
        # depth through at line rate, so keep it small (10 kB or 2 ms of
        # data); a 4 MB queue never fills with max-lag bounding the backlog.
        burst = max(10000, int(mbit * 1e6 / 8 * 0.002))
        sh("ip", "netns", "exec", self.ns_edge, "tc", "qdisc", "add" if first else "change",
           "dev", self.dev_edge, "root", "tbf", "rate", f"{mbit}mbit", "burst", str(burst), "limit", "4000000")

    def down(self):
        for ns in (self.ns_edge, self.ns_cloud):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class CpuCap:
    """A cgroup whose processes get at most `fraction` of one CPU, in
    slices of 10 ms so the cap is smooth at frame scale (cgroup v2 cpu.max
    or the v1 cpu controller's CFS quota)."""
    PERIOD_US = 10000

    def __init__(self, name, fraction):
        quota = max(1000, int(self.PERIOD_US * fraction))
        self.path = None
        last = "no cgroup file system with the cpu controller is mounted"
        for kind, root in self._mounts():
            own = self._own_path(kind)
            path = os.path.join(root, own.lstrip("/"), name)
            try:
                if kind == "v2":
                    parent = os.path.dirname(path)
                    with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                        f.write("+cpu")
                os.makedirs(path, exist_ok=True)
                if kind == "v2":
                    with open(os.path.join(path, "cpu.max"), "w") as f:
                        f.write(f"{quota} {self.PERIOD_US}")
                else:
                    with open(os.path.join(path, "cpu.cfs_period_us"), "w") as f:
                        f.write(str(self.PERIOD_US))
                    with open(os.path.join(path, "cpu.cfs_quota_us"), "w") as f:
                        f.write(str(quota))
                self.path = path
                return
            except OSError as e:
                last = f"{path}: {e}"
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        raise Unavailable(f"cannot cap the edge's CPU with a cgroup: {last}")

    @staticmethod
    def _mounts():
        out = []
        with open("/proc/mounts") as f:
            for line in f:
                _, where, fstype, opts = line.split()[:4]
                if fstype == "cgroup2":
                    try:
                        with open(os.path.join(where, "cgroup.controllers")) as c:
                            if "cpu" in c.read().split():
                                out.append(("v2", where))
                    except OSError:
                        pass
                elif fstype == "cgroup" and "cpu" in opts.split(","):
                    out.append(("v1", where))
        return sorted(out)          # v1 first: where it holds cpu, v2 cannot have it

    @staticmethod
    def _own_path(kind):
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if (kind == "v2" and ctrls == "") or (kind == "v1" and "cpu" in ctrls.split(",")):
                    return path
        return "/"

    def wrap(self, argv):
        """argv run inside the cgroup (and its children with it)."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.path, *argv]

    def remove(self):
        if self.path:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


class Peer:
    """A shaped-peer process in a namespace; its JSON lines, collected."""
    ALL = []

    def __init__(self, ns, pipeline, *opts, cap=None, env=None):
        Peer.ALL.append(self)
        self.events = []
        self.first_in = threading.Event()
        env = dict(os.environ, GST_DEBUG=os.environ.get("GST_DEBUG", "0"), **(env or {}))
        argv = ["ip", "netns", "exec", ns, PEER, pipeline, *opts]
        self.proc = subprocess.Popen(cap.wrap(argv) if cap else argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
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

    @classmethod
    def kill_all(cls):
        for p in cls.ALL:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()


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
            out[k] = v.replace("\\,", ",")
    return out


def latencies(edge, cloud, element=None):
    """End-to-end latency per input frame in ms ({seq: ms}, frames that came
    out of `element`, or of the only --out element, only) and the input
    times ({seq: us}); frames are paired by PTS."""
    t_in = {e["seq"]: e["t"] for e in edge.of("in")}
    seq_of = {e["pts"]: e["seq"] for e in edge.of("in")}
    lat = {}
    for e in cloud.of("out"):
        if element and e.get("el") != element:
            continue
        s = seq_of.get(e["pts"])
        if s is not None and s not in lat:
            lat[s] = (e["t"] - t_in[s]) / 1000
    return lat, t_in


def percentile(values, q):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo = int(k)
    return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (k - lo)
