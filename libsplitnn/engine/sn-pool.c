/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the fast path's thread pool (see sn-pool.h for why it exists).
 *
 * One job at a time (callers from several threads take turns on
 * call_lock, as with pthreadpool's execution mutex).  A job is n_items
 * items (tiles of an up-to-6-D range) cut into n_chunks contiguous chunks.
 * The word `next` holds, for the job being run, its generation (high 32
 * bits), its number of chunks (16 bits) and the next chunk to take (low 16
 * bits); a thread owns a chunk once its compare-and-swap advanced `next`.
 * The caller publishes the job description before `next`, and rewrites it
 * only after every chunk is finished, so a thread that holds a chunk reads
 * a stable description without a lock.  `finished` counts finished chunks;
 * the caller waits for it to reach n_chunks, spinning briefly, then on a
 * futex. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "engine/sn-pool.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause ()
#else
#define cpu_relax() __asm__ __volatile__ ("" ::: "memory")
#endif

#ifdef SPLITNN_HAVE_XNNPACK
#include <dlfcn.h>
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

/* Spin this long before sleeping: long enough to bridge the gap between
 * two operators of one inference (microseconds), short enough that an idle
 * worker, or a caller waiting for a preempted one, soon gives its core
 * back. */
#define SPIN_NS 30000
#define MAX_THREADS 64
/* Chunks per thread: a preempted thread holds back at most one of them. */
#define CHUNKS_PER_THREAD 8
#define POOL_MAGIC 0x21216c6f6f506e53ull     /* "SnPool!!" */
/* Backing off from a worker that holds the caller up (see pool_run):
 * a job counts as held up when the caller, out of chunks to take, waited
 * for the others longer than it worked itself and longer than
 * STALL_MIN_NS; the next `backoff` jobs then run on the caller alone,
 * backoff doubling from BACKOFF_MIN_JOBS at each hold-up up to
 * BACKOFF_MAX_JOBS (a frame of the detector is ~300 jobs), and coming
 * back to BACKOFF_MIN_JOBS after CLEAN_JOBS jobs in parallel without one. */
#define STALL_MIN_NS 200000
#define BACKOFF_MIN_JOBS 32
#define BACKOFF_MAX_JOBS 8192
#define CLEAN_JOBS 1024

typedef enum {
  K_PLAIN, K_1D, K_1D_T1, K_2D, K_2D_T1, K_2D_T2, K_3D, K_3D_T2, K_4D, K_4D_T2, K_5D, K_5D_T2,
  K_6D_T2,
} Kind;

typedef struct {
  Kind kind;
  void *fn;
  void *ctx;
  int nd;
  size_t range[6], tile[6], tiles[6];
  size_t n_items, per_chunk;
  uint32_t n_chunks;
  uint32_t flags;
} Job;

struct SnPool {
  /* If Debian's pthreadpool is ever handed this object (a process whose
   * XNNPACK binds to it rather than to the functions below), it reads its
   * thread count at offset 0xf8 (pthreadpool 0.0~git20210507), finds 1
   * and runs the job on the caller: slow, never wrong.  The magic at
   * offset 0, where pthreadpool keeps a small counter, tells our entry
   * points their own pools from pthreadpool's. */
  uint64_t magic;
  unsigned char pad[0xf8 - sizeof (uint64_t)];
  size_t compat_threads;

  int n_threads;
  GThread *workers[MAX_THREADS];
  GMutex call_lock;
  uint32_t generation;
  Job job;
  _Atomic uint64_t next;
  _Atomic uint32_t seq;             /* futex: bumped per job and at stop */
  _Atomic uint32_t finished;        /* futex: chunks finished */
  _Atomic uint32_t sleepers;
  _Atomic uint32_t caller_waiting;
  _Atomic int stop;
  /* Under call_lock: the hold-up back-off (pool_run). */
  gboolean backoff_enabled;
  uint32_t solo_left, backoff, clean;
  uint64_t n_holdups;
};

static void
futex_wait (_Atomic uint32_t *addr, uint32_t val)
{
  syscall (SYS_futex, (uint32_t *) addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void
futex_wake (_Atomic uint32_t *addr, int n)
{
  syscall (SYS_futex, (uint32_t *) addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define NEXT_CHUNK(v) ((uint32_t) ((v) & 0xffff))
#define NEXT_COUNT(v) ((uint32_t) (((v) >> 16) & 0xffff))

static gboolean
claimable (uint64_t v)
{
  return NEXT_CHUNK (v) < NEXT_COUNT (v);
}

static gboolean
grab (SnPool *p, uint32_t *chunk)
{
  uint64_t v = atomic_load (&p->next);
  while (claimable (v)) {
    if (atomic_compare_exchange_weak (&p->next, &v, v + 1)) {
      *chunk = NEXT_CHUNK (v);
      return TRUE;
    }
  }
  return FALSE;
}

/* The tile coordinates of item `item` (t[d]: tile index on axis d). */
static void
item_tiles (const Job *j, size_t item, size_t *t)
{
  for (int d = j->nd - 1; d >= 0; d--) {
    t[d] = item % j->tiles[d];
    item /= j->tiles[d];
  }
}

/* The next item's tile coordinates: an odometer, so that a chunk divides
 * once, not per item (XNNPACK's elementwise jobs have many small items,
 * and the divisions showed up at 2-3 % of the detector's time). */
static void
next_tiles (const Job *j, size_t *t)
{
  for (int d = j->nd - 1; d >= 0; d--) {
    if (++t[d] < j->tiles[d])
      return;
    t[d] = 0;
  }
}

static void
run_item (const Job *j, const size_t *t)
{
  size_t i[6] = { 0 }, l[6] = { 0 };
  for (int d = 0; d < j->nd; d++) {
    i[d] = t[d] * j->tile[d];
    l[d] = MIN (j->tile[d], j->range[d] - i[d]);
  }
  void *c = j->ctx;
  switch (j->kind) {
    case K_PLAIN:
      ((void (*) (void *, size_t)) j->fn) (c, i[0]);
      break;
#ifdef SPLITNN_HAVE_XNNPACK
    case K_1D:
      ((pthreadpool_task_1d_t) j->fn) (c, i[0]);
      break;
    case K_1D_T1:
      ((pthreadpool_task_1d_tile_1d_t) j->fn) (c, i[0], l[0]);
      break;
    case K_2D:
      ((pthreadpool_task_2d_t) j->fn) (c, i[0], i[1]);
      break;
    case K_2D_T1:
      ((pthreadpool_task_2d_tile_1d_t) j->fn) (c, i[0], i[1], l[1]);
      break;
    case K_2D_T2:
      ((pthreadpool_task_2d_tile_2d_t) j->fn) (c, i[0], i[1], l[0], l[1]);
      break;
    case K_3D:
      ((pthreadpool_task_3d_t) j->fn) (c, i[0], i[1], i[2]);
      break;
    case K_3D_T2:
      ((pthreadpool_task_3d_tile_2d_t) j->fn) (c, i[0], i[1], i[2], l[1], l[2]);
      break;
    case K_4D:
      ((pthreadpool_task_4d_t) j->fn) (c, i[0], i[1], i[2], i[3]);
      break;
    case K_4D_T2:
      ((pthreadpool_task_4d_tile_2d_t) j->fn) (c, i[0], i[1], i[2], i[3], l[2], l[3]);
      break;
    case K_5D:
      ((pthreadpool_task_5d_t) j->fn) (c, i[0], i[1], i[2], i[3], i[4]);
      break;
    case K_5D_T2:
      ((pthreadpool_task_5d_tile_2d_t) j->fn) (c, i[0], i[1], i[2], i[3], i[4], l[3], l[4]);
      break;
    case K_6D_T2:
      ((pthreadpool_task_6d_tile_2d_t) j->fn) (c, i[0], i[1], i[2], i[3], i[4], i[5], l[4], l[5]);
      break;
#endif
    default:
      g_assert_not_reached ();
  }
}

/* Runs the chunks this thread can take; TRUE if it took any. */
static gboolean
work (SnPool *p)
{
  uint32_t c;
  gboolean any = FALSE;
  while (grab (p, &c)) {
    const Job *j = &p->job;
    uint32_t n_chunks = j->n_chunks;
#if defined(__x86_64__)
    unsigned csr = 0;
    if (j->flags & 1) {         /* PTHREADPOOL_FLAG_DISABLE_DENORMALS */
      csr = _mm_getcsr ();
      _mm_setcsr (csr | 0x8040);
    }
#endif
    size_t first = (size_t) c * j->per_chunk, last = MIN (first + j->per_chunk, j->n_items);
    size_t t[6] = { 0 };
    item_tiles (j, first, t);
    for (size_t i = first; i < last; i++, next_tiles (j, t))
      run_item (j, t);
#if defined(__x86_64__)
    if (j->flags & 1)
      _mm_setcsr (csr);
#endif
    /* After this increment the caller may rewrite the job: read nothing
     * of it afterwards. */
    if (atomic_fetch_add (&p->finished, 1) + 1 == n_chunks && atomic_load (&p->caller_waiting))
      futex_wake (&p->finished, 1);
    any = TRUE;
  }
  return any;
}

static gpointer
worker_main (gpointer data)
{
  SnPool *p = data;
  for (;;) {
    work (p);
    if (atomic_load (&p->stop))
      return NULL;
    /* Spin a little for the next operator's job, then sleep. */
    int64_t until = now_ns () + SPIN_NS;
    gboolean found = FALSE;
    for (int k = 0; !found; k++) {
      if (claimable (atomic_load_explicit (&p->next, memory_order_relaxed))
          || atomic_load_explicit (&p->stop, memory_order_relaxed))
        found = TRUE;
      else if ((k & 63) == 63 && now_ns () > until)
        break;
      else
        cpu_relax ();
    }
    if (found)
      continue;
    uint32_t s = atomic_load (&p->seq);
    atomic_fetch_add (&p->sleepers, 1);
    if (!claimable (atomic_load (&p->next)) && !atomic_load (&p->stop))
      futex_wait (&p->seq, s);
    atomic_fetch_sub (&p->sleepers, 1);
  }
}

static void run_inline (const Job *job);

/* Whether this job held the caller up (see STALL_MIN_NS), and what that
 * means for the next ones. */
static void
note_wait (SnPool *p, int64_t own_ns, int64_t wait_ns)
{
  if (!p->backoff_enabled)
    return;
  if (wait_ns > STALL_MIN_NS && wait_ns > own_ns) {
    /* A worker was preempted holding a chunk (its core is busy with
     * another process): waiting for such a worker is what made 2 threads
     * slower than 1 on a shared machine, so the caller goes on alone for
     * a while, longer each time it happens again. */
    p->solo_left = p->backoff;
    p->backoff = MIN (p->backoff * 2, BACKOFF_MAX_JOBS);
    p->clean = 0;
    p->n_holdups++;
  } else if (++p->clean >= CLEAN_JOBS) {
    p->backoff = BACKOFF_MIN_JOBS;
    p->clean = 0;
  }
}

static void
pool_run (SnPool *p, const Job *job)
{
  g_mutex_lock (&p->call_lock);
  if (p->solo_left) {
    p->solo_left--;
    run_inline (job);
    g_mutex_unlock (&p->call_lock);
    return;
  }
  int64_t t0 = now_ns ();
  p->job = *job;
  uint32_t n_chunks = MIN (job->n_items, (size_t) p->n_threads * CHUNKS_PER_THREAD);
  p->job.per_chunk = (job->n_items + n_chunks - 1) / n_chunks;
  p->job.n_chunks = n_chunks = (job->n_items + p->job.per_chunk - 1) / p->job.per_chunk;
  atomic_store (&p->finished, 0);
  p->generation++;
  atomic_store (&p->next, ((uint64_t) p->generation << 32) | ((uint64_t) n_chunks << 16));
  atomic_fetch_add (&p->seq, 1);
  if (atomic_load (&p->sleepers))
    futex_wake (&p->seq, INT_MAX);

  work (p);
  int64_t t1 = now_ns ();

  /* Wait for chunks other threads hold: briefly spinning, then asleep. */
  int64_t until = t1 + SPIN_NS;
  gboolean waited = FALSE;
  for (int k = 0; atomic_load (&p->finished) != n_chunks; k++) {
    waited = TRUE;
    if ((k & 63) == 63 && now_ns () > until) {
      atomic_store (&p->caller_waiting, 1);
      uint32_t f;
      while ((f = atomic_load (&p->finished)) != n_chunks)
        futex_wait (&p->finished, f);
      atomic_store (&p->caller_waiting, 0);
      break;
    }
    cpu_relax ();
  }
  note_wait (p, t1 - t0, waited ? now_ns () - t1 : 0);
  g_mutex_unlock (&p->call_lock);
}

/* Runs the job inline (no pool, or one item). */
static void
run_inline (const Job *job)
{
  Job j = *job;
#if defined(__x86_64__)
  unsigned csr = _mm_getcsr ();
  if (j.flags & 1)
    _mm_setcsr (csr | 0x8040);
#endif
  size_t t[6] = { 0 };
  for (size_t i = 0; i < j.n_items; i++, next_tiles (&j, t))
    run_item (&j, t);
#if defined(__x86_64__)
  if (j.flags & 1)
    _mm_setcsr (csr);
#endif
}

static void
dispatch (SnPool *p, Kind kind, void *fn, void *ctx, int nd, const size_t *range,
    const size_t *tile, uint32_t flags)
{
  Job j = { .kind = kind, .fn = fn, .ctx = ctx, .nd = nd, .n_items = 1, .flags = flags };
  for (int d = 0; d < nd; d++) {
    if (range[d] == 0)
      return;
    j.range[d] = range[d];
    j.tile[d] = tile ? MAX (tile[d], 1) : 1;
    j.tiles[d] = (range[d] + j.tile[d] - 1) / j.tile[d];
    j.n_items *= j.tiles[d];
  }
  if (!p || p->n_threads <= 1 || j.n_items <= 1)
    run_inline (&j);
  else
    pool_run (p, &j);
}

void
sn_pool_run (SnPool *pool, void (*fn) (void *ctx, size_t i), void *ctx, size_t n)
{
  size_t range[1] = { n };
  dispatch (pool, K_PLAIN, (void *) fn, ctx, 1, range, NULL, 0);
}

int
sn_pool_threads (const SnPool *pool)
{
  return pool ? pool->n_threads : 1;
}

guint64
sn_pool_holdups (SnPool *pool)
{
  if (!pool)
    return 0;
  g_mutex_lock (&pool->call_lock);
  guint64 n = pool->n_holdups;
  g_mutex_unlock (&pool->call_lock);
  return n;
}

static SnPool *
pool_create (int n_threads)
{
  SnPool *p = g_new0 (SnPool, 1);
  p->magic = POOL_MAGIC;
  p->compat_threads = 1;
  p->n_threads = n_threads;
  g_mutex_init (&p->call_lock);
  /* SPLITNN_POOL=backoff turns the back-off on.  It is off by default:
   * on this project's shared 2-CPU machine (load 8-13, i.e. every thread
   * already time-shared) with one core kept busy, 2 threads that always
   * wait were as fast or faster (14 interleaved rounds, docs/performance.md);
   * the case it is for, one busy core on an otherwise quiet machine, is
   * still to be measured. */
  const char *mode = g_getenv ("SPLITNN_POOL");
  p->backoff_enabled = mode && strcmp (mode, "backoff") == 0;
  p->backoff = BACKOFF_MIN_JOBS;
  for (int i = 0; i < n_threads - 1; i++)
    p->workers[i] = g_thread_new ("splitnn-pool", worker_main, p);
  return p;
}

void
sn_pool_free (SnPool *p)
{
  if (!p)
    return;
  atomic_store (&p->stop, 1);
  atomic_fetch_add (&p->seq, 1);
  futex_wake (&p->seq, INT_MAX);
  for (int i = 0; i < p->n_threads - 1; i++)
    g_thread_join (p->workers[i]);
  g_mutex_clear (&p->call_lock);
  g_free (p);
}

/* ---- pthreadpool's entry points, as XNNPACK calls them ------------------------------ */

#ifdef SPLITNN_HAVE_XNNPACK

/* These definitions replace libpthreadpool's for XNNPACK (which calls them
 * through the dynamic linker): they must be exported although libsplitnn
 * is built with hidden visibility, or XNNPACK would silently run on its
 * own threads.  tests/test-layers.py lets pthreadpool_ through the export
 * check for this reason alone. */
#pragma GCC visibility push(default)

static _Atomic int probe_hits;

/* Our pool, or NULL for pthreadpool's own (whose first word is a small
 * counter, never the magic). */
static SnPool *
ours (pthreadpool_t tp)
{
  SnPool *p = (SnPool *) tp;
  if (p && p->magic != POOL_MAGIC)
    return NULL;
  atomic_store_explicit (&probe_hits, 1, memory_order_relaxed);
  return p;
}

/* A pthreadpool made by someone else in this process (another library
 * using pthreadpool directly): pass the call on to libpthreadpool. */
#define FORWARD(name, ...) \
  do { \
    static void *real; \
    if (!real) \
      real = dlsym (RTLD_NEXT, #name); \
    g_assert (real); \
    ((void (*) ()) real) (__VA_ARGS__); \
  } while (0)

size_t
pthreadpool_get_threads_count (pthreadpool_t tp)
{
  if (tp && ((SnPool *) tp)->magic != POOL_MAGIC) {
    static size_t (*real) (pthreadpool_t);
    if (!real)
      real = (size_t (*) (pthreadpool_t)) dlsym (RTLD_NEXT, "pthreadpool_get_threads_count");
    return real (tp);
  }
  return tp ? (size_t) ((SnPool *) tp)->n_threads : 1;
}

void
pthreadpool_parallelize_1d (pthreadpool_t tp, pthreadpool_task_1d_t fn, void *ctx, size_t r0,
    uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_1d, tp, fn, ctx, r0, flags);
    return;
  }
  size_t r[] = { r0 };
  dispatch ((SnPool *) tp, K_1D, (void *) fn, ctx, 1, r, NULL, flags);
}

void
pthreadpool_parallelize_1d_tile_1d (pthreadpool_t tp, pthreadpool_task_1d_tile_1d_t fn,
    void *ctx, size_t r0, size_t t0, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_1d_tile_1d, tp, fn, ctx, r0, t0, flags);
    return;
  }
  size_t r[] = { r0 }, t[] = { t0 };
  dispatch ((SnPool *) tp, K_1D_T1, (void *) fn, ctx, 1, r, t, flags);
}

void
pthreadpool_parallelize_2d (pthreadpool_t tp, pthreadpool_task_2d_t fn, void *ctx, size_t r0,
    size_t r1, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_2d, tp, fn, ctx, r0, r1, flags);
    return;
  }
  size_t r[] = { r0, r1 };
  dispatch ((SnPool *) tp, K_2D, (void *) fn, ctx, 2, r, NULL, flags);
}

