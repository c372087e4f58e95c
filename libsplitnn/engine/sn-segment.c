/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — compiling and running graph segments.
 *
 * A segment is the set of nodes needed to compute some values from others.
 * Compiling one walks back from the requested outputs, refuses anything
 * that depends on a value that is neither given nor constant, and plans
 * every intermediate tensor into one arena: values whose lifetimes do not
 * overlap share bytes ("greedy by size", as TFLite's planner does).  The
 * arena is allocated once; running never allocates. */
#include "engine/sn-model-private.h"
#include "engine/sn-xnn.h"
#include "engine/sn-pool.h"

#include <string.h>

#define SN_ARENA_ALIGN 64

struct SnSegment {
  SnModel *model;
  GPtrArray *inputs;          /* SnValue* */
  GPtrArray *outputs;         /* SnValue* */
  GPtrArray *nodes;           /* SnNode*, scheduled order */
  SnTensor **tensors;         /* per model value index; NULL when unused */
  const SnTensor ***node_in;  /* per scheduled node */
  SnTensor ***node_out;
  guint8 *arena;
  int64_t arena_bytes;
  int64_t total_bytes;        /* without reuse, for reporting */
  double flops;
  SnExec exec;
  /* Fast path: maximal runs of nodes XNNPACK can execute. */
  SnEngine engine;
  int n_runs;
  int *run_of;                /* per scheduled node: run index or -1 */
  int *run_first, *run_last;  /* per run, scheduled node indices */
  SnXnnRun **runs;            /* built on first use */
  gboolean *run_failed;
  guint8 *outside;            /* per value: read outside its producer's run */
};

/* ---- Planning ------------------------------------------------------------- */

typedef struct {
  SnValue *value;
  int64_t bytes;
  int first, last;            /* scheduled node indices defining / last using it */
  int64_t offset;
} Block;

static int
block_by_size_desc (gconstpointer a, gconstpointer b)
{
  const Block *x = a, *y = b;
  if (x->bytes != y->bytes)
    return x->bytes < y->bytes ? 1 : -1;
  return x->first - y->first;   /* stable plan for equal sizes */
}

static int64_t
align_up (int64_t n)
{
  return (n + SN_ARENA_ALIGN - 1) / SN_ARENA_ALIGN * SN_ARENA_ALIGN;
}

/* Places each block at the lowest offset that does not collide with a block
 * already placed whose lifetime overlaps; biggest blocks first. */
static int64_t
plan_offsets (Block *blocks, int n)
{
  qsort (blocks, n, sizeof (Block), block_by_size_desc);
  int64_t arena = 0;
  g_autofree Block **placed = g_new (Block *, n + 1);
  int n_placed = 0;
  for (int i = 0; i < n; i++) {
    Block *b = &blocks[i];
    int64_t offset = 0;
    gboolean moved = TRUE;
    /* Placed blocks are kept sorted by offset, so one pass per move. */
    while (moved) {
      moved = FALSE;
      for (int k = 0; k < n_placed; k++) {
        const Block *p = placed[k];
        gboolean live_together = p->first <= b->last && b->first <= p->last;
        if (live_together && offset < p->offset + align_up (p->bytes)
            && p->offset < offset + align_up (b->bytes)) {
          offset = p->offset + align_up (p->bytes);
          moved = TRUE;
        }
      }
    }
    b->offset = offset;
    int pos = n_placed;
    while (pos > 0 && placed[pos - 1]->offset > offset) {
      placed[pos] = placed[pos - 1];
      pos--;
    }
    placed[pos] = b;
    n_placed++;
    arena = MAX (arena, offset + align_up (b->bytes));
  }
  return arena;
}

static gboolean
resolve_names (SnModel *model, const char *const *names, int n,
    GPtrArray *defaults, GPtrArray *dst, const char *what, GError **error)
{
  if (!names || n == 0) {
    for (guint i = 0; i < defaults->len; i++)
      g_ptr_array_add (dst, g_ptr_array_index (defaults, i));
    return TRUE;
  }
  for (int i = 0; i < n; i++) {
    SnValue *v = names[i] ? sn_model_lookup_value (model, names[i]) : NULL;
    if (!v) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "segment %s '%s' is not a tensor of the model", what,
          names[i] ? names[i] : "(null)");
      return FALSE;
    }
    for (guint k = 0; k < dst->len; k++) {
      if (g_ptr_array_index (dst, k) == v) {
        g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
            "segment %s '%s' is listed twice", what, v->name);
        return FALSE;
      }
    }
    g_ptr_array_add (dst, v);
  }
  return TRUE;
}

