#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The deployment recipe of docs/workers.md, run as written.

examples/deploy/splitnn-worker@.service: its Environment lines and its
ExecStart (the installed examples/deploy/splitnn-worker) start two worker
processes, instances on two free TCP ports of the loopback; the test
replaces only what differs between an installed host and a build tree
(the model's and the plugin's paths, the registry) and binds 127.0.0.1
instead of every interface.  One edge process sends 12 streams (vtest,
splitnnedge cut 4, one zmqsink each with workers= both, acks) and ends
with EOS.  Checked:

- every frame of every stream is answered by exactly one worker, the one
  its zmqsink names (affinity), and the result lines carry the worker
  name the unit gives (%H:%i);
- both workers serve streams (12 streams all on one worker: 1 in 2048;
  then the edge runs once more);
- on every edge: sent = acks + lost + discarded-at-stop, with nothing lost,
  discarded or dropped, and the acknowledged frames are the answered ones.

The Containerfile cannot be built here (no container tool, no registry):
its instructions are checked against the tree instead: the stages, the
meson options, the package names against Debian's lists (apt-cache), every
library the built plugin and libsplitnn need against the runtime stage's
packages and their dependencies as installed here (dpkg -S, dpkg-query), the
entry point and plugin path against the unit's.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("SPLITNN_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SPLITNN_BUILD_ROOT", os.path.join(SRC, "build"))
DEPLOY = os.path.join(SRC, "examples", "deploy")
UNIT = os.path.join(DEPLOY, "splitnn-worker@.service")
CONTAINERFILE = os.path.join(DEPLOY, "Containerfile")
SCRIPT = os.path.join(DEPLOY, "splitnn-worker")
MODEL = os.path.join(SRC, "models", "centernet-mobilenetv3-coco.onnx")
VIDEO = os.path.join(SRC, "data", "vtest.avi")
PEER = os.path.join(BUILD, "tests", "shaped-peer")
sys.path.insert(0, os.path.join(SRC, "tests"))
from netshape import fields  # noqa: E402
STREAMS = 12
FRAMES = 3

failures = []


T0 = time.monotonic()