void
pthreadpool_parallelize_2d_tile_1d (pthreadpool_t tp, pthreadpool_task_2d_tile_1d_t fn,
    void *ctx, size_t r0, size_t r1, size_t t1, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_2d_tile_1d, tp, fn, ctx, r0, r1, t1, flags);
    return;
  }
  size_t r[] = { r0, r1 }, t[] = { 1, t1 };
  dispatch ((SnPool *) tp, K_2D_T1, (void *) fn, ctx, 2, r, t, flags);
}

void
pthreadpool_parallelize_2d_tile_2d (pthreadpool_t tp, pthreadpool_task_2d_tile_2d_t fn,
    void *ctx, size_t r0, size_t r1, size_t t0, size_t t1, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_2d_tile_2d, tp, fn, ctx, r0, r1, t0, t1, flags);
    return;
  }
  size_t r[] = { r0, r1 }, t[] = { t0, t1 };
  dispatch ((SnPool *) tp, K_2D_T2, (void *) fn, ctx, 2, r, t, flags);
}

void
pthreadpool_parallelize_3d (pthreadpool_t tp, pthreadpool_task_3d_t fn, void *ctx, size_t r0,
    size_t r1, size_t r2, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_3d, tp, fn, ctx, r0, r1, r2, flags);
    return;
  }
  size_t r[] = { r0, r1, r2 };
  dispatch ((SnPool *) tp, K_3D, (void *) fn, ctx, 3, r, NULL, flags);
}