static gboolean
segment_compile (SnSegment *seg, const char *const *inputs, int n_inputs,
    const char *const *outputs, int n_outputs, GError **error)
{
  SnModel *model = seg->model;
  guint n_values = model->values->len;

  if (!resolve_names (model, inputs, n_inputs, model->inputs, seg->inputs, "input", error)
      || !resolve_names (model, outputs, n_outputs, model->outputs, seg->outputs, "output", error))
    return FALSE;

  for (guint i = 0; i < seg->inputs->len; i++) {
    SnValue *v = g_ptr_array_index (seg->inputs, i);
    if (v->constant) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "segment input '%s' is a constant of the model, not a computed tensor",
          v->name);
      return FALSE;
    }
  }

  /* Walk back from the outputs.  state: 0 unseen, 1 given, 2 needed. */
  g_autofree guint8 *state = g_new0 (guint8, n_values);
  g_autofree guint8 *node_needed = g_new0 (guint8, model->nodes->len);
  for (guint i = 0; i < seg->inputs->len; i++)
    state[((SnValue *) g_ptr_array_index (seg->inputs, i))->index] = 1;
  g_autoptr (GPtrArray) stack = g_ptr_array_new ();
  for (guint i = 0; i < seg->outputs->len; i++)
    g_ptr_array_add (stack, g_ptr_array_index (seg->outputs, i));
  while (stack->len) {
    SnValue *v = g_ptr_array_steal_index (stack, stack->len - 1);
    if (state[v->index] || v->constant)
      continue;
    state[v->index] = 2;
    if (!v->producer) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "the segment's outputs depend on '%s', which is neither a segment "
          "input nor computable from the inputs", v->name);
      return FALSE;
    }
    SnNode *p = v->producer;
    if (!node_needed[p->index]) {
      node_needed[p->index] = 1;
      for (int k = 0; k < p->n_inputs; k++)
        if (p->inputs[k])
          g_ptr_array_add (stack, p->inputs[k]);
    }
  }
  for (guint i = 0; i < model->nodes->len; i++)
    if (node_needed[i])
      g_ptr_array_add (seg->nodes, g_ptr_array_index (model->nodes, i));

  /* Fast-path runs; memory is planned so both engines can use the arena.
   * A run may execute a node earlier than the schedule says (fused with
   * an earlier one), so a value that enters a run stays live until the
   * run's end.  A value that leaves it is read after the run anyway:
   * every block the run touches is then live at the run's last step, and
   * no two overlap.  Values that stay inside a run live in XNNPACK's own
   * memory; their blocks serve the reference kernels only. */
  int n_sched = seg->nodes->len;
  seg->run_of = g_new (int, n_sched + 1);
  seg->run_first = g_new0 (int, n_sched + 1);
  seg->run_last = g_new0 (int, n_sched + 1);
  for (int i = 0; i < n_sched; i++) {
    SnNode *node = g_ptr_array_index (seg->nodes, i);
    gboolean lowerable = sn_xnn_available () && sn_xnn_can_lower (node);
    if (!lowerable) {
      seg->run_of[i] = -1;
      continue;
    }
    if (i > 0 && seg->run_of[i - 1] >= 0) {
      seg->run_of[i] = seg->run_of[i - 1];
    } else {
      seg->run_of[i] = seg->n_runs;
      seg->run_first[seg->n_runs++] = i;
    }
    seg->run_last[seg->run_of[i]] = i;
  }
  seg->runs = g_new0 (SnXnnRun *, seg->n_runs + 1);
  seg->run_failed = g_new0 (gboolean, seg->n_runs + 1);
  seg->outside = g_new0 (guint8, n_values);
  g_autofree int *producer_run = g_new (int, n_values);
  for (guint i = 0; i < n_values; i++)
    producer_run[i] = -2;
  for (int i = 0; i < n_sched; i++) {
    SnNode *node = g_ptr_array_index (seg->nodes, i);
    for (int k = 0; k < node->n_outputs; k++)
      if (node->outputs[k])
        producer_run[node->outputs[k]->index] = seg->run_of[i];
  }
  for (int i = 0; i < n_sched; i++) {
    SnNode *node = g_ptr_array_index (seg->nodes, i);
    for (int k = 0; k < node->n_inputs; k++) {
      SnValue *v = node->inputs[k];
      if (v && (producer_run[v->index] < 0 || producer_run[v->index] != seg->run_of[i]))
        seg->outside[v->index] = 1;
    }
  }
  for (guint i = 0; i < seg->outputs->len; i++)
    seg->outside[((SnValue *) g_ptr_array_index (seg->outputs, i))->index] = 1;

  /* Lifetimes of the values the scheduled nodes produce. */
  g_autofree Block *blocks = g_new0 (Block, n_values + 1);
  g_autofree int *block_of = g_new (int, n_values);
  int n_blocks = 0;
  for (guint i = 0; i < n_values; i++)
    block_of[i] = -1;
  for (int s = 0; s < n_sched; s++) {
    SnNode *node = g_ptr_array_index (seg->nodes, s);
    int r = seg->run_of[s];
    seg->flops += node->flops;
    for (int k = 0; k < node->n_inputs; k++) {
      SnValue *v = node->inputs[k];
      if (!v || block_of[v->index] < 0)
        continue;
      int use_step = r >= 0 && producer_run[v->index] != r ? seg->run_last[r] : s;
      blocks[block_of[v->index]].last = MAX (blocks[block_of[v->index]].last, use_step);
    }
    for (int k = 0; k < node->n_outputs; k++) {
      SnValue *v = node->outputs[k];
      if (!v)
        continue;
      Block *b = &blocks[n_blocks];
      b->value = v;
      b->bytes = (int64_t) sn_shape_numel (&v->shape) * sn_dtype_size (v->dtype);
      b->first = s;
      b->last = s;
      block_of[v->index] = n_blocks++;
      seg->total_bytes += b->bytes;
    }
  }
  for (guint i = 0; i < seg->outputs->len; i++) {
    SnValue *v = g_ptr_array_index (seg->outputs, i);
    if (block_of[v->index] >= 0)
      blocks[block_of[v->index]].last = n_sched;  /* read by the caller */
  }
  seg->arena_bytes = plan_offsets (blocks, n_blocks);
  /* XNNPACK may read up to 16 bytes (XNN_EXTRA_BYTES) past a tensor. */
  seg->arena = sn_aligned_alloc (seg->arena_bytes + SN_ARENA_ALIGN);
  memset (seg->arena, 0, seg->arena_bytes + SN_ARENA_ALIGN);

  for (int b = 0; b < n_blocks; b++) {
    SnValue *v = blocks[b].value;
    seg->tensors[v->index] = sn_tensor_new_wrap (v->dtype, &v->shape,
        seg->arena + blocks[b].offset);
  }
  for (guint i = 0; i < seg->inputs->len; i++) {
    SnValue *v = g_ptr_array_index (seg->inputs, i);
    seg->tensors[v->index] = sn_tensor_new_wrap (v->dtype, &v->shape, NULL);
  }
  /* An output that is also an input or a constant needs storage of its own. */
  for (guint i = 0; i < seg->outputs->len; i++) {
    SnValue *v = g_ptr_array_index (seg->outputs, i);
    if (block_of[v->index] < 0 && !seg->tensors[v->index] && v->constant)
      seg->tensors[v->index] = sn_tensor_new_wrap (v->dtype, &v->shape, v->constant->data);
  }

  seg->node_in = g_new0 (const SnTensor **, n_sched + 1);
  seg->node_out = g_new0 (SnTensor **, n_sched + 1);
  for (int s = 0; s < n_sched; s++) {
    SnNode *node = g_ptr_array_index (seg->nodes, s);
    seg->node_in[s] = g_new0 (const SnTensor *, node->n_inputs + 1);
    seg->node_out[s] = g_new0 (SnTensor *, node->n_outputs + 1);
    for (int k = 0; k < node->n_inputs; k++) {
      SnValue *v = node->inputs[k];
      if (!v)
        continue;
      if (v->constant)
        seg->node_in[s][k] = v->constant;
      else
        seg->node_in[s][k] = seg->tensors[v->index];
    }
    for (int k = 0; k < node->n_outputs; k++)
      if (node->outputs[k])
        seg->node_out[s][k] = seg->tensors[node->outputs[k]->index];
  }
  return TRUE;
}

