/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the temporal feature codec (see sn-fcodec.h, docs/codecs.md,
 * docs/protocol.md "Temporal feature codec").
 *
 * The frame loop is written once for both directions: every binary decision
 * goes through rc_bit(), which the encoder calls with the bit to write and
 * the decoder with a placeholder, getting the bit it read.  Encoder and
 * decoder therefore update the same contexts in the same order by
 * construction, which is what keeps their references identical. */
#include "splitnn/sn-fcodec.h"

#include <math.h>
#include <string.h>

#include "splitnn/sn-error.h"

/* ---- Adaptive binary range coder ------------------------------------------
 *
 * The carry-less range coder of LZMA (Igor Pavlov; public domain), with two
 * changes: 15-bit probabilities, and each probability the mean of a fast
 * (shift 4) and a slow (shift 7) estimator, so sparse contexts adapt quickly
 * and busy ones settle precisely.  Written here because no Debian library
 * offers a binary coder with caller-defined contexts: zstd, zlib, xz and
 * brotli model bytes with their own contexts, and the codec's gain comes
 * from contexts only the caller knows (neighbours, previous frame). */

#define PROB_BITS 15
#define PROB_ONE (1u << PROB_BITS)
#define TOP (1u << 24)

typedef struct {
  guint16 fast, slow;       /* probability of a 0, out of PROB_ONE */
} Prob;

typedef struct {
  gboolean decoding;
  guint32 range;
  /* encoder */
  guint64 low;
  guint8 cache;
  guint64 cache_size;
  gboolean first;           /* LZMA's first byte is always 0: not written */
  GByteArray *out;
  /* decoder */
  guint32 code;
  const guint8 *in, *end;
  size_t overrun;           /* bytes read past the end (as zeros) */
} Rc;

static void
prob_init (Prob *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i].fast = p[i].slow = PROB_ONE / 2;
}

static void
rc_shift_low (Rc *rc)
{
  if ((guint32) rc->low < 0xFF000000u || (rc->low >> 32) != 0) {
    guint8 carry = (guint8) (rc->low >> 32);
    guint8 temp = rc->cache;
    do {
      guint8 b = (guint8) (temp + carry);
      if (!rc->first)
        g_byte_array_append (rc->out, &b, 1);
      rc->first = FALSE;
      temp = 0xFF;
    } while (--rc->cache_size != 0);
    rc->cache = (guint8) (rc->low >> 24);
  }
  rc->cache_size++;
  rc->low = (rc->low & 0x00FFFFFFu) << 8;
}

static guint8
rc_next_byte (Rc *rc)
{
  if (rc->in < rc->end)
    return *rc->in++;
  rc->overrun++;
  return 0;
}

static void
rc_enc_init (Rc *rc, GByteArray *out)
{
  memset (rc, 0, sizeof *rc);
  rc->range = 0xFFFFFFFFu;
  rc->cache_size = 1;
  rc->first = TRUE;
  rc->out = out;
}

static void
rc_enc_flush (Rc *rc)
{
  for (int i = 0; i < 5; i++)
    rc_shift_low (rc);
}

static void
rc_dec_init (Rc *rc, const guint8 *data, size_t len)
{
  memset (rc, 0, sizeof *rc);
  rc->decoding = TRUE;
  rc->range = 0xFFFFFFFFu;
  rc->in = data;
  rc->end = data + len;
  for (int i = 0; i < 4; i++)     /* the fifth byte of LZMA's start, its leading 0, is implied */
    rc->code = (rc->code << 8) | rc_next_byte (rc);
}

/* Codes (encoder) or returns (decoder) one bit with probability p. */
static inline int
rc_bit (Rc *rc, Prob *p, int bit)
{
  guint32 p0 = ((guint32) p->fast + p->slow) >> 1;
  p0 = CLAMP (p0, 31u, PROB_ONE - 31u);
  guint32 bound = (rc->range >> PROB_BITS) * p0;
  if (rc->decoding)
    bit = rc->code >= bound;
  if (!bit) {
    rc->range = bound;
    p->fast += (PROB_ONE - p->fast) >> 4;
    p->slow += (PROB_ONE - p->slow) >> 7;
  } else {
    if (rc->decoding)
      rc->code -= bound;
    else
      rc->low += bound;
    rc->range -= bound;
    p->fast -= p->fast >> 4;
    p->slow -= p->slow >> 7;
  }
  while (rc->range < TOP) {
    rc->range <<= 8;
    if (rc->decoding)
      rc->code = (rc->code << 8) | rc_next_byte (rc);
    else
      rc_shift_low (rc);
  }
  return bit;
}