void
pthreadpool_parallelize_3d_tile_2d (pthreadpool_t tp, pthreadpool_task_3d_tile_2d_t fn,
    void *ctx, size_t r0, size_t r1, size_t r2, size_t t1, size_t t2, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_3d_tile_2d, tp, fn, ctx, r0, r1, r2, t1, t2, flags);
    return;
  }
  size_t r[] = { r0, r1, r2 }, t[] = { 1, t1, t2 };
  dispatch ((SnPool *) tp, K_3D_T2, (void *) fn, ctx, 3, r, t, flags);
}

void
pthreadpool_parallelize_4d (pthreadpool_t tp, pthreadpool_task_4d_t fn, void *ctx, size_t r0,
    size_t r1, size_t r2, size_t r3, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_4d, tp, fn, ctx, r0, r1, r2, r3, flags);
    return;
  }
  size_t r[] = { r0, r1, r2, r3 };
  dispatch ((SnPool *) tp, K_4D, (void *) fn, ctx, 4, r, NULL, flags);
}

void
pthreadpool_parallelize_4d_tile_2d (pthreadpool_t tp, pthreadpool_task_4d_tile_2d_t fn,
    void *ctx, size_t r0, size_t r1, size_t r2, size_t r3, size_t t2, size_t t3, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_4d_tile_2d, tp, fn, ctx, r0, r1, r2, r3, t2, t3, flags);
    return;
  }
  size_t r[] = { r0, r1, r2, r3 }, t[] = { 1, 1, t2, t3 };
  dispatch ((SnPool *) tp, K_4D_T2, (void *) fn, ctx, 4, r, t, flags);
}