/* SPLITNN_ENGINE=reference: every segment runs on the reference kernels,
 * whatever callers ask for (to rule the fast path out when debugging). */
static gboolean
engine_forced_reference (void)
{
  const char *engine = g_getenv ("SPLITNN_ENGINE");
  return engine && strcmp (engine, "reference") == 0;
}

SnSegment *
sn_segment_new (SnModel *model, const char *const *inputs, int n_inputs,
    const char *const *outputs, int n_outputs, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  SnSegment *seg = g_new0 (SnSegment, 1);
  seg->model = model;
  seg->inputs = g_ptr_array_new ();
  seg->outputs = g_ptr_array_new ();
  seg->nodes = g_ptr_array_new ();
  seg->exec.n_threads = 1;
  seg->engine = engine_forced_reference () ? SN_ENGINE_REFERENCE : SN_ENGINE_FAST;
  seg->tensors = g_new0 (SnTensor *, model->values->len);
  if (!segment_compile (seg, inputs, n_inputs, outputs, n_outputs, error)) {
    sn_segment_free (seg);
    return NULL;
  }
  return seg;
}

void
sn_segment_free (SnSegment *seg)
{
  if (!seg)
    return;
  if (seg->tensors) {
    for (guint i = 0; i < seg->model->values->len; i++)
      sn_tensor_free (seg->tensors[i]);
    g_free (seg->tensors);
  }
  if (seg->node_in) {
    for (guint s = 0; seg->node_in[s]; s++) {
      g_free (seg->node_in[s]);
      g_free (seg->node_out[s]);
    }
  }
  g_free (seg->node_in);
  g_free (seg->node_out);
  for (int r = 0; seg->runs && r < seg->n_runs; r++)
    sn_xnn_run_free (seg->runs[r]);
  g_free (seg->runs);
  g_free (seg->run_failed);
  g_free (seg->run_of);
  g_free (seg->run_first);
  g_free (seg->run_last);
  g_free (seg->outside);
  sn_xnn_pool_free (seg->exec.pool);
  sn_aligned_free (seg->arena);
  g_ptr_array_unref (seg->inputs);
  g_ptr_array_unref (seg->outputs);
  g_ptr_array_unref (seg->nodes);
  g_free (seg);
}

