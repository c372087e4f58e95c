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

/* Parses options; prints the error and usage and returns FALSE on bad
 * arguments.  n_positional is the number of positional arguments required. */
gboolean sn_cli_parse (GOptionContext *ctx, int *argc, char ***argv, int n_positional);

G_END_DECLS
