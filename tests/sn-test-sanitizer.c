/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sanitizer defaults for the tests that start GStreamer.
 *
 * When the registry is (re)built — always on a fresh checkout — GLib's quark
 * and interned-string tables grow in blocks that GLib never frees, and
 * LeakSanitizer reports them at the exit of every forked Check test.  These
 * are process-lifetime tables, not leaks.  So is fontconfig's configuration,
 * which cairo loads the first time it draws text (splitnnoverlay's labels)
 * and which only FcFini() would free.  So are the allocations system plugins
 * make when they are first loaded (openni2's drivers, for one): a process
 * that (re)builds the registry loads every installed plugin, and plugins are
 * never unloaded.  Which process builds it depends on timing: on a fresh
 * checkout under load it was a child of the cli tests, and its abort on the
 * leak report looked like a random failure (exit -1).  Full unwinding lets the
 * suppressions see through GLib, which is built without frame pointers.
 * The hooks are only read by sanitizer runtimes; other builds ignore them. */

#include "sn-test-sanitizer.h"

const char *
__asan_default_options (void)
{
  return "fast_unwind_on_malloc=0";
}

const char *
__lsan_default_suppressions (void)
{
  return "leak:g_quark_from_string\n"
      "leak:g_quark_from_static_string\n"
      "leak:g_intern_string\n"
      "leak:g_intern_static_string\n"
      "leak:_dl_init\n"
      "leak:libfontconfig.so\n"
      "leak:gst_update_registry\n"
      /* openni2's drivers also start threads at load that keep a udev
       * monitor for the life of the process. */
      "leak:libPS1080.so\n"
      "leak:libPSLink.so\n";
}

gboolean
sn_test_sanitizer_setenv (const char *dir)
{
  g_autofree char *supp = g_build_filename (dir, "lsan.supp", NULL);
  if (!g_file_set_contents (supp, __lsan_default_suppressions (), -1, NULL))
    return FALSE;
  g_autofree char *lsan = g_strdup_printf ("suppressions=%s", supp);
  const char *asan_env = g_getenv ("ASAN_OPTIONS");
  g_autofree char *asan = g_strdup_printf ("%s%sfast_unwind_on_malloc=0", asan_env ? asan_env : "",
      asan_env ? ":" : "");
  g_setenv ("LSAN_OPTIONS", lsan, TRUE);
  g_setenv ("ASAN_OPTIONS", asan, TRUE);
  return TRUE;
}