/* A bit at probability 1/2 (escape values). */
static inline int
rc_bypass (Rc *rc, int bit)
{
  Prob p = { PROB_ONE / 2, PROB_ONE / 2 };
  return rc_bit (rc, &p, bit);
}

/* ---- Contexts ------------------------------------------------------------- */

/* REFRESH: a tile of an inter frame in its rolling-refresh turn, coded
 * without dead zone (its statistics differ from both others). */
enum { INTER = 0, INTRA = 1, REFRESH = 2, MODES };
#define MAG_BINS 15             /* unary bins with their own context; then 8 bypass bits */

typedef struct {
  /* tile coded? by left, above, same tile last frame, earlier channels,
   * rolling-refresh turn */
  Prob skip[64];
  Prob sig[MODES][32];      /* value nonzero? */
  /* by the signs of the left and above values and of the same value in the
   * channel before, and where the reference sits in the code range */
  Prob sign[MODES][81];
  /* magnitude bins, by whether a neighbour is large, whether the same value
   * in the channel before is, and whether the room left is small */
  Prob mag[MODES][8][MAG_BINS];
} ChanCtx;

/* ---- Shared state --------------------------------------------------------- */

typedef struct {
  int C, H, W, levels, tile, tiles_x, tiles_y;
  int64_t numel;
  float *scale, *lo, *hi;   /* per channel */
  guint8 *ref;              /* the reference: one code per value */
  gint16 *res;              /* this frame's residuals (0 where not updated) */
  guint8 *prev_sig;         /* last frame's residual != 0 */
  guint8 *tile_cur, *tile_prev;  /* per tile: coded in this / the last frame */
  /* Across channels in this frame: how many earlier channels updated each
   * position / coded each tile.  Motion moves every channel at the same
   * place, so these are the strongest contexts of an inter frame. */
  guint8 *act, *tile_act;
  ChanCtx *ctx;
  guint32 frame;            /* number of the last frame coded */
  SnFcodecStats stats;
} State;

static gboolean
state_init (State *s, const SnShape *shape, const float *lo, const float *hi, int bits, int tile,
    GError **error)
{
  memset (s, 0, sizeof *s);
  if (shape->rank != 4 || shape->dims[0] != 1 || shape->dims[1] < 1 || shape->dims[1] > 4096
      || shape->dims[2] < 1 || shape->dims[2] > 65535 || shape->dims[3] < 1
      || shape->dims[3] > 65535) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "temporal feature codec: needs a 1 x C x H x W tensor (C <= 4096, H, W <= 65535)");
    return FALSE;
  }
  if (bits < 2 || bits > 8) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "temporal feature codec: %d bits (2 to 8)", bits);
    return FALSE;
  }
  s->C = (int) shape->dims[1];
  s->H = (int) shape->dims[2];
  s->W = (int) shape->dims[3];
  for (int c = 0; c < s->C; c++)
    if (!isfinite (lo[c]) || !isfinite (hi[c]) || hi[c] < lo[c]) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "temporal feature codec: channel %d range [%g, %g] is not a finite interval", c, lo[c],
          hi[c]);
      return FALSE;
    }
  s->numel = (int64_t) s->C * s->H * s->W;
  s->levels = (1 << bits) - 1;
  s->tile = tile;
  s->tiles_x = (s->W + tile - 1) / tile;
  s->tiles_y = (s->H + tile - 1) / tile;
  s->scale = g_new (float, s->C);
  s->lo = g_new (float, s->C);
  s->hi = g_new (float, s->C);
  for (int c = 0; c < s->C; c++) {
    s->lo[c] = lo[c];
    s->hi[c] = hi[c];
    s->scale[c] = hi[c] > lo[c] ? (hi[c] - lo[c]) / s->levels : 1.0f;
  }
  s->ref = g_new0 (guint8, s->numel);
  s->res = g_new0 (gint16, s->numel);
  s->prev_sig = g_new0 (guint8, s->numel);
  s->tile_cur = g_new0 (guint8, (size_t) s->C * s->tiles_x * s->tiles_y);
  s->tile_prev = g_new0 (guint8, (size_t) s->C * s->tiles_x * s->tiles_y);
  s->ctx = g_new (ChanCtx, s->C);
  s->act = g_new0 (guint8, (size_t) s->H * s->W);
  s->tile_act = g_new0 (guint8, (size_t) s->tiles_x * s->tiles_y);
  return TRUE;
}

