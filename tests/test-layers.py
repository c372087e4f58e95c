#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libsplitnn's layers depend only downward (docs/architecture.md).

Each folder of libsplitnn/ is a layer, lowest first in LAYERS.  Two checks:
1. includes: a file may include headers of its own layer or of a lower one
   (a public header splitnn/sn-X.h belongs to the layer of sn-X.c), and no
   library file includes the umbrella splitnn.h;
2. calls: in the built library, an object file may only use symbols defined
   in objects of its own layer or a lower one (this finds cycles that a
   declaration in the wrong header would hide from the include check).
Prints every violation and exits 1 if there is any."""
import os, re, subprocess, sys

LAYERS = ['engine', 'detect', 'wire', 'split', 'adapt', 'session']
RANK = {l: i for i, l in enumerate(LAYERS)}
# Public headers with no sn-X.c of the same name.
HEADER_LAYER = {'sn-model.h': 'engine', 'sn-api.h': 'engine'}
UMBRELLA = 'splitnn.h'

src = os.environ.get('SPLITNN_SOURCE_ROOT') or os.path.join(os.path.dirname(__file__), '..')
lib = os.path.join(src, 'libsplitnn')
bad = []

def layer_of_source(rel):
    top = rel.split('/')[0]
    return top if top in RANK else None

c_layer = {}
files = []
for root, _, names in os.walk(lib):
    for n in names:
        if n.endswith(('.c', '.h')):
            rel = os.path.relpath(os.path.join(root, n), lib)
            files.append(rel)
            lay = layer_of_source(rel)
            if lay and n.endswith('.c'):
                c_layer[n[:-2]] = lay

def layer_of_header(inc, including):
    if inc.startswith('splitnn/'):
        stem = os.path.basename(inc)
        if stem == UMBRELLA:
            return 'umbrella'
        if stem in HEADER_LAYER:
            return HEADER_LAYER[stem]
        return c_layer.get(stem[:-2], '?')
    lay = layer_of_source(inc)
    if lay:
        return lay
    # "sn-ops.h" next to the including file, or a generated header
    return layer_of_source(os.path.dirname(including)) or 'external'

for rel in sorted(files):
    if rel.startswith('splitnn/'):
        me = layer_of_header(rel, rel)
    else:
        me = layer_of_source(rel)
    if me in (None, '?'):
        bad.append(f'{rel}: not in a layer folder (and no sn-*.c names its layer)')
        continue
    if me == 'umbrella':
        continue
    for m in re.finditer(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', open(os.path.join(lib, rel)).read(), re.M):
        inc = m.group(1)
        if not (inc.startswith('splitnn/') or inc.startswith(tuple(l + '/' for l in LAYERS)) or inc.startswith('sn-')):
            continue
        it = layer_of_header(inc, rel)
        if it == 'umbrella':
            bad.append(f'{rel} ({me}) includes the umbrella header {inc}')
        elif it == '?':
            bad.append(f'{rel}: cannot tell the layer of {inc}')
        elif it in RANK and RANK[it] > RANK[me]:
            bad.append(f'{rel} ({me}) includes {inc} ({it}), a higher layer')

build = os.environ.get('SPLITNN_BUILD_ROOT')
if build:
    objdir = None
    for d in os.listdir(os.path.join(build, 'libsplitnn')):
        p = os.path.join(build, 'libsplitnn', d)
        if d.endswith('.p') and any(o.endswith('.o') for o in os.listdir(p)):
            objdir = p
    defined, used = {}, {}
    for o in os.listdir(objdir or '.'):
        if not o.endswith('.o'):
            continue
        lay = o.split('_')[0]
        if lay not in RANK:
            continue
        out = subprocess.check_output(['nm', os.path.join(objdir, o)], text=True)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in 'TDBRV':
                defined[parts[2]] = (lay, o)
            elif len(parts) == 2 and parts[0] == 'U' and parts[1].startswith('sn_'):
                used.setdefault(o, (lay, set()))[1].add(parts[1])
    for o, (lay, syms) in sorted(used.items()):
        for s in sorted(syms):
            if s in defined and RANK[defined[s][0]] > RANK[lay]:
                bad.append(f'{o} ({lay}) calls {s} from {defined[s][1]} ({defined[s][0]}), a higher layer')
    if objdir is None:
        bad.append('no libsplitnn object directory under ' + build)

    # 3. exports: the shared library exports exactly the SN_API declarations
    # of the public headers, and pthreadpool_*: engine/sn-pool.c defines
    # those for XNNPACK to call through the dynamic linker (so that XNNPACK
    # runs on libsplitnn's pool), which needs them exported.
    api = set()
    for h in os.listdir(os.path.join(lib, 'splitnn')):
        for m in re.finditer(r'^SN_API\b[^(]*?\b(sn_[a-z0-9_]+)\s*\(', open(os.path.join(lib, 'splitnn', h)).read(), re.M):
            api.add(m.group(1))
    so = os.path.join(build, 'libsplitnn', 'libsplitnn.so')
    out = subprocess.check_output(['nm', '-D', '--defined-only', so], text=True)
    exported = {l.split()[-1] for l in out.splitlines() if l.split()[-2] in 'TDBRVW'}
    exported -= {'_init', '_fini'}
    exported = {s for s in exported if not s.startswith('pthreadpool_')}
    for s in sorted(exported - api):
        bad.append(f'libsplitnn.so exports {s}, which no public header declares SN_API')
    for s in sorted(api - exported):
        bad.append(f'{s} is declared SN_API but libsplitnn.so does not define it')

for b in bad:
    print('layering:', b)
print(f'{len(files)} files checked, {len(bad)} violations')
sys.exit(1 if bad else 0)
