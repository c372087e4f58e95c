/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — enumerating cuts and building split paths. */
#include "splitnn/sn-cut.h"

#include <string.h>

#include "engine/sn-model-private.h"
#include "split/sn-split-private.h"

typedef struct {
  SnCut pub;
  char *name;
  char **tensors;
  SnShape *shapes;
  SnDType *dtypes;
} CutEntry;

struct SnCutSet {
  SnModel *model;
  GPtrArray *cuts;            /* CutEntry* */
};

struct SnSplit {
  const SnCut *cut;
  SnSegment *edge;
  SnSegment *cloud;
};

static void
cut_entry_free (CutEntry *c)
{
  g_free (c->name);
  g_strfreev (c->tensors);
  g_free (c->shapes);
  g_free (c->dtypes);
  g_free (c);
}

/* Compiles edge and cloud segments for a tensor set; on success reports
 * their FLOPs.  This is also the test that the set really is a cut. */
static gboolean
check_cut (SnModel *model, const char *const *tensors, int n, double *edge_flops,
    double *cloud_flops, GError **error)
{
  SnSegment *edge = sn_segment_new (model, NULL, 0, tensors, n, error);
  if (!edge)
    return FALSE;
  SnSegment *cloud = sn_segment_new (model, tensors, n, NULL, 0, error);
  if (!cloud) {
    sn_segment_free (edge);
    return FALSE;
  }
  *edge_flops = sn_segment_flops (edge);
  *cloud_flops = sn_segment_flops (cloud);
  sn_segment_free (edge);
  sn_segment_free (cloud);
  return TRUE;
}

static CutEntry *
cut_entry_new (SnCutSet *set, const char *name, const char *const *tensors, int n)
{
  CutEntry *c = g_new0 (CutEntry, 1);
  c->tensors = g_new0 (char *, n + 1);
  c->shapes = g_new0 (SnShape, n);
  c->dtypes = g_new0 (SnDType, n);
  for (int i = 0; i < n; i++) {
    c->tensors[i] = g_strdup (tensors[i]);
    sn_model_value_info (set->model, tensors[i], &c->dtypes[i], &c->shapes[i]);
    c->pub.values += sn_shape_numel (&c->shapes[i]);
  }
  c->name = name ? g_strdup (name) : g_strjoinv ("+", c->tensors);
  c->pub.name = c->name;
  c->pub.n_tensors = n;
  c->pub.tensors = (const char *const *) c->tensors;
  c->pub.shapes = c->shapes;
  c->pub.dtypes = c->dtypes;
  return c;
}

/* Marks everything reachable backwards from `from` without crossing `stop`. */
static void
mark_ancestors (SnModel *m, SnValue *from, const guint8 *stop, guint8 *mark)
{
  g_autoptr (GPtrArray) stack = g_ptr_array_new ();
  g_ptr_array_add (stack, from);
  while (stack->len) {
    SnValue *v = g_ptr_array_steal_index (stack, stack->len - 1);
    if (mark[v->index] || (stop && stop[v->index]) || v->constant)
      continue;
    mark[v->index] = 1;
    if (v->producer)
      for (int k = 0; k < v->producer->n_inputs; k++)
        if (v->producer->inputs[k])
          g_ptr_array_add (stack, v->producer->inputs[k]);
  }
}

/* When a tensor set is not a cut, some value computed before the cut is
 * also read after it.  Returns the latest such value (the one a user would
 * add to the cut), or NULL when the set separates the graph. */
static const char *
find_leak (SnModel *m, const char *const *tensors, int n)
{
  guint nv = m->values->len;
  g_autofree guint8 *in_cut = g_new0 (guint8, nv);
  g_autofree guint8 *cloud_needs = g_new0 (guint8, nv);
  g_autofree guint8 *edge_computes = g_new0 (guint8, nv);
  for (int i = 0; i < n; i++)
    in_cut[sn_model_lookup_value (m, tensors[i])->index] = 1;
  for (guint i = 0; i < m->outputs->len; i++)
    mark_ancestors (m, g_ptr_array_index (m->outputs, i), in_cut, cloud_needs);
  for (int i = 0; i < n; i++)
    mark_ancestors (m, sn_model_lookup_value (m, tensors[i]), NULL, edge_computes);
  const SnValue *latest = NULL;
  int latest_at = -2;           /* graph inputs (no producer) rank lowest */
  for (guint v = 0; v < nv; v++) {
    const SnValue *val = g_ptr_array_index (m->values, v);
    int at = val->producer ? val->producer->index : -1;
    if (cloud_needs[v] && edge_computes[v] && !in_cut[v] && at > latest_at) {
      latest = val;
      latest_at = at;
    }
  }
  return latest ? latest->name : NULL;
}