def check(ok, what):
    print(f"[{time.monotonic() - T0:5.1f} s] " + ("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
    return ok


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


# ---- the unit ---------------------------------------------------------------

def parse_unit(path):
    """[Service] keys of a systemd unit: {key: [values]} (continuations joined)."""
    sections, cur, pending = {}, None, ""
    for raw in open(path):
        line = pending + raw.rstrip("\n")
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("[") and s.endswith("]"):
            cur = sections.setdefault(s[1:-1], {})
            continue
        k, _, v = s.partition("=")
        cur.setdefault(k.strip(), []).append(v.strip())
    return sections


def expand_specifiers(v, spec):
    def one(m):
        c = m.group(1)
        if c not in spec:
            raise ValueError(f"specifier %{c} in '{v}' is not one the test knows")
        return spec[c]
    return re.sub(r"%(.)", one, v)


def unit_environment(service, spec):
    env = {}
    for line in service.get("Environment", []):
        for assignment in shlex.split(line):
            k, _, v = assignment.partition("=")
            env[k] = expand_specifiers(v, spec)
    return env


def free_port_pair():
    """An even port p with p and p + 1 free on the loopback."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1] & ~1
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no two free ports")


class Proc:
    """A process with its stdout and stderr lines collected."""

    def __init__(self, argv, env):
        self.out, self.err = [], []
        self.p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.threads = [threading.Thread(target=self._read, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(f, into):
        for line in f:
            into.append(line)

    def stop(self, sig=signal.SIGINT, timeout=20):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        for t in self.threads:
            t.join(5)


def installed_paths():
    """meson's install plan: {source or build path: installed path}, and the prefix."""
    docs = []
    for flag in ("--installed", "--buildoptions"):
        r = subprocess.run(["meson", "introspect", flag, BUILD], capture_output=True, text=True)
        if r.returncode != 0:
            return None, None
        docs.append(json.loads(r.stdout))
    installed, options = docs
    prefix = next((o["value"] for o in options if o["name"] == "prefix"), None)
    return installed, prefix


def check_recipe_paths(service):
    """ExecStart, the plugin path and the container's entry point name what `meson install` installs."""
    installed, prefix = installed_paths()
    exec_start = service["ExecStart"][0].split()
    check(len(exec_start) == 1, f"ExecStart runs the worker script with no arguments: {exec_start}")
    if installed is None:
        print("note: meson introspect failed; installed paths not checked")
        return exec_start[0]
    script_dest = next((d for s, d in installed.items() if os.path.realpath(s) == os.path.realpath(SCRIPT)), None)
    plugin_dest = next((d for s, d in installed.items() if os.path.basename(s) == "libgstsplitnn.so"), None)
    check(script_dest is not None, "meson installs examples/deploy/splitnn-worker")
    if prefix == "/usr/local" and script_dest:
        check(exec_start[0] == script_dest, f"ExecStart {exec_start[0]} is where meson installs the script ({script_dest})")
        gst_path = unit_environment(service, {"i": "1", "H": "h", "C": "/c", "%": "%"}).get("GST_PLUGIN_PATH")
        check(plugin_dest is not None and gst_path == os.path.dirname(plugin_dest),
              f"the unit's GST_PLUGIN_PATH {gst_path} is where meson installs the plugin ({plugin_dest})")
    else:
        print(f"note: build prefix {prefix}, not /usr/local: installed paths compared by name only")
        check(script_dest and os.path.basename(script_dest) == os.path.basename(exec_start[0]),
              "ExecStart names the installed script")
    return exec_start[0]


# ---- the Containerfile ----------------------------------------------------------

KNOWN_INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
                      "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def parse_containerfile(path):
    instructions, pending = [], ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.strip().partition(" ")
        instructions.append((word, rest.strip()))
    check(not pending, "Containerfile: no dangling line continuation")
    return instructions


def apt_installs(run):
    """Package names of every 'apt-get install' in a RUN line."""
    pkgs = []
    for cmd in re.split(r"&&|;", run):
        words = cmd.split()
        if len(words) > 2 and words[0] == "apt-get" and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def installed_depends():
    """{package: set of packages it depends on} for what dpkg has installed (one local query)."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Pre-Depends}, ${Depends}\n"],
                       capture_output=True, text=True)
    deps = {}
    for line in r.stdout.splitlines():
        name, _, rest = line.partition("\t")
        # "a (>= 1) | b, c:any": every alternative counts as provided
        deps[name] = {re.split(r"[\s:(]", alt.strip())[0] for alt in re.split(r"[,|]", rest) if alt.strip()}
    return deps


def closure(pkgs, deps):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += deps.get(p, ())
    return seen


def check_containerfile(exec_start, unit_env):
    ins = parse_containerfile(CONTAINERFILE)
    check(all(w in KNOWN_INSTRUCTIONS for w, _ in ins),
          f"Containerfile: every instruction is one Podman/Docker knows ({sorted({w for w, _ in ins})})")
    stages = [rest.split() for w, rest in ins if w == "FROM"]
    check(len(stages) == 2 and all(s[0] == "debian:12" for s in stages) and stages[0][1:] == ["AS", "build"],
          f"Containerfile: a build stage and a runtime stage, both debian:12: {stages}")
    names = {s[2] for s in stages if len(s) == 3}
    for w, rest in ins:
        m = re.match(r"--from=(\S+)", rest) if w == "COPY" else None
        if m:
            check(m.group(1) in names, f"Containerfile: COPY --from={m.group(1)} names a stage")
    runtime_start = [i for i, (w, _) in enumerate(ins) if w == "FROM"][1]
    build_pkgs = [p for w, rest in ins[:runtime_start] if w == "RUN" for p in apt_installs(rest)]
    run_pkgs = [p for w, rest in ins[runtime_start:] if w == "RUN" for p in apt_installs(rest)]
    check(build_pkgs and run_pkgs, "Containerfile: both stages install Debian packages")

    # Build stage: the packages scripts/setup installs for CI (the same list builds the tree there).
    setup = open(os.path.join(SRC, "scripts", "setup")).read()
    m = re.search(r"APT_PACKAGES=\((.*?)\)", setup, re.S)
    setup_pkgs = set(re.sub(r"#.*", "", m.group(1)).split()) if m else set()
    extra = [p for p in build_pkgs if p not in setup_pkgs]
    check(not extra, f"Containerfile: the build stage installs only packages of scripts/setup (others: {extra})")

    # meson options used exist.
    options = set(re.findall(r"option\('([^']+)'", open(os.path.join(SRC, "meson_options.txt")).read()))
    used = {o for w, rest in ins if w == "RUN" for o in re.findall(r"-D(\w+)=", rest)}
    builtin = {"buildtype", "prefix", "libdir", "b_lto", "b_ndebug", "default_library"}
    check(used and used <= options | builtin, f"Containerfile: meson options {sorted(used)} exist")

    # Entry point and environment agree with the unit.
    entry = [json.loads(rest) for w, rest in ins if w == "ENTRYPOINT"]
    check(entry == [[exec_start]], f"Containerfile: ENTRYPOINT runs the unit's ExecStart {exec_start}: {entry}")
    env_line = " ".join(rest for w, rest in ins if w == "ENV")
    cenv = dict(kv.split("=", 1) for kv in shlex.split(env_line) if "=" in kv)
    check(cenv.get("GST_PLUGIN_PATH") == unit_env.get("GST_PLUGIN_PATH"),
          f"Containerfile: GST_PLUGIN_PATH as in the unit ({cenv.get('GST_PLUGIN_PATH')})")
    check("SPLITNN_MODEL" in cenv, "Containerfile: SPLITNN_MODEL is set")

    # Debian's lists, where this machine has them (no network needed).
    r = subprocess.run(["apt-cache", "show", "--no-all-versions", *build_pkgs, *run_pkgs], capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
    if not known:
        print("note: apt-cache has no package lists here; package names not checked")
        return
    unknown = [p for p in build_pkgs + run_pkgs if p not in known]
    check(not unknown, f"Containerfile: every package is in Debian's lists (unknown: {unknown})")
    # Every library the built plugin and libsplitnn load comes from a
    # package the runtime stage installs, one it depends on, or the base
    # image (apt's dependencies); dependencies as installed on this machine.
    have = closure(run_pkgs + ["apt", "base-files"], installed_depends())
    libs = set()
    for f in (os.path.join(BUILD, "gst-plugins", "libgstsplitnn.so"), os.path.join(BUILD, "libsplitnn", "libsplitnn.so")):
        r = subprocess.run(["ldd", f], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            m = re.search(r"=>\s*(/\S+)", line)
            if m and "libsplitnn" not in m.group(1):
                libs.add(os.path.realpath(m.group(1)))
    # One dpkg query (a few seconds each on a loaded machine); merged /usr:
    # dpkg may know a library by its /lib path.
    asked = sorted(libs | {re.sub(r"^/usr", "", lib) for lib in libs})
    r = subprocess.run(["dpkg", "-S", *asked], capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    missing = []
    for lib in sorted(libs):
        pkg = owner.get(lib) or owner.get(re.sub(r"^/usr", "", lib))
        if pkg is None or pkg not in have:
            missing.append(f"{lib} ({pkg})")
    check(libs and not missing,
          f"Containerfile: the runtime stage provides all {len(libs)} libraries the plugin loads (missing: {missing})")


# ---- the run ------------------------------------------------------------------

def run_edge(env, data, acks, frames_dir):
    branches = []
    reports = []
    for k in range(1, STREAMS + 1):
        branches.append(f"t. ! queue ! splitnnedge model={MODEL} cut=4 stream-id={k} "
                        f"! zmqsink name=z{k} workers={','.join(data)} ack-endpoint={','.join(acks)} "
                        f"worker-timeout=60000 linger=60000")
        reports += ["--report", f"z{k}:sent,acks,lost,discarded-at-stop,dropped,worker"]
    pipe = (f"multifilesrc location={frames_dir}/%04d.jpg index=0 stop-index={FRAMES - 1} caps=image/jpeg,framerate=5/1 "
            f"! jpegdec ! videoconvert ! video/x-raw,format=BGRx ! tee name=t " + " ".join(branches))
    edge = Proc([PEER, pipe, *reports], env)
    try:
        edge.p.wait(240)
    except subprocess.TimeoutExpired:
        edge.stop()
        check(False, "the edge ends within 240 s")
    edge.stop()
    rep = {}
    for line in edge.out:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("ev") == "report" and ev["element"].endswith("@stopped"):
            rep[ev["element"].split("@")[0]] = fields(ev["s"])
    ends = [json.loads(line).get("how") for line in edge.out if '"ev": "end"' in line or '"ev":"end"' in line]
    return rep, ends, edge


def main():
    for f, what in ((PEER, "tests/shaped-peer (build with -Dgst=enabled)"), (MODEL, "the model (scripts/fetch-assets)"),
                    (VIDEO, "data/vtest.avi (scripts/fetch-assets)")):
        if not os.path.exists(f):
            skip(f"missing {what}")
    unit = parse_unit(UNIT)
    service = unit.get("Service", {})
    check("ExecStart" in service and "Environment" in service, "the unit has ExecStart and Environment lines")
    check(service.get("KillSignal") == ["SIGINT"], "the unit stops a worker with SIGINT (EOS, clean stop)")
    exec_start = check_recipe_paths(service)
    check_containerfile(exec_start, unit_environment(service, {"i": "5555", "H": "h", "C": "/c", "%": "%"}))

    tmp = tempfile.mkdtemp(prefix="sn-deploy-")
    frames = os.path.join(tmp, "frames")
    os.mkdir(frames)
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO}", "!", "avidemux", "!", "identity",
                    f"eos-after={FRAMES + 1}", "!", "decodebin", "!", "videoconvert", "!", "jpegenc", "!",
                    "multifilesink", f"location={frames}/%04d.jpg"], check=True)
    check(len(os.listdir(frames)) >= FRAMES, f"{FRAMES} frames of vtest as JPEG")
    host = socket.gethostname()
    workers, ports = [], []
    for w in range(2):
        port = free_port_pair()
        while port in ports:
            port = free_port_pair()
        ports.append(port)
        spec = {"i": str(port), "H": host, "C": tmp, "%": "%"}
        env = dict(os.environ)
        env.update(unit_environment(service, spec))
        # What differs between an installed host and this build tree, and loopback only:
        env.update(SPLITNN_MODEL=MODEL, GST_PLUGIN_PATH=os.path.join(BUILD, "gst-plugins"),
                   GST_REGISTRY=os.path.join(tmp, f"registry-{w}.bin"), SPLITNN_ADDRESS="127.0.0.1")
        workers.append(Proc([SCRIPT], env))
    # Both listening (zmqsrc binds both ports at start), or a clear failure
    # with the worker's own words rather than an edge waiting for nobody.
    deadline = time.monotonic() + 60
    for i, port in enumerate(ports):
        while True:
            if workers[i].p.poll() is not None:
                for w in workers:
                    w.stop()
                check(False, f"worker on port {port} exited at start (status {workers[i].p.returncode}): "
                      + "".join(workers[i].err[-5:]).strip())
                return 1
            try:
                with socket.create_connection(("127.0.0.1", port + 1), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    check(False, f"worker on port {port} listens within 60 s")
                    break
                time.sleep(0.2)
    names = [f"{host}:{p}" for p in ports]
    data = [f"tcp://127.0.0.1:{p}" for p in ports]
    acks = [f"tcp://127.0.0.1:{p + 1}" for p in ports]
    edge_env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(BUILD, "gst-plugins"),
                    GST_REGISTRY=os.path.join(tmp, "registry-edge.bin"))
    try:
        for attempt in range(2):
            rep, ends, edge = run_edge(edge_env, data, acks, frames)
            on = {rep.get(f"z{k}", {}).get("worker") for k in range(1, STREAMS + 1)}
            if len(on) > 1 or attempt == 1:
                break
            print(f"note: all {STREAMS} streams chose one worker ({on}); the edge runs again")
            for w in workers:
                w.out.clear()
        check(ends == ["eos"], f"the edge ended with EOS ({ends}; stderr: {''.join(edge.err[-5:]).strip()})")
        # A worker acknowledges a frame when it queues it, before it runs
        # (docs/zmq.md): stop the workers once they have answered every
        # frame (or after 60 s; the checks below then say what is missing).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answered = sum(1 for w in workers for line in list(w.out) if line.startswith("{"))
            if answered >= STREAMS * FRAMES:
                break
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        for w in workers:
            w.stop()
    for i, w in enumerate(workers):
        check(w.p.returncode == 0, f"worker {names[i]} stopped cleanly on SIGINT (status {w.p.returncode}; "
              f"stderr: {''.join(w.err[-3:]).strip()})")
    results = {}                 # stream -> [(seq, worker name, index of the process)]
    for i, w in enumerate(workers):
        for line in w.out:
            if line.startswith("{"):
                r = json.loads(line)
                results.setdefault(r["stream"], []).append((r["seq"], r.get("worker"), i))
    served = set()
    for k in range(1, STREAMS + 1):
        z = rep.get(f"z{k}", {})
        sent, acked = int(z.get("sent", -1)), int(z.get("acks", -2))
        lost, disc, drop = int(z.get("lost", -1)), int(z.get("discarded-at-stop", -1)), int(z.get("dropped", -1))
        mine = results.get(k, [])
        seqs = sorted(s for s, _, _ in mine)
        who = {n for _, n, _ in mine}
        endpoint = z.get("worker")
        expect = names[data.index(endpoint)] if endpoint in data else None
        check(sent == acked + lost + disc and lost == 0 and disc == 0 and drop == 0,
              f"stream {k}: sent {sent} = acks {acked} + lost {lost} + discarded {disc}, dropped {drop}")
        check(len(seqs) == FRAMES and len(set(seqs)) == FRAMES,
              f"stream {k}: {FRAMES} frames answered once each (seqs {seqs})")
        check(who == {expect}, f"stream {k}: answered by {who}, the worker its zmqsink names ({endpoint} = {expect})")
        served |= {i for _, _, i in mine}
    # sent counts the EOS message too: every message was acknowledged.
    check(served == {0, 1}, f"both workers served streams ({sorted(served)})")
    subprocess.run(["rm", "-rf", tmp])
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
