/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — command-line front end: dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"

typedef struct {
  const char *name;
  int (*main) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "inspect", sn_cli_inspect, "Show a model's inputs, outputs, ops, parameters, FLOPs and memory" },
  { "run", sn_cli_run, "Run a model or a segment of it on .npy inputs" },
  { "detect", sn_cli_detect, "Detect objects in an image or video, per frame (text or JSON)" },
  { "eval", sn_cli_eval, "Bytes per frame and fidelity per cut, bit width and codec" },
  { "calibrate", sn_cli_calibrate, "Store the ranges of cut tensors over frames in a copy of the model" },
  { "cuts", sn_cli_cuts, "List a model's split points with bytes and FLOPs per side" },
  { "profile", sn_cli_profile, "Time every cut's edge and cloud part on this machine (JSON)" },
  { "plan", sn_cli_plan, "Rank split paths by predicted latency or throughput for a link" },
  { "capacity", sn_cli_capacity, "Link rate and cloud cores for n cameras, and the most cameras a link carries" },
};

static void
usage (FILE *f)
{
  fprintf (f, "Usage: splitnn COMMAND [OPTIONS...]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (f, "\nRun 'splitnn COMMAND --help' for a command's options.\n");
}

gboolean
sn_cli_parse (GOptionContext *ctx, int *argc, char ***argv, int n_positional)
{
  GError *err = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &err)) {
    fprintf (stderr, "splitnn: %s\n\n", err->message);
    g_error_free (err);
  } else if (*argc - 1 != n_positional) {
    fprintf (stderr, "splitnn: expected %d argument%s, got %d\n\n", n_positional,
        n_positional == 1 ? "" : "s", *argc - 1);
  } else {
    return TRUE;
  }
  g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
  fputs (help, stderr);
  return FALSE;
}

gboolean
sn_cli_parse_rate (const char *s, double *out)
{
  char *end;
  double v = g_ascii_strtod (s, &end);
  double mult = 1;
  switch (g_ascii_toupper (*end)) {
    case 'K': mult = 1e3; end++; break;
    case 'M': mult = 1e6; end++; break;
    case 'G': mult = 1e9; end++; break;
    default: break;
  }
  if (g_ascii_strncasecmp (end, "bit", 3) == 0)
    end += 3;
  if (end == s || *end || !(v > 0))
    return FALSE;
  *out = v * mult;
  return TRUE;
}

gboolean
sn_cli_output_is_model (const char *model, const char *out, const char *option)
{
  GStatBuf si, so;
  if (g_stat (model, &si) == 0 && g_stat (out, &so) == 0 && si.st_dev == so.st_dev
      && si.st_ino == so.st_ino) {
    fprintf (stderr, "splitnn: %s %s is the model itself; give another output file\n", option, out);
    return TRUE;
  }
  return FALSE;
}

gboolean
sn_cli_store_metadata (const char *model, const char *out, const char *key, const char *value,
    GError **error)
{
  if (!sn_onnx_save_with_metadata (model, out, key, value, error))
    return FALSE;
  SnModel *check = sn_model_load (out, error);
  sn_model_free (check);
  return check != NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    usage (stderr);
    return 2;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0) {
    usage (stdout);
    return 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (strcmp (argv[1], commands[i].name) == 0) {
      g_autofree char *prg = g_strdup_printf ("splitnn %s", commands[i].name);
      g_set_prgname (prg);
      return commands[i].main (argc - 1, argv + 1);
    }
  }
  fprintf (stderr, "splitnn: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}