const SnCut *
sn_cut_set_add (SnCutSet *set, const char *name, const char *const *tensors,
    int n_tensors, GError **error)
{
  if (n_tensors < 1) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "a cut needs at least one tensor");
    return NULL;
  }
  for (int i = 0; i < n_tensors; i++) {
    const SnValue *v = sn_model_lookup_value (set->model, tensors[i]);
    if (!v || v->constant || !v->producer) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "cut '%s': '%s' is not a tensor computed by the model", name ? name : "?",
          tensors[i]);
      return NULL;
    }
  }
  const char *leak = find_leak (set->model, tensors, n_tensors);
  if (leak) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "cut '%s' does not separate the graph: the cloud side also needs '%s', "
        "which is computed before the cut", name ? name : tensors[0], leak);
    return NULL;
  }
  double ef, cf;
  GError *err = NULL;
  if (!check_cut (set->model, tensors, n_tensors, &ef, &cf, &err)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "cut '%s' does not separate the graph: %s", name ? name : tensors[0], err->message);
    g_error_free (err);
    return NULL;
  }
  CutEntry *c = cut_entry_new (set, name, tensors, n_tensors);
  c->pub.id = set->cuts->len;
  c->pub.edge_flops = ef;
  c->pub.cloud_flops = cf;
  c->pub.declared = TRUE;
  g_ptr_array_add (set->cuts, c);
  return &c->pub;
}

/* ---- Enumeration ----------------------------------------------------------
 * The nodes are scheduled greedily so that live sets stay small: among the
 * ready nodes, run the one that frees the most bytes net of what it
 * allocates (ties: file order).  The live set between two scheduled nodes
 * is a cut; we keep those whose bytes are a local minimum along the
 * schedule, the last of a plateau (after the activation, where features
 * are sparse). */

typedef struct {
  SnNode *node;
  int pending;                /* producers not yet scheduled */
} Sched;

static int64_t
value_bytes (const SnValue *v)
{
  return sn_shape_numel (&v->shape) * (int64_t) sn_dtype_size (v->dtype);
}

