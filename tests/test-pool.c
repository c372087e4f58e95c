/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fast path's thread pool (libsplitnn/sn-pool.c): every item of a job
 * runs exactly once, whatever the thread count, the tiling and the number
 * of callers at once; the pthreadpool entry points XNNPACK calls hand out
 * the tiles pthreadpool's documentation promises; threads=0 follows the
 * affinity mask. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <sched.h>
#include <stdatomic.h>

#include "engine/sn-pool.h"
#include "engine/sn-xnn.h"

#ifdef SPLITNN_HAVE_XNNPACK
#include <pthreadpool.h>
#define HAVE_PTHREADPOOL_H 1
#endif

typedef struct {
  _Atomic int *hits;
  size_t n;
} Count;

static void
count_one (void *ctx, size_t i)
{
  /* No ck_assert here: Check writes a mark per assertion. */
  Count *c = ctx;
  atomic_fetch_add (&c->hits[MIN (i, c->n)], 1);
}

static void
check_once (SnPool *pool, size_t n)
{
  Count c = { g_new0 (_Atomic int, n + 1), n };
  sn_pool_run (pool, count_one, &c, n);
  for (size_t i = 0; i <= n; i++)
    if (c.hits[i] != (i < n))
      ck_abort_msg ("item %zu of %zu ran %d times", i, n, (int) c.hits[i]);
  g_free (c.hits);
}

START_TEST (test_every_item_once)
{
  static const size_t sizes[] = { 0, 1, 2, 3, 7, 64, 1000, 100003 };
  for (int threads = 1; threads <= 5; threads++) {
    SnPool *pool = sn_pool_new (threads);
    if (threads > 1 && sn_xnn_available ())
      ck_assert_msg (pool != NULL, "no pool for %d threads: XNNPACK does not call ours", threads);
    ck_assert_int_eq (sn_pool_threads (pool), pool ? threads : 1);
    for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
      for (int rep = 0; rep < 20; rep++)
        check_once (pool, sizes[k]);
    sn_pool_free (pool);
  }
}
END_TEST

static gpointer
caller (gpointer pool)
{
  for (int rep = 0; rep < 300; rep++)
    check_once (pool, 1 + rep % 97);
  return NULL;
}

/* Segments running in several threads share one pool. */
START_TEST (test_concurrent_callers)
{
  SnPool *pool = sn_pool_new (3);
  GThread *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = g_thread_new ("caller", caller, pool);
  for (int i = 0; i < 3; i++)
    g_thread_join (t[i]);
  sn_pool_free (pool);
}
END_TEST

#ifdef HAVE_PTHREADPOOL_H
/* (i, j) tiles of a 2-D range: each cell once, each tile as wide as
 * min(tile, range - start). */
typedef struct {
  _Atomic int hits[37][53];
  _Atomic int bad;
} Grid;

static void
grid_tile (void *ctx, size_t i, size_t j, size_t ti, size_t tj)
{
  Grid *g = ctx;
  if (i % 5 || j % 8 || ti != MIN (5, 37 - i) || tj != MIN (8, 53 - j))
    atomic_fetch_add (&g->bad, 1);
  for (size_t a = i; a < i + ti; a++)
    for (size_t b = j; b < j + tj; b++)
      atomic_fetch_add (&g->hits[a][b], 1);
}

typedef struct {
  _Atomic int hits[2][3][2][3][11][7];
  _Atomic int bad;
} Six;

static void
six_tile (void *ctx, size_t a, size_t b, size_t c, size_t d, size_t e, size_t f, size_t te,
    size_t tf)
{
  Six *s = ctx;
  if (e % 4 || f % 3 || te != MIN (4, 11 - e) || tf != MIN (3, 7 - f))
    atomic_fetch_add (&s->bad, 1);
  for (size_t x = e; x < e + te; x++)
    for (size_t y = f; y < f + tf; y++)
      atomic_fetch_add (&s->hits[a][b][c][d][x][y], 1);
}

