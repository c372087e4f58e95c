/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the fast path's thread pool (private; engine layer).
 *
 * XNNPACK hands its parallel loops to a pthreadpool_t.  Debian's
 * pthreadpool splits each loop into equal per-thread ranges and has its
 * threads spin between loops; on a machine where another process keeps a
 * core busy, a worker preempted in the middle of its range made every
 * operator wait for the scheduler, and 2 threads ran slower than 1.  This
 * pool implements the pthreadpool_parallelize_* entry points XNNPACK calls
 * (libsplitnn exports them, so they come before libpthreadpool's in the
 * dynamic linker's lookup order) with:
 *   - dynamic chunking: every thread, the caller included, takes the next
 *     chunk from one atomic counter, so a slow or preempted thread holds
 *     back at most one chunk;
 *   - short, time-bounded spins, then futex sleeps, so that idle workers
 *     give their core back (and keep the scheduler's favour for when they
 *     are woken);
 *   - optionally (SPLITNN_POOL=backoff), backing off from a worker that
 *     holds the caller up: a worker preempted while it holds a chunk (its
 *     core busy with another process) makes the caller wait a scheduler
 *     time slice, ms where the job took us; after such a job the caller
 *     runs the next ones alone, for longer each time it happens again
 *     (sn-pool.c, pool_run).  Off by default until measured where it is
 *     meant to help (docs/performance.md).
 * sn_pool_new checks once that XNNPACK really calls these functions; where
 * it does not (a process that loaded libpthreadpool ahead of libsplitnn),
 * it returns NULL and the fast path runs on the calling thread. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SnPool SnPool;

/* A pool of n_threads threads, the caller counting as one (n_threads - 1
 * workers).  NULL for n_threads <= 1, or when XNNPACK would not use it. */
SnPool *sn_pool_new (int n_threads);
void sn_pool_free (SnPool *pool);
int sn_pool_threads (const SnPool *pool);

/* How many jobs held the caller up so far (see above); 0 for NULL. */
guint64 sn_pool_holdups (SnPool *pool);

/* Runs fn (ctx, i) for every i in [0, n), on the pool's threads (the
 * caller's included) or inline when pool is NULL. */
void sn_pool_run (SnPool *pool, void (*fn) (void *ctx, size_t i), void *ctx, size_t n);

/* How many threads `threads=0` means: the CPUs this process may run on
 * (its affinity mask), bounded by its cgroup's CPU quota (cpu.max),
 * at least 1. */
int sn_pool_auto_threads (void);

G_END_DECLS