int
sn_segment_n_inputs (const SnSegment *seg)
{
  return seg->inputs->len;
}

int
sn_segment_n_outputs (const SnSegment *seg)
{
  return seg->outputs->len;
}

const char *
sn_segment_input_name (const SnSegment *seg, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < seg->inputs->len, NULL);
  return ((SnValue *) g_ptr_array_index (seg->inputs, i))->name;
}

const char *
sn_segment_output_name (const SnSegment *seg, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < seg->outputs->len, NULL);
  return ((SnValue *) g_ptr_array_index (seg->outputs, i))->name;
}

void
sn_segment_input_info (const SnSegment *seg, int i, SnDType *dtype, SnShape *shape)
{
  const SnValue *v = g_ptr_array_index (seg->inputs, i);
  if (dtype)
    *dtype = v->dtype;
  if (shape)
    *shape = v->shape;
}

void
sn_segment_output_info (const SnSegment *seg, int i, SnDType *dtype, SnShape *shape)
{
  const SnValue *v = g_ptr_array_index (seg->outputs, i);
  if (dtype)
    *dtype = v->dtype;
  if (shape)
    *shape = v->shape;
}

int
sn_segment_n_nodes (const SnSegment *seg)
{
  return seg->nodes->len;
}

double
sn_segment_flops (const SnSegment *seg)
{
  return seg->flops;
}

int64_t
sn_segment_total_bytes (const SnSegment *seg)
{
  return seg->total_bytes;
}

int64_t
sn_segment_arena_bytes (const SnSegment *seg)
{
  return seg->arena_bytes;
}