static void
state_clear (State *s)
{
  g_free (s->scale);
  g_free (s->lo);
  g_free (s->hi);
  g_free (s->ref);
  g_free (s->res);
  g_free (s->prev_sig);
  g_free (s->tile_cur);
  g_free (s->tile_prev);
  g_free (s->ctx);
  g_free (s->act);
  g_free (s->tile_act);
}

static void
reset_contexts (State *s)
{
  prob_init ((Prob *) s->ctx, (size_t) s->C * sizeof (ChanCtx) / sizeof (Prob));
}

/* One residual d that takes `base` (a code, 0..levels) to base + d, also a
 * code: significance, sign, then |d| - off - 1 in unary bins and an 8-bit
 * escape.  What the range rules out is not coded: a sign that would leave
 * it, unary bins past the room left (truncated unary).  Returns the
 * residual (the decoder's; the encoder's d). */
static inline int
code_residual (Rc *rc, ChanCtx *cx, int mode, int sig_ctx, int sign_ctx, int mag_ctx, int d,
    int off, int step, int base, int levels)
{
  int can_neg = base > off, can_pos = levels - base > off;
  if (!can_neg && !can_pos)
    return 0;
  if (!rc_bit (rc, &cx->sig[mode][sig_ctx], d != 0))
    return 0;
  int neg = can_neg && can_pos ? rc_bit (rc, &cx->sign[mode][sign_ctx], d < 0) : can_neg;
  int room = neg ? base : levels - base;     /* |d| <= room */
  /* |d| = off + 1 + m * step: the encoder rounds to the nearest one that
   * stays in range (error below step / 2, or step - 1 at the range's ends). */
  int maxm = (room - off - 1) / step;
  int m = rc->decoding ? 0 : MIN ((ABS (d) - off - 1 + step / 2) / step, maxm), i;
  if (mag_ctx >= 0 && room - off <= 4)
    mag_ctx += 4;
  Prob *bins = cx->mag[mode][mag_ctx];
  for (i = 0; i < MAG_BINS && i < maxm; i++)
    if (!rc_bit (rc, &bins[i], m > i))
      break;
  if (i == MAG_BINS && maxm > MAG_BINS) {
    int e = m - MAG_BINS, v = 0;
    for (int b = 7; b >= 0; b--)
      v |= rc_bypass (rc, (e >> b) & 1) << b;
    i = MAG_BINS + v;
  }
  int a = i * step + off + 1;
  return neg ? -a : a;
}

/* A residual out of the code range: only a malformed frame makes one. */
static gboolean
bad_code (GError **error, int c, int y, int x)
{
  g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
      "temporal feature frame: value (channel %d, y %d, x %d) decodes out of the code range", c, y,
      x);
  return FALSE;
}

/* Rolling refresh: in an inter frame, tile t of channel c takes its turn
 * (coded without dead zone, so every value there catches up with the frame)
 * when (t + c) mod period == frame mod period.  Every tile's turn comes
 * once per period, spread evenly over the frames, so the drift the dead
 * zone leaves is bounded in time without a whole intra frame's spike. */
static inline gboolean
refresh_turn (int period, guint32 frame, int c, int t)
{
  return period > 0 && (guint32) (t + c) % (guint32) period == frame % (guint32) period;
}

/* Intra: every value exact, predicted from its left, above and above-left
 * neighbours (LOCO-I's median predictor).  q is the frame's codes
 * (encoder) or NULL (decoder: codes go straight into the reference). */