void
pthreadpool_parallelize_5d (pthreadpool_t tp, pthreadpool_task_5d_t fn, void *ctx, size_t r0,
    size_t r1, size_t r2, size_t r3, size_t r4, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_5d, tp, fn, ctx, r0, r1, r2, r3, r4, flags);
    return;
  }
  size_t r[] = { r0, r1, r2, r3, r4 };
  dispatch ((SnPool *) tp, K_5D, (void *) fn, ctx, 5, r, NULL, flags);
}

void
pthreadpool_parallelize_5d_tile_2d (pthreadpool_t tp, pthreadpool_task_5d_tile_2d_t fn,
    void *ctx, size_t r0, size_t r1, size_t r2, size_t r3, size_t r4, size_t t3, size_t t4,
    uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_5d_tile_2d, tp, fn, ctx, r0, r1, r2, r3, r4, t3, t4, flags);
    return;
  }
  size_t r[] = { r0, r1, r2, r3, r4 }, t[] = { 1, 1, 1, t3, t4 };
  dispatch ((SnPool *) tp, K_5D_T2, (void *) fn, ctx, 5, r, t, flags);
}

void
pthreadpool_parallelize_6d_tile_2d (pthreadpool_t tp, pthreadpool_task_6d_tile_2d_t fn,
    void *ctx, size_t r0, size_t r1, size_t r2, size_t r3, size_t r4, size_t r5, size_t t4,
    size_t t5, uint32_t flags)
{
  if (tp && !ours (tp)) {
    FORWARD (pthreadpool_parallelize_6d_tile_2d, tp, fn, ctx, r0, r1, r2, r3, r4, r5, t4, t5,
        flags);
    return;
  }
  size_t r[] = { r0, r1, r2, r3, r4, r5 }, t[] = { 1, 1, 1, 1, t4, t5 };
  dispatch ((SnPool *) tp, K_6D_T2, (void *) fn, ctx, 6, r, t, flags);
}