static gboolean
enumerate (SnCutSet *set, GError **error)
{
  SnModel *m = set->model;
  guint n_nodes = m->nodes->len, n_values = m->values->len;
  /* Only the nodes the whole model runs; folded ones are constants. */
  g_autofree int *remaining_uses = g_new0 (int, n_values);
  g_autofree gboolean *is_output = g_new0 (gboolean, n_values);
  g_autofree gboolean *done = g_new0 (gboolean, n_nodes);
  g_autoptr (GPtrArray) nodes = g_ptr_array_new ();
  for (guint i = 0; i < n_nodes; i++) {
    SnNode *nd = g_ptr_array_index (m->nodes, i);
    if (sn_node_is_folded (nd)) {
      done[i] = TRUE;
      continue;
    }
    g_ptr_array_add (nodes, nd);
    for (int k = 0; k < nd->n_inputs; k++)
      if (nd->inputs[k] && !nd->inputs[k]->constant)
        remaining_uses[nd->inputs[k]->index]++;
  }
  for (guint i = 0; i < m->outputs->len; i++)
    is_output[((SnValue *) g_ptr_array_index (m->outputs, i))->index] = TRUE;

  g_autofree gboolean *available = g_new0 (gboolean, n_values);
  for (guint i = 0; i < m->inputs->len; i++)
    available[((SnValue *) g_ptr_array_index (m->inputs, i))->index] = TRUE;

  guint n = nodes->len;
  /* Work from each node to the outputs along its longest path (FLOPs, at
   * least 1 per node), walking the topological order backwards. */
  g_autofree double *remaining_flops = g_new0 (double, n_nodes);
  for (int i = (int) n_nodes - 1; i >= 0; i--) {
    SnNode *nd = g_ptr_array_index (m->nodes, i);
    double below = 0;
    for (int k = 0; k < nd->n_outputs; k++) {
      const SnValue *v = nd->outputs[k];
      if (!v)
        continue;
      for (guint j = nd->index + 1; j < n_nodes; j++) {
        SnNode *c = g_ptr_array_index (m->nodes, j);
        for (int q = 0; q < c->n_inputs; q++)
          if (c->inputs[q] == v)
            below = MAX (below, remaining_flops[c->index]);
      }
    }
    remaining_flops[nd->index] = below + MAX (nd->flops, 1.0);
  }
  g_autofree int64_t *live_bytes = g_new0 (int64_t, n + 1);
  g_autofree int *live_count = g_new0 (int, n + 1);
  GPtrArray *live_sets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autofree double *flops_before = g_new0 (double, n + 1);

  for (guint step = 0; step <= n; step++) {
    /* Record the live set before scheduling node `step`. */
    GPtrArray *names = g_ptr_array_new ();
    for (guint v = 0; v < n_values; v++) {
      if (available[v] && (remaining_uses[v] > 0 || is_output[v])) {
        const SnValue *val = g_ptr_array_index (m->values, v);
        g_ptr_array_add (names, g_strdup (val->name));
        live_bytes[step] += value_bytes (val);
        live_count[step]++;
      }
    }
    g_ptr_array_add (names, NULL);
    g_ptr_array_add (live_sets, g_ptr_array_free (names, FALSE));
    if (step == n)
      break;

    SnNode *best = NULL;
    int64_t best_gain = G_MININT64;
    double best_depth = -1;
    for (guint i = 0; i < n; i++) {
      SnNode *nd = g_ptr_array_index (nodes, i);
      if (done[nd->index])
        continue;
      gboolean ready = TRUE;
      int64_t gain = 0;
      for (int k = 0; k < nd->n_inputs && ready; k++) {
        const SnValue *v = nd->inputs[k];
        if (!v || v->constant)
          continue;
        if (!available[v->index])
          ready = FALSE;
        else if (remaining_uses[v->index] == 1 && !is_output[v->index])
          gain += value_bytes (v);
      }
      if (!ready)
        continue;
      for (int k = 0; k < nd->n_outputs; k++)
        if (nd->outputs[k])
          gain -= value_bytes (nd->outputs[k]);
      /* A node that frees at least what it allocates runs first; among
       * the others, the one with the most work still ahead of it (the
       * backbone) goes before side branches, which thus wait at their
       * narrowest point. */
      double depth = remaining_flops[nd->index];
      gboolean better;
      if ((gain >= 0) != (best_gain >= 0))
        better = gain >= 0;
      else if (gain >= 0)
        better = gain > best_gain;
      else
        better = depth > best_depth || (depth == best_depth && gain > best_gain);
      if (!best || better) {
        best = nd;
        best_gain = gain;
        best_depth = depth;
      }
    }
    if (!best) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "cannot schedule the graph (a node depends on a value nothing computes)");
      g_ptr_array_unref (live_sets);
      return FALSE;
    }
    done[best->index] = TRUE;
    flops_before[step + 1] = flops_before[step] + best->flops;
    for (int k = 0; k < best->n_inputs; k++)
      if (best->inputs[k] && !best->inputs[k]->constant)
        remaining_uses[best->inputs[k]->index]--;
    for (int k = 0; k < best->n_outputs; k++)
      if (best->outputs[k])
        available[best->outputs[k]->index] = TRUE;
  }

  /* Local minima of live bytes strictly inside the schedule: the ends are
   * "send the input" and "send the result", which the planner treats as
   * cloud-only and edge-only. */
  double total = flops_before[n];
  for (guint p = 1; p < n; p++) {
    /* The maximal plateau of equal bytes around p, ends included: a cut
     * as small as the input itself (after the first activation) counts. */
    guint s0 = p, q = p;
    while (s0 > 0 && live_bytes[s0 - 1] == live_bytes[p])
      s0--;
    while (q < n && live_bytes[q + 1] == live_bytes[p])
      q++;
    gboolean left = s0 == 0 || live_bytes[s0 - 1] > live_bytes[p];
    gboolean right = q == n || live_bytes[q + 1] > live_bytes[p];
    guint at = MIN (q, n - 1);   /* last interior position: after the activation */
    if (left && right && at >= p) {
      char **names = g_ptr_array_index (live_sets, at);
      int k = g_strv_length (names);
      CutEntry *c = cut_entry_new (set, NULL, (const char *const *) names, k);
      c->pub.id = set->cuts->len;
      c->pub.edge_flops = flops_before[at];
      c->pub.cloud_flops = total - flops_before[at];
      g_ptr_array_add (set->cuts, c);
    }
    p = MAX (p, at);
  }
  g_ptr_array_unref (live_sets);
  return TRUE;
}

