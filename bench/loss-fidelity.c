/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/loss's fidelity: a run's detections (JSON lines, as splitnncloud
 * format=json writes them) against the reference's (the same frames through
 * the unsplit float model), paired by seq, with the library's metric
 * (sn-eval.h, fidelity_ap50), so the bench does not carry a second copy of
 * it.  Prints one JSON object per line:
 *
 *   {"seq": S, "delivered": true|false, "ap50": A}   per reference frame
 *     (A: that frame alone; a frame with no output counts as no detections)
 *   {"summary": true, "frames": N, "delivered": D,
 *    "ap50_delivered": X, "ap50_all": Y}
 *     X over the delivered frames, Y over all (undelivered: no detections)
 *
 *   loss-fidelity REFERENCE.jsonl RUN.jsonl */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <splitnn/splitnn.h>

static void
detections_free (gpointer d)
{
  sn_detections_clear (d);
  g_free (d);
}

/* seq -> SnDetections* of every line of path. */
static GHashTable *
load (const char *path)
{
  g_autofree char *text = NULL;
  GError *err = NULL;
  if (!g_file_get_contents (path, &text, NULL, &err)) {
    fprintf (stderr, "loss-fidelity: %s\n", err->message);
    exit (1);
  }
  GHashTable *t = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, detections_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i]; i++) {
    if (!*g_strstrip (lines[i]))
      continue;
    SnResultHeader h;
    SnDetections *d = g_new0 (SnDetections, 1);
    sn_detections_init (d);
    if (!sn_result_parse_json ((const guint8 *) lines[i], strlen (lines[i]), &h, d, &err)) {
      fprintf (stderr, "loss-fidelity: %s line %d: %s\n", path, i + 1, err->message);
      exit (1);
    }
    gint64 *key = g_new (gint64, 1);
    *key = (gint64) h.seq;
    if (g_hash_table_contains (t, key)) {   /* a repeated seq: keep the first */
      g_free (key);
      detections_free (d);
      continue;
    }
    g_hash_table_insert (t, key, d);
  }
  return t;
}

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: loss-fidelity REFERENCE.jsonl RUN.jsonl\n");
    return 2;
  }
  GHashTable *ref = load (argv[1]), *run = load (argv[2]);
  GList *keys = g_list_sort (g_hash_table_get_keys (ref), cmp_i64);
  SnEval *all = sn_eval_new_fidelity (), *delivered = sn_eval_new_fidelity ();
  SnDetections none;
  sn_detections_init (&none);
  int n = 0, nd = 0;
  for (GList *k = keys; k; k = k->next) {
    const SnDetections *r = g_hash_table_lookup (ref, k->data);
    const SnDetections *c = g_hash_table_lookup (run, k->data);
    SnEval *one = sn_eval_new_fidelity ();
    sn_eval_add_frame (one, c ? c : &none, r);
    sn_eval_add_frame (all, c ? c : &none, r);
    if (c) {
      sn_eval_add_frame (delivered, c, r);
      nd++;
    }
    n++;
    printf ("{\"seq\": %" G_GINT64_FORMAT ", \"delivered\": %s, \"ap50\": %.2f}\n",
        *(gint64 *) k->data, c ? "true" : "false", sn_eval_ap50 (one));
    sn_eval_free (one);
  }
  printf ("{\"summary\": true, \"frames\": %d, \"delivered\": %d, \"ap50_delivered\": %.2f, "
      "\"ap50_all\": %.2f}\n", n, nd, sn_eval_ap50 (delivered), sn_eval_ap50 (all));
  g_list_free (keys);
  g_hash_table_unref (ref);
  g_hash_table_unref (run);
  sn_eval_free (all);
  sn_eval_free (delivered);
  return 0;
}