static gboolean
code_intra (State *s, Rc *rc, const guint8 *q, GError **error)
{
  reset_contexts (s);
  int W = s->W, mid = (s->levels + 1) / 2;
  int64_t updated = 0;
  for (int c = 0; c < s->C; c++) {
    ChanCtx *cx = &s->ctx[c];
    guint8 *r = s->ref + (size_t) c * s->H * W;
    gint16 *res = s->res + (size_t) c * s->H * W;
    for (int y = 0; y < s->H; y++)
      for (int x = 0; x < W; x++) {
        int i = y * W + x;
        int L = x ? r[i - 1] : (y ? r[i - W] : mid);
        int A = y ? r[i - W] : L;
        int AL = x && y ? r[i - W - 1] : A;
        int pred = AL >= MAX (L, A) ? MIN (L, A) : AL <= MIN (L, A) ? MAX (L, A) : L + A - AL;
        int g = ABS (L - AL) + ABS (A - AL);
        int gb = g == 0 ? 0 : g == 1 ? 1 : g <= 3 ? 2 : 3;
        int left = x ? res[i - 1] : 0;
        int sig_ctx = gb * 2 + (left != 0);
        int sign_ctx = left == 0 ? 0 : left > 0 ? 1 : 2;
        int d = q ? q[(size_t) c * s->H * W + i] - pred : 0;
        d = code_residual (rc, cx, INTRA, sig_ctx, sign_ctx, g > 3, d, 0, 1, pred, s->levels);
        int v = pred + d;
        if (v < 0 || v > s->levels)
          return bad_code (error, c, y, x);
        r[i] = (guint8) v;
        res[i] = (gint16) d;
        updated += d != 0;
      }
  }
  memset (s->prev_sig, 0, s->numel);
  memset (s->tile_prev, 0, (size_t) s->C * s->tiles_x * s->tiles_y);
  s->stats.intra = TRUE;
  s->stats.updated = updated;
  s->stats.tiles_coded = s->stats.tiles;
  return TRUE;
}

/* Inter: residual against the reference, values inside the dead zone left
 * as they are, tiles without an update skipped. */
static gboolean
code_inter (State *s, Rc *rc, const guint8 *q, const guint8 *upd, int dz, int step,
    int rolling, guint32 frame, GError **error)
{
  int W = s->W, H = s->H, T = s->tile;
  int64_t updated = 0;
  int coded_tiles = 0;
  memset (s->res, 0, s->numel * sizeof (gint16));
  memset (s->act, 0, (size_t) H * W);
  memset (s->tile_act, 0, (size_t) s->tiles_x * s->tiles_y);
  for (int c = 0; c < s->C; c++) {
    ChanCtx *cx = &s->ctx[c];
    guint8 *r = s->ref + (size_t) c * H * W;
    const guint8 *qc = q ? q + (size_t) c * H * W : NULL;
    const guint8 *uc = upd ? upd + (size_t) c * H * W : NULL;
    gint16 *res = s->res + (size_t) c * H * W;
    const guint8 *ps = s->prev_sig + (size_t) c * H * W;
    guint8 *tc = s->tile_cur + (size_t) c * s->tiles_x * s->tiles_y;
    const guint8 *tp = s->tile_prev + (size_t) c * s->tiles_x * s->tiles_y;
    for (int ty = 0; ty < s->tiles_y; ty++)
      for (int tx = 0; tx < s->tiles_x; tx++) {
        int y0 = ty * T, x0 = tx * T, y1 = MIN (H, y0 + T), x1 = MIN (W, x0 + T);
        int t = ty * s->tiles_x + tx;
        int any = 0;
        if (uc)
          for (int y = y0; y < y1 && !any; y++)
            for (int x = x0; x < x1; x++)
              if (uc[y * W + x]) {
                any = 1;
                break;
              }
        int ta = s->tile_act[t];
        int turn = refresh_turn (rolling, frame, c, t);
        int mode = turn ? REFRESH : INTER, off = turn ? 0 : dz;
        int skip_ctx = (tx ? tc[t - 1] : 0) + 2 * (ty ? tc[t - s->tiles_x] : 0) + 4 * tp[t]
            + 8 * (ta == 0 ? 0 : ta <= 2 ? 1 : ta <= 6 ? 2 : 3) + 32 * turn;
        any = rc_bit (rc, &cx->skip[skip_ctx], any);
        tc[t] = (guint8) any;
        if (!any)
          continue;
        s->tile_act[t] = (guint8) MIN (255, ta + 1);
        coded_tiles++;
        for (int y = y0; y < y1; y++)
          for (int x = x0; x < x1; x++) {
            int i = y * W + x;
            int L = x ? res[i - 1] : 0, A = y ? res[i - W] : 0;
            int AL = x && y ? res[i - W - 1] : 0, AR = y && x + 1 < W ? res[i - W + 1] : 0;
            int n = (L != 0) + (A != 0) + (AL != 0) + (AR != 0);
            int a = s->act[i];
            int sig_ctx = (MIN (n, 2) * 2 + ps[i]) * 4 + (a == 0 ? 0 : a <= 2 ? 1 : a <= 5 ? 2 : 3);
            int P = c ? res[i - H * W] : 0;
            int sign_ctx = (L == 0 ? 0 : L > 0 ? 1 : 2) + 3 * (A == 0 ? 0 : A > 0 ? 1 : 2)
                + 9 * (P == 0 ? 0 : P > 0 ? 1 : 2) + 27 * (r[i] * 3 / (s->levels + 1));
            int big = (ABS (L) > dz + 2 || ABS (A) > dz + 2) + 2 * (ABS (P) > dz + 2);
            int d = 0;
            if (uc && uc[i])
              d = qc[i] - r[i];
            d = code_residual (rc, cx, mode, sig_ctx, sign_ctx, big, d, off, turn ? 1 : step, r[i],
                s->levels);
            if (d) {
              int v = r[i] + d;
              if (v < 0 || v > s->levels)
                return bad_code (error, c, y, x);
              r[i] = (guint8) v;
              res[i] = (gint16) d;
              updated++;
              if (s->act[i] < 255)
                s->act[i]++;
            }
          }
      }
  }
  for (int64_t i = 0; i < s->numel; i++)
    s->prev_sig[i] = s->res[i] != 0;
  guint8 *swap = s->tile_prev;
  s->tile_prev = s->tile_cur;
  s->tile_cur = swap;
  s->stats.intra = FALSE;
  s->stats.updated = updated;
  s->stats.tiles_coded = coded_tiles;
  return TRUE;
}