#pragma GCC visibility pop

/* Does XNNPACK call the entry points above?  A clamp over 64 rows, run
 * with one of our pools, tells. */
static gboolean
xnnpack_uses_us (SnPool *p)
{
  static gsize once = 0;
  static gboolean yes = FALSE;
  if (g_once_init_enter (&once)) {
    float *in = g_new0 (float, 64 * 1024), *out = g_new0 (float, 64 * 1024);
    xnn_operator_t op = NULL;
    atomic_store (&probe_hits, 0);
    if (xnn_initialize (NULL) == xnn_status_success
        && xnn_create_clamp_nc_f32 (1024, 1024, 1024, 0.0f, 1.0f, 0, &op) == xnn_status_success
        && xnn_setup_clamp_nc_f32 (op, 64, in, out, (pthreadpool_t) p) == xnn_status_success
        && xnn_run_operator (op, (pthreadpool_t) p) == xnn_status_success)
      yes = atomic_load (&probe_hits) != 0;
    if (op)
      xnn_delete_operator (op);
    g_free (in);
    g_free (out);
    if (!yes)
      g_warning ("splitnn: XNNPACK does not call libsplitnn's thread pool (libpthreadpool was "
          "loaded first); the fast path runs on one thread");
    g_once_init_leave (&once, 1);
  }
  return yes;
}

