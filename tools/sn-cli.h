/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn command-line tool: one function per subcommand.  Each parses its
 * own options with GOption and returns the process exit status (0 ok,
 * 1 failure, 2 usage error). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int sn_cli_inspect (int argc, char **argv);
int sn_cli_run (int argc, char **argv);
int sn_cli_cuts (int argc, char **argv);
int sn_cli_profile (int argc, char **argv);
int sn_cli_plan (int argc, char **argv);
int sn_cli_detect (int argc, char **argv);
int sn_cli_eval (int argc, char **argv);
int sn_cli_calibrate (int argc, char **argv);
int sn_cli_capacity (int argc, char **argv);

/* Parses options; prints the error and usage and returns FALSE on bad
 * arguments.  n_positional is the number of positional arguments required. */
gboolean sn_cli_parse (GOptionContext *ctx, int *argc, char ***argv, int n_positional);

/* A rate in bits per second: "2M", "500k", "1.5G", "800000", optionally
 * followed by "bit" ("2Mbit"); FALSE unless it is a number > 0 ("inf"
 * passes: a caller that needs a finite rate checks for it). */
gboolean sn_cli_parse_rate (const char *s, double *out);

/* TRUE (after saying so) when `out`, given with `option`, names the same
 * file as the model: the copy with new metadata must go elsewhere.
 * Checked before any frame runs, so none runs in vain. */
gboolean sn_cli_output_is_model (const char *model, const char *out, const char *option);

/* Writes a copy of the model with metadata key = value and loads it back:
 * the loader checks what was written against the graph. */
gboolean sn_cli_store_metadata (const char *model, const char *out, const char *key,
    const char *value, GError **error);

G_END_DECLS