static void
put_u16 (guint8 *p, guint v)
{
  p[0] = (guint8) v;
  p[1] = (guint8) (v >> 8);
}

static guint
get_u16 (const guint8 *p)
{
  return p[0] | p[1] << 8;
}

/* ---- Encoder -------------------------------------------------------------- */

struct SnFcodecEncoder {
  State s;
  SnFcodecConfig cfg;
  guint8 *q;                /* this frame's codes */
  guint8 *upd;              /* inter: which values this frame updates */
  gboolean force_intra;
  guint32 since_intra;
  guint32 next_frame;       /* number of the next frame (the first is 0) */
};

void
sn_fcodec_config_init (SnFcodecConfig *cfg)
{
  cfg->bits = 4;
  cfg->dead_zone = 1;
  cfg->lone_dead_zone = 0;
  cfg->tile = 8;
  cfg->refresh = 30;
  cfg->rolling = 0;
  cfg->residual_step = 0;
  cfg->temporal = TRUE;
}

SnFcodecEncoder *
sn_fcodec_encoder_new (const SnShape *shape, const float *lo, const float *hi,
    const SnFcodecConfig *cfg, GError **error)
{
  if (cfg->dead_zone < 0 || cfg->dead_zone > 15 || cfg->lone_dead_zone < 0
      || cfg->lone_dead_zone > 255
      || (cfg->tile != 4 && cfg->tile != 8 && cfg->tile != 16 && cfg->tile != 32)
      || cfg->refresh < 0 || cfg->rolling < 0 || cfg->rolling > 255 || cfg->residual_step < 0
      || cfg->residual_step > MIN (16, 2 * cfg->dead_zone + 1)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "temporal feature codec: dead zone %d (0-15), tile %d (4, 8, 16, 32), refresh %d (>= 0), "
        "rolling refresh %d (0-255), residual step %d (0 or 1 to 2 x dead zone + 1, at most 16)",
        cfg->dead_zone, cfg->tile, cfg->refresh, cfg->rolling, cfg->residual_step);
    return NULL;
  }
  SnFcodecEncoder *e = g_new0 (SnFcodecEncoder, 1);
  if (!state_init (&e->s, shape, lo, hi, cfg->bits, cfg->tile, error)) {
    state_clear (&e->s);
    g_free (e);
    return NULL;
  }
  e->cfg = *cfg;
  if (e->cfg.residual_step == 0)
    e->cfg.residual_step = MIN (16, 2 * cfg->dead_zone + 1);
  e->q = g_new (guint8, e->s.numel);
  e->upd = g_new (guint8, e->s.numel);
  e->force_intra = TRUE;
  return e;
}