START_TEST (test_pthreadpool_entry_points)
{
  for (int threads = 1; threads <= 3; threads++) {
    SnPool *pool = sn_pool_new (threads);
    Grid *g = g_new0 (Grid, 1);
    pthreadpool_parallelize_2d_tile_2d ((pthreadpool_t) pool, grid_tile, g, 37, 53, 5, 8, 0);
    ck_assert_int_eq (g->bad, 0);
    for (int i = 0; i < 37; i++)
      for (int j = 0; j < 53; j++)
        if (g->hits[i][j] != 1)
          ck_abort_msg ("cell %d,%d covered %d times", i, j, (int) g->hits[i][j]);
    g_free (g);
    Six *s = g_new0 (Six, 1);
    pthreadpool_parallelize_6d_tile_2d ((pthreadpool_t) pool, six_tile, s, 2, 3, 2, 3, 11, 7, 4, 3,
        PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    ck_assert_int_eq (s->bad, 0);
    _Atomic int *h = &s->hits[0][0][0][0][0][0];
    for (size_t k = 0; k < sizeof s->hits / sizeof h[0]; k++)
      if (h[k] != 1)
        ck_abort_msg ("cell %zu covered %d times", k, (int) h[k]);
    g_free (s);
    ck_assert_uint_eq (pthreadpool_get_threads_count ((pthreadpool_t) pool), pool ? threads : 1);
    sn_pool_free (pool);
  }
}
END_TEST
#endif

/* A job whose worker holds the caller up: item 0 (the caller's, which
 * takes the first chunk) returns once the worker has its item; the
 * worker's item then sleeps well past twice the caller's own time, as a
 * worker preempted by another process would. */
typedef struct {
  GThread *caller;
  gint64 t0;
  _Atomic gint64 caller_done;
  _Atomic int worker_started;
  _Atomic int on_worker;
} Holdup;

static void
holdup_item (void *ctx, size_t i)
{
  Holdup *h = ctx;
  (void) i;
  if (g_thread_self () == h->caller) {
    gint64 give_up = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    while (!atomic_load (&h->worker_started) && g_get_monotonic_time () < give_up)
      g_usleep (100);
    atomic_store (&h->caller_done, g_get_monotonic_time ());
  } else {
    atomic_store (&h->worker_started, 1);
    gint64 done;
    while (!(done = atomic_load (&h->caller_done)))
      g_usleep (100);
    g_usleep (2 * (done - h->t0) + 100000);
  }
}

static void
which_thread (void *ctx, size_t i)
{
  Holdup *h = ctx;
  (void) i;
  if (g_thread_self () != h->caller)
    atomic_fetch_add (&h->on_worker, 1);
}

/* With SPLITNN_POOL=backoff, after a job in which the caller waited for
 * a worker longer than it worked itself, the next jobs run on the caller
 * alone; by default (_i = 1) nothing changes. */
START_TEST (test_backs_off_after_holdup)
{
  if (!_i)
    g_setenv ("SPLITNN_POOL", "backoff", TRUE);
  else
    g_unsetenv ("SPLITNN_POOL");
  SnPool *pool = sn_pool_new (2);
  if (!pool)
    return;                     /* XNNPACK bound to another pool: nothing to test */
  Holdup h = { .caller = g_thread_self (), .t0 = g_get_monotonic_time () };
  sn_pool_run (pool, holdup_item, &h, 2);
  ck_assert_int_eq (atomic_load (&h.worker_started), 1);
  ck_assert_uint_eq (sn_pool_holdups (pool), _i ? 0 : 1);
  if (!_i) {
    for (int job = 0; job < 8; job++)
      sn_pool_run (pool, which_thread, &h, 64);
    int on_worker = atomic_load (&h.on_worker);
    ck_assert_msg (on_worker == 0, "%d items ran on the worker after the hold-up", on_worker);
  }
  /* Whatever the mode, every item still runs once. */
  for (int rep = 0; rep < 200; rep++)
    check_once (pool, 1 + rep % 97);
  sn_pool_free (pool);
}
END_TEST

/* threads=0: one thread per CPU of the affinity mask (Check forks each
 * test, so narrowing the mask stays in this test). */
START_TEST (test_auto_threads)
{
  cpu_set_t set;
  ck_assert_int_eq (sched_getaffinity (0, sizeof set, &set), 0);
  int n = sn_pool_auto_threads ();
  ck_assert_int_ge (n, 1);
  ck_assert_int_le (n, CPU_COUNT (&set));
  int first = 0;
  while (!CPU_ISSET (first, &set))
    first++;
  CPU_ZERO (&set);
  CPU_SET (first, &set);
  ck_assert_int_eq (sched_setaffinity (0, sizeof set, &set), 0);
  ck_assert_int_eq (sn_pool_auto_threads (), 1);
}
END_TEST

static Suite *
pool_suite (void)
{
  Suite *s = suite_create ("pool");
  TCase *tc = tcase_create ("pool");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_every_item_once);
  tcase_add_test (tc, test_concurrent_callers);
#ifdef HAVE_PTHREADPOOL_H
  tcase_add_test (tc, test_pthreadpool_entry_points);
#endif
  tcase_add_test (tc, test_auto_threads);
  tcase_add_loop_test (tc, test_backs_off_after_holdup, 0, 2);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (pool_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
