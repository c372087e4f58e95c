/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — symbol visibility of the public API.
 *
 * libsplitnn is built with hidden visibility: only what a public header
 * declares with SN_API is exported from the shared library ('nm -D' lists
 * nothing else), so internal helpers can change without breaking users.
 * Tests and the command-line tool, which use internals, link the same
 * objects statically. */
#pragma once

#if defined(SPLITNN_COMPILATION) && defined(__GNUC__)
#define SN_API __attribute__ ((visibility ("default")))
#else
#define SN_API
#endif