SnPool *
sn_pool_new (int n_threads)
{
  if (n_threads <= 1)
    return NULL;
  SnPool *p = pool_create (MIN (n_threads, MAX_THREADS));
  if (!xnnpack_uses_us (p)) {
    sn_pool_free (p);
    return NULL;
  }
  return p;
}

#else

SnPool *
sn_pool_new (int n_threads)
{
  return n_threads <= 1 ? NULL : pool_create (MIN (n_threads, MAX_THREADS));
}

#endif

/* ---- threads=0 -------------------------------------------------------------------- */

/* The cgroup v2 CPU quota of this process, in CPUs rounded up; 0 when
 * there is none (or no cgroup v2). */
static int
cgroup_cpus (void)
{
  char *cg = NULL, *path = NULL, *max = NULL;
  int cpus = 0;
  if (!g_file_get_contents ("/proc/self/cgroup", &cg, NULL, NULL))
    return 0;
  /* cgroup v2: one line "0::/path". */
  for (char *line = cg; line && *line; ) {
    char *nl = strchr (line, '\n');
    if (nl)
      *nl = '\0';
    if (g_str_has_prefix (line, "0::")) {
      /* The quota may sit on any ancestor: take the smallest. */
      char *rel = g_strdup (line + 3);
      for (;;) {
        path = g_build_filename ("/sys/fs/cgroup", rel, "cpu.max", NULL);
        long long quota, period;
        if (g_file_get_contents (path, &max, NULL, NULL)
            && sscanf (max, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
          int c = (int) ((quota + period - 1) / period);
          cpus = cpus ? MIN (cpus, c) : c;
        }
        g_clear_pointer (&max, g_free);
        g_clear_pointer (&path, g_free);
        char *slash = strrchr (rel, '/');
        if (!slash || slash == rel)
          break;
        *slash = '\0';
      }
      g_free (rel);
      break;
    }
    line = nl ? nl + 1 : NULL;
  }
  g_free (cg);
  return cpus;
}

int
sn_pool_auto_threads (void)
{
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity (0, sizeof set, &set) == 0)
    n = CPU_COUNT (&set);
  if (n <= 0)
    n = (int) g_get_num_processors ();
  int quota = cgroup_cpus ();
  if (quota > 0)
    n = MIN (n, quota);
  return CLAMP (n, 1, MAX_THREADS);
}