void
sn_fcodec_encoder_free (SnFcodecEncoder *e)
{
  if (!e)
    return;
  state_clear (&e->s);
  g_free (e->q);
  g_free (e->upd);
  g_free (e);
}

void
sn_fcodec_encoder_request_refresh (SnFcodecEncoder *e)
{
  e->force_intra = TRUE;
}

const guint8 *
sn_fcodec_encoder_reference (const SnFcodecEncoder *e)
{
  return e->s.ref;
}

void
sn_fcodec_encoder_stats (const SnFcodecEncoder *e, SnFcodecStats *stats)
{
  *stats = e->s.stats;
}

static void refresh_updates (SnFcodecEncoder *e, guint32 frame);

/* Which values an inter frame updates: those whose code moved by more than
 * the dead zone, except lone ones (no neighbour in the 3x3 window of their
 * channel moved beyond the dead zone too) that moved by no more than the
 * lone dead zone.  Isolated flickers cost the most bits (their position is
 * least predictable) and matter least: objects move whole regions. */
static void
choose_updates (SnFcodecEncoder *e, guint32 frame)
{
  State *s = &e->s;
  int W = s->W, H = s->H, dz = e->cfg.dead_zone;
  int lone = MAX (e->cfg.lone_dead_zone, dz);
  for (int64_t i = 0; i < s->numel; i++) {
    int d = e->q[i] - s->ref[i];
    e->upd[i] = d > dz || d < -dz;
  }
  if (lone == dz) {
    refresh_updates (e, frame);
    return;
  }
  for (int c = 0; c < s->C; c++) {
    guint8 *u = e->upd + (size_t) c * H * W;
    const guint8 *q = e->q + (size_t) c * H * W, *r = s->ref + (size_t) c * H * W;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        int i = y * W + x;
        if (!(u[i] & 1))
          continue;
        int d = q[i] - r[i];
        if (d > lone || d < -lone)
          continue;
        int company = 0;
        for (int yy = MAX (0, y - 1); yy <= MIN (H - 1, y + 1) && !company; yy++)
          for (int xx = MAX (0, x - 1); xx <= MIN (W - 1, x + 1); xx++)
            if ((yy != y || xx != x) && (u[yy * W + xx] & 1)) {
              company = 1;
              break;
            }
        if (!company)
          u[i] |= 2;            /* lone: dropped below, after every neighbour was looked at */
      }
    for (int i = 0; i < H * W; i++)
      u[i] = u[i] == 1;
  }
  refresh_updates (e, frame);
}

/* Tiles in their rolling-refresh turn update every value that differs. */
static void
refresh_updates (SnFcodecEncoder *e, guint32 frame)
{
  State *s = &e->s;
  int W = s->W, H = s->H, T = s->tile;
  if (e->cfg.rolling <= 0)
    return;
  for (int c = 0; c < s->C; c++)
    for (int ty = 0; ty < s->tiles_y; ty++)
      for (int tx = 0; tx < s->tiles_x; tx++) {
        if (!refresh_turn (e->cfg.rolling, frame, c, ty * s->tiles_x + tx))
          continue;
        size_t base = (size_t) c * H * W;
        for (int y = ty * T; y < MIN (H, ty * T + T); y++)
          for (int x = tx * T; x < MIN (W, tx * T + T); x++) {
            size_t i = base + (size_t) y * W + x;
            e->upd[i] = e->q[i] != s->ref[i];
          }
      }
}