static void
drop_runs (SnSegment *seg)
{
  for (int r = 0; r < seg->n_runs; r++) {
    sn_xnn_run_free (seg->runs[r]);
    seg->runs[r] = NULL;
  }
}

void
sn_segment_set_threads (SnSegment *seg, int n_threads)
{
  n_threads = n_threads == 0 ? sn_pool_auto_threads () : MAX (1, n_threads);
  if (n_threads == seg->exec.n_threads)
    return;
  /* XNNPACK runtimes are bound to their thread pool: rebuild lazily. */
  drop_runs (seg);
  sn_xnn_pool_free (seg->exec.pool);
  seg->exec.pool = sn_xnn_pool_new (n_threads);
  seg->exec.n_threads = n_threads;
}

void
sn_segment_set_engine (SnSegment *seg, SnEngine engine)
{
  seg->engine = engine_forced_reference () ? SN_ENGINE_REFERENCE : engine;
}

SnEngine
sn_segment_get_engine (const SnSegment *seg)
{
  return seg->engine == SN_ENGINE_FAST && seg->n_runs > 0 ? SN_ENGINE_FAST : SN_ENGINE_REFERENCE;
}

int
sn_segment_n_fast_nodes (const SnSegment *seg)
{
  int n = 0;
  for (guint s = 0; s < seg->nodes->len; s++)
    n += seg->run_of[s] >= 0 && !seg->run_failed[seg->run_of[s]];
  return n;
}

static SnXnnRun *
ensure_run (SnSegment *seg, int r)
{
  if (seg->runs[r] || seg->run_failed[r])
    return seg->runs[r];
  GError *err = NULL;
  seg->runs[r] = sn_xnn_run_new ((SnNode *const *) seg->nodes->pdata, seg->run_first[r],
      seg->run_last[r], seg->tensors, seg->outside, seg->exec.pool, &err);
  if (!seg->runs[r]) {
    /* Not fatal: these nodes keep running on the reference kernels. */
    g_debug ("splitnn: fast path not used for nodes %d-%d: %s", seg->run_first[r],
        seg->run_last[r], err->message);
    g_error_free (err);
    seg->run_failed[r] = TRUE;
  }
  return seg->runs[r];
}

gboolean
sn_segment_run (SnSegment *seg, const SnTensor *const *inputs, GError **error)
{
  for (guint i = 0; i < seg->inputs->len; i++) {
    const SnValue *v = g_ptr_array_index (seg->inputs, i);
    const SnTensor *t = inputs ? inputs[i] : NULL;
    if (!t || !t->data) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "segment input %u '%s' was not given", i, v->name);
      return FALSE;
    }
    if (t->dtype != v->dtype || !sn_shape_equal (&t->shape, &v->shape)) {
      char a[96], b[96];
      /* A plan is made for one shape: with symbolic input dims, the
       * caller makes the segment from sn_model_at_shapes' model. */
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "segment input '%s' must be %s %s, got %s %s%s", v->name,
          sn_dtype_name (v->dtype), sn_shape_format (&v->shape, a, sizeof a),
          sn_dtype_name (t->dtype), sn_shape_format (&t->shape, b, sizeof b),
          sn_model_has_symbolic_dims (seg->model) ? " (the model has symbolic input dims: make the "
          "segment at this shape, see sn_model_at_shapes)" : "");
      return FALSE;
    }
    seg->tensors[v->index]->data = t->data;
  }
  gboolean fast = seg->engine == SN_ENGINE_FAST;
  for (guint s = 0; s < seg->nodes->len;) {
    int r = fast ? seg->run_of[s] : -1;
    SnXnnRun *run = r >= 0 ? ensure_run (seg, r) : NULL;
    if (run) {
      if (!sn_xnn_run_invoke (run, error))
        return FALSE;
      s = seg->run_last[r] + 1;
      continue;
    }
    const SnNode *node = g_ptr_array_index (seg->nodes, s);
    node->op->run (node, seg->node_in[s], seg->node_out[s], &seg->exec);
    s++;
  }
  return TRUE;
}

const SnTensor *
sn_segment_output (const SnSegment *seg, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < seg->outputs->len, NULL);
  const SnValue *v = g_ptr_array_index (seg->outputs, i);
  return seg->tensors[v->index];
}