static gboolean
add_declared (SnCutSet *set, const char *spec, GError **error)
{
  g_auto (GStrv) entries = g_strsplit (spec, ";", -1);
  for (int i = 0; entries[i]; i++) {
    char *e = g_strstrip (entries[i]);
    if (!*e)
      continue;
    char *eq = strchr (e, '=');
    if (!eq || eq == e || !eq[1]) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "metadata splitnn.cuts: '%s' is not NAME=TENSOR[,TENSOR...]", e);
      return FALSE;
    }
    *eq = '\0';
    g_auto (GStrv) tensors = g_strsplit (eq + 1, ",", -1);
    for (int k = 0; tensors[k]; k++)
      g_strstrip (tensors[k]);
    if (!sn_cut_set_add (set, g_strstrip (e), (const char *const *) tensors,
            g_strv_length (tensors), error))
      return FALSE;
  }
  return TRUE;
}

SnCutSet *
sn_cut_set_new (SnModel *model, GError **error)
{
  SnCutSet *set = g_new0 (SnCutSet, 1);
  set->model = model;
  set->cuts = g_ptr_array_new_with_free_func ((GDestroyNotify) cut_entry_free);
  const char *declared = sn_model_metadata (model, "splitnn.cuts");
  if ((declared && !add_declared (set, declared, error)) || !enumerate (set, error)) {
    sn_cut_set_free (set);
    return NULL;
  }
  /* The model's stored calibration and fidelity belong to its cuts: parsed
   * here, once per model (the fidelity rows against this very set), so a
   * malformed key fails the first cut set made. */
  if (!sn_calibration_attach (model, error) || !sn_fidelity_attach (model, set, error)) {
    g_prefix_error (error, "%s: ", model->source);
    sn_cut_set_free (set);
    return NULL;
  }
  return set;
}

void
sn_cut_set_free (SnCutSet *set)
{
  if (!set)
    return;
  g_ptr_array_unref (set->cuts);
  g_free (set);
}

int
sn_cut_set_n_cuts (const SnCutSet *set)
{
  return set->cuts->len;
}

const SnCut *
sn_cut_set_get (const SnCutSet *set, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < set->cuts->len, NULL);
  return &((CutEntry *) g_ptr_array_index (set->cuts, i))->pub;
}

const SnCut *
sn_cut_set_find (const SnCutSet *set, const char *id_or_name)
{
  char *end;
  guint64 id = g_ascii_strtoull (id_or_name, &end, 10);
  if (*id_or_name && !*end)
    return id < set->cuts->len ? sn_cut_set_get (set, (int) id) : NULL;
  for (guint i = 0; i < set->cuts->len; i++) {
    const SnCut *c = sn_cut_set_get (set, i);
    if (strcmp (c->name, id_or_name) == 0)
      return c;
  }
  return NULL;
}

const SnCut *
sn_cut_set_find_by_shapes (const SnCutSet *set, int n, const SnShape *shapes)
{
  const SnCut *found = NULL;
  for (guint i = 0; i < set->cuts->len; i++) {
    const SnCut *c = sn_cut_set_get (set, i);
    if (c->n_tensors != n)
      continue;
    gboolean same = TRUE;
    for (int k = 0; k < n && same; k++)
      same = sn_shape_equal (&c->shapes[k], &shapes[k]);
    if (!same)
      continue;
    if (found)
      return NULL;              /* ambiguous: two cuts with the same shapes */
    found = c;
  }
  return found;
}

int64_t
sn_cut_bytes (const SnCut *cut, int bits)
{
  return (cut->values * bits + 7) / 8;
}

SnSplit *
sn_split_new (SnModel *model, const SnCut *cut, GError **error)
{
  SnSplit *s = g_new0 (SnSplit, 1);
  s->cut = cut;
  s->edge = sn_segment_new (model, NULL, 0, cut->tensors, cut->n_tensors, error);
  if (s->edge)
    s->cloud = sn_segment_new (model, cut->tensors, cut->n_tensors, NULL, 0, error);
  if (!s->cloud) {
    sn_split_free (s);
    return NULL;
  }
  return s;
}

void
sn_split_free (SnSplit *split)
{
  if (!split)
    return;
  sn_segment_free (split->edge);
  sn_segment_free (split->cloud);
  g_free (split);
}

SnSegment *
sn_split_edge (SnSplit *split)
{
  return split->edge;
}

SnSegment *
sn_split_cloud (SnSplit *split)
{
  return split->cloud;
}

const SnCut *
sn_split_cut (const SnSplit *split)
{
  return split->cut;
}