gboolean
sn_fcodec_encode (SnFcodecEncoder *e, const SnTensor *x, GByteArray *out, GError **error)
{
  State *s = &e->s;
  if (x->dtype != SN_DTYPE_FLOAT32 || sn_tensor_numel (x) != s->numel || x->shape.rank != 4
      || x->shape.dims[1] != s->C || x->shape.dims[2] != s->H || x->shape.dims[3] != s->W) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "temporal feature codec: the encoder was made for float32 1x%dx%dx%d", s->C, s->H, s->W);
    return FALSE;
  }
  /* 1. Quantize with the stored ranges (NaN -> code 0, as sn-quant does). */
  const float *src = x->data;
  size_t plane = (size_t) s->H * s->W;
  for (int c = 0; c < s->C; c++) {
    float off = s->lo[c], inv = 1.0f / s->scale[c], top = (float) s->levels;
    const float *p = src + c * plane;
    guint8 *q = e->q + c * plane;
    for (size_t i = 0; i < plane; i++) {
      float v = (p[i] - off) * inv + 0.5f;
      v = v > 0 ? v : 0;
      v = v < top ? v : top;
      q[i] = (guint8) (int) v;
    }
  }
  gboolean intra = e->force_intra || !e->cfg.temporal
      || (e->cfg.refresh > 0 && e->since_intra + 1 >= (guint32) e->cfg.refresh);
  guint32 frame = e->next_frame++;
  size_t start = out->len;
  guint8 h[SN_FCODEC_HEADER_BYTES] = { 'F', 'C', SN_FCODEC_VERSION, intra ? 1 : 0,
    (guint8) (e->cfg.bits),
    (guint8) (intra ? 0 : e->cfg.dead_zone | (e->cfg.residual_step - 1) << 4), (guint8) e->cfg.tile,
    (guint8) (intra ? 0 : e->cfg.rolling) };
  h[8] = (guint8) frame;
  h[9] = (guint8) (frame >> 8);
  h[10] = (guint8) (frame >> 16);
  h[11] = (guint8) (frame >> 24);
  put_u16 (h + 12, s->C);
  put_u16 (h + 14, s->H);
  put_u16 (h + 16, s->W);
  g_byte_array_append (out, h, sizeof h);
  Rc rc;
  rc_enc_init (&rc, out);
  s->stats.values = s->numel;
  s->stats.tiles = s->C * s->tiles_x * s->tiles_y;
  gboolean ok = intra ? code_intra (s, &rc, e->q, error)
      : (choose_updates (e, frame), code_inter (s, &rc, e->q, e->upd, e->cfg.dead_zone,
          e->cfg.residual_step, e->cfg.rolling, frame, error));
  g_assert (ok);                /* the encoder's own residuals are always in range */
  rc_enc_flush (&rc);
  s->frame = frame;
  s->stats.bytes = out->len - start;
  e->force_intra = FALSE;
  e->since_intra = intra ? 0 : e->since_intra + 1;
  return TRUE;
}

/* ---- Decoder -------------------------------------------------------------- */

struct SnFcodecDecoder {
  State s;
  int bits;
  gboolean needs_refresh;
};

SnFcodecDecoder *
sn_fcodec_decoder_new (const SnShape *shape, const float *lo, const float *hi, GError **error)
{
  SnFcodecDecoder *d = g_new0 (SnFcodecDecoder, 1);
  /* The bit width and tile come with each frame; the state is sized for
   * 8x8 tiles and rebuilt when a frame brings another size. */
  if (!state_init (&d->s, shape, lo, hi, 8, 8, error)) {
    state_clear (&d->s);
    g_free (d);
    return NULL;
  }
  d->bits = 8;
  d->needs_refresh = TRUE;
  return d;
}

void
sn_fcodec_decoder_free (SnFcodecDecoder *d)
{
  if (!d)
    return;
  state_clear (&d->s);
  g_free (d);
}

gboolean
sn_fcodec_decoder_needs_refresh (const SnFcodecDecoder *d)
{
  return d->needs_refresh;
}

const guint8 *
sn_fcodec_decoder_reference (const SnFcodecDecoder *d)
{
  return d->s.ref;
}

void
sn_fcodec_decoder_stats (const SnFcodecDecoder *d, SnFcodecStats *stats)
{
  *stats = d->s.stats;
}

static gboolean
corrupt (SnFcodecDecoder *d, GError **error, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
corrupt (SnFcodecDecoder *d, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "temporal feature frame: %s", msg);
  d->needs_refresh = TRUE;
  return FALSE;
}

