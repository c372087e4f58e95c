/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sanitizer settings shared by the tests (sn-test-sanitizer.c). */
#pragma once

#include <glib.h>

/* Read by ASan/LSan at start-up; other builds never call them. */
const char *__asan_default_options (void);
const char *__lsan_default_suppressions (void);

/* For a child process this test starts (the splitnn tool reading frames
 * starts GStreamer): writes the suppressions above to DIR/lsan.supp and
 * points LSAN_OPTIONS at it, with full unwinding in ASAN_OPTIONS.  Check
 * forks each test, so the environment stays with the test that sets it. */
gboolean sn_test_sanitizer_setenv (const char *dir);
