#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables of bench/feature-rd: the rate-fidelity rows, the ablation and the
BD-rates (Bjontegaard: log-rate fitted as a cubic in fidelity, the mean gap
over the fidelity range both curves cover, intersected with 95-99.5 when
that leaves a range)."""
import json
import sys

import numpy as np


def bd_rate(anchor, test):
    """Mean rate change of test against anchor, in percent, and the range."""
    if len(anchor) < 4 or len(test) < 4:
        return None, 0, 0
    fa, ra = np.array([p[0] for p in anchor]), np.log10([p[1] for p in anchor])
    ft, rt = np.array([p[0] for p in test]), np.log10([p[1] for p in test])
    lo, hi = max(fa.min(), ft.min()), min(fa.max(), ft.max())
    if max(lo, 95.0) < min(hi, 99.5):
        lo, hi = max(lo, 95.0), min(hi, 99.5)
    if hi <= lo or len(anchor) < 4 or len(test) < 4:
        return None, lo, hi
    pa, pt = np.polyint(np.polyfit(fa, ra, 3)), np.polyint(np.polyfit(ft, rt, 3))
    ia = np.polyval(pa, hi) - np.polyval(pa, lo)
    it = np.polyval(pt, hi) - np.polyval(pt, lo)
    return (10 ** ((it - ia) / (hi - lo)) - 1) * 100, lo, hi


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith('{')]
    family = sys.argv[2].split(',')
    ablation = sys.argv[3].split(',')
    by = {r['setting']: r for r in rows}
    x264 = [r for r in rows if r['setting'].startswith('x264')]
    jpeg = [r for r in rows if r['setting'].startswith('jpeg')]
    fc = [by[s] for s in family if s in by]
    # the cut as a video (mosaic-NAME-qpN) and the codec with step gains
    mosaics = {}
    for r in rows:
        if r['setting'].startswith('mosaic-'):
            mosaics.setdefault('mosaic ' + r['setting'].split('-')[1], []).append(r)
    gains = [r for r in rows if r['setting'].startswith('gains ')]
    values = fc[0].get('values', 393216) if fc else 0

    print('\n| option | bytes/frame | bits/element | fidelity_ap50 | encode ms | decode ms |')
    print('| --- | ---: | ---: | ---: | ---: | ---: |')
    extra = [r for m in mosaics.values() for r in m] + gains
    for r in x264 + jpeg + [by[s] for s in ('raw-rgb',) if s in by] + fc + extra:
        bpe = r.get('bits_per_element', r['bytes_per_frame'] * 8 / values if values else 0)
        enc = '%.2f' % r['encode_ms'] if 'encode_ms' in r else ''
        dec = '%.2f' % r['decode_ms'] if 'decode_ms' in r else ''
        print('| %s | %.0f | %.4f | %.2f | %s | %s |' % (r['setting'], r['bytes_per_frame'], bpe,
              r['fidelity_ap50'], enc, dec))

    print('\nAblation (cut %s, %s values a frame):' % (fc[0]['cut'] if fc else '?', int(values)))
    print('| setting (bits:dead zone:tile:refresh:temporal:range) | bytes/frame | bits/element |'
          ' inter bytes/frame | values updated | fidelity_ap50 | encode ms | decode ms |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for s in ablation[:4] + [f for f in family if f.startswith('4:1:')] + ablation[4:]:
        if s in by:
            r = by[s]
            print('| %s | %.0f | %.4f | %.0f | %.2f%% | %.2f | %.2f | %.2f |' % (
                s, r['bytes_per_frame'], r['bits_per_element'], r['inter_bytes_per_frame'],
                100 * r['updated_fraction'], r['fidelity_ap50'], r['encode_ms'], r['decode_ms']))

    curve = lambda rs: sorted((r['fidelity_ap50'], r['bytes_per_frame']) for r in rs)
    print('\n| test | anchor | BD-rate | fidelity range | points in range (test, anchor) |')
    print('| --- | --- | ---: | --- | --- |')
    tests = [('feature codec', fc)] + list(mosaics.items())
    if gains:
        tests.append(('feature codec, step gains', gains))
    for tname, t in tests + [('x264', x264)]:
        for aname, a in (('x264', x264), ('JPEG', jpeg)):
            if tname == 'x264' and aname == 'x264':
                continue
            bd, lo, hi = bd_rate(curve(a), curve(t))
            inr = lambda rs: sum(lo <= r['fidelity_ap50'] <= hi for r in rs)
            print('| %s | %s | %s | %.2f-%.2f | %d, %d |' % (
                tname, aname, '%+.1f%%' % bd if bd is not None else 'n/a (no overlap)', lo, hi,
                inr(t), inr(a)))
    ok = [r for r in fc if r['fidelity_ap50'] >= 97]
    if ok:
        r = min(ok, key=lambda r: r['bytes_per_frame'])
        today = next((x for x in rows if 'today_lossless8_encode_ms' in x), None)
        print('\nat fidelity >= 97: cheapest feature setting %s, %.0f bytes/frame, encode %.2f ms '
              '(today 8-bit lossless %.2f ms, lossy %.2f ms), decode %.2f ms' % (
                  r['setting'], r['bytes_per_frame'], r['encode_ms'],
                  today['today_lossless8_encode_ms'] if today else -1,
                  today['today_lossy8_encode_ms'] if today else -1, r['decode_ms']))


if __name__ == '__main__':
    main()