gboolean
sn_fcodec_decode (SnFcodecDecoder *d, const guint8 *data, size_t len, SnTensor *out,
    GError **error)
{
  State *s = &d->s;
  if (out->dtype != SN_DTYPE_FLOAT32 || out->shape.rank != 4 || sn_tensor_numel (out) != s->numel
      || out->shape.dims[1] != s->C || out->shape.dims[2] != s->H) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "temporal feature codec: the decoder was made for float32 1x%dx%dx%d", s->C, s->H, s->W);
    return FALSE;
  }
  if (len < SN_FCODEC_HEADER_BYTES)
    return corrupt (d, error, "%zu bytes, shorter than the %d-byte header", len,
        SN_FCODEC_HEADER_BYTES);
  if (data[0] != 'F' || data[1] != 'C')
    return corrupt (d, error, "bad magic at byte 0");
  if (data[2] != SN_FCODEC_VERSION)
    return corrupt (d, error, "version %u at byte 2 (this build reads %d)", data[2],
        SN_FCODEC_VERSION);
  if (data[3] & ~1u)
    return corrupt (d, error, "reserved flag bits 0x%02x set at byte 3", data[3] & ~1u);
  gboolean intra = data[3] & 1;
  int bits = data[4], dz = data[5] & 15, step = (data[5] >> 4) + 1, tile = data[6];
  if (bits < 2 || bits > 8)
    return corrupt (d, error, "%d bits at byte 4 (2 to 8)", bits);
  if (intra && data[5])
    return corrupt (d, error, "dead zone %d at byte 5 (0 in intra frames)", data[5]);
  if (step > 2 * dz + 1)
    return corrupt (d, error, "residual step %d at byte 5 (at most 2 x dead zone %d + 1)", step,
        dz);
  if (tile != 4 && tile != 8 && tile != 16 && tile != 32)
    return corrupt (d, error, "tile %d at byte 6 (4, 8, 16 or 32)", tile);
  int rolling = data[7];
  if (intra && rolling)
    return corrupt (d, error, "rolling refresh period %d at byte 7 of an intra frame (0 there)",
        rolling);
  guint32 frame = data[8] | data[9] << 8 | data[10] << 16 | (guint32) data[11] << 24;
  if ((int) get_u16 (data + 12) != s->C || (int) get_u16 (data + 14) != s->H
      || (int) get_u16 (data + 16) != s->W)
    return corrupt (d, error, "shape %ux%ux%u at byte 12, the decoder's is %dx%dx%d",
        get_u16 (data + 12), get_u16 (data + 14), get_u16 (data + 16), s->C, s->H, s->W);
  if (!intra) {
    if (d->needs_refresh)
      return corrupt (d, error, "inter frame %u without a reference (waiting for an intra frame)",
          frame);
    if (frame != s->frame + 1)
      return corrupt (d, error, "inter frame %u follows frame %u: a frame was lost", frame,
          s->frame);
    if (bits != d->bits || tile != s->tile)
      return corrupt (d, error, "inter frame with %d bits, tile %d; the reference has %d bits, "
          "tile %d", bits, tile, d->bits, s->tile);
  } else if (bits != d->bits || tile != s->tile) {
    /* Rebuild the state for the new bit width or tile size. */
    SnShape shape = sn_shape_make (4, (int64_t[]) { 1, s->C, s->H, s->W });
    State ns;
    if (!state_init (&ns, &shape, s->lo, s->hi, bits, tile, error)) {
      state_clear (&ns);
      d->needs_refresh = TRUE;
      return FALSE;
    }
    state_clear (s);
    *s = ns;
    d->bits = bits;
  }
  Rc rc;
  rc_dec_init (&rc, data + SN_FCODEC_HEADER_BYTES, len - SN_FCODEC_HEADER_BYTES);
  s->stats.values = s->numel;
  s->stats.tiles = s->C * s->tiles_x * s->tiles_y;
  GError *err = NULL;
  if (!(intra ? code_intra (s, &rc, NULL, &err)
          : code_inter (s, &rc, NULL, NULL, dz, step, rolling, frame, &err))) {
    d->needs_refresh = TRUE;
    g_propagate_error (error, err);
    return FALSE;
  }
  /* The encoder writes exactly the bytes the decoder reads. */
  if (rc.overrun > 0)
    return corrupt (d, error, "payload truncated (%zu bytes short)", rc.overrun);
  if (rc.in != rc.end)
    return corrupt (d, error, "%zu bytes after the end of the coded values",
        (size_t) (rc.end - rc.in));
  s->frame = frame;
  s->stats.bytes = len;
  d->needs_refresh = FALSE;
  /* Dequantize the reference. */
  float *dst = out->data;
  size_t plane = (size_t) s->H * s->W;
  for (int c = 0; c < s->C; c++) {
    float off = s->lo[c], sc = s->scale[c];
    const guint8 *r = s->ref + c * plane;
    float *o = dst + c * plane;
    for (size_t i = 0; i < plane; i++)
      o[i] = off + r[i] * sc;
  }
  return TRUE;
}
