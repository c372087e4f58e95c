/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the SnModel object: construction, queries, attachments, free.
 *
 * What the ONNX loader (sn-onnx-load.c) fills in, and what the rest of the
 * engine and the layers above read.  An SnModel knows nothing of cuts,
 * calibration or fidelity: the split layer parses those from the model's
 * metadata and hangs them on the model as attachments (see
 * sn-model-private.h), so that the engine never calls upward. */
#include "engine/sn-model-private.h"

#include <string.h>

typedef struct {
  gpointer data;
  GDestroyNotify destroy;
} Attachment;

static void
attachment_free (gpointer p)
{
  Attachment *a = p;
  if (a->destroy)
    a->destroy (a->data);
  g_free (a);
}

static void
value_free (SnValue *v)
{
  g_free (v->name);
  sn_tensor_free (v->constant);
  g_free (v);
}

static void
node_free (SnNode *n)
{
  if (n->op && n->op->free_params && n->params)
    n->op->free_params (n->params);
  for (int i = 0; i < n->n_attrs; i++) {
    SnAttr *a = &n->attrs[i];
    g_free (a->name);
    g_free (a->s);
    g_free (a->floats);
    g_free (a->ints);
    sn_tensor_free (a->t);
  }
  g_free (n->attrs);
  g_free (n->inputs);
  g_free (n->outputs);
  g_free (n->name);
  g_free (n->op_type);
  g_free (n->domain);
  g_free (n);
}

void
sn_model_free (SnModel *model)
{
  if (!model)
    return;
  int n_inputs = (int) model->inputs->len;
  /* Nodes first: free_params may still look at values. */
  g_ptr_array_unref (model->nodes);
  g_ptr_array_unref (model->inputs);
  g_ptr_array_unref (model->outputs);
  g_hash_table_unref (model->value_by_name);
  g_ptr_array_unref (model->values);
  g_hash_table_unref (model->metadata);
  g_hash_table_unref (model->attachments);
  g_mutex_clear (&model->attach_lock);
  g_free (model->op_counts);
  g_free (model->source);
  if (model->dim_params) {
    for (int i = 0; i < n_inputs; i++)
      for (int d = 0; d < SN_MAX_DIMS; d++)
        g_free (model->dim_params[i][d]);
    g_free (model->dim_params);
  }
  if (model->bytes)
    g_bytes_unref (model->bytes);
  g_free (model->base_dir);
  if (model->at_shape)
    g_hash_table_unref (model->at_shape);
  g_mutex_clear (&model->at_shape_lock);
  g_free (model);
}

SnValue *
sn_model_lookup_value (const SnModel *model, const char *name)
{
  return g_hash_table_lookup (model->value_by_name, name);
}

SnModel *
sn_model_new (const char *source, const void *data, size_t len)
{
  SnModel *model = g_new0 (SnModel, 1);
  model->source = g_strdup (source);
  model->values = g_ptr_array_new_with_free_func ((GDestroyNotify) value_free);
  model->value_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  model->nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  model->inputs = g_ptr_array_new ();
  model->outputs = g_ptr_array_new ();
  model->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  model->attachments = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, attachment_free);
  g_mutex_init (&model->attach_lock);
  model->peak_bytes = -1;
  g_mutex_init (&model->at_shape_lock);
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
  g_strlcpy (model->fingerprint, hex, sizeof model->fingerprint);
  return model;
}

/* ---- Attachments ---------------------------------------------------------- */

gpointer
sn_model_get_attachment (const SnModel *model, const char *key)
{
  SnModel *m = (SnModel *) model;
  g_mutex_lock (&m->attach_lock);
  Attachment *a = g_hash_table_lookup (m->attachments, key);
  gpointer data = a ? a->data : NULL;
  g_mutex_unlock (&m->attach_lock);
  return data;
}

gpointer
sn_model_attach (const SnModel *model, const char *key, gpointer data, GDestroyNotify destroy)
{
  SnModel *m = (SnModel *) model;
  g_mutex_lock (&m->attach_lock);
  Attachment *a = g_hash_table_lookup (m->attachments, key);
  gboolean lost = a != NULL;
  if (!a) {
    a = g_new (Attachment, 1);
    a->data = data;
    a->destroy = destroy;
    g_hash_table_insert (m->attachments, g_strdup (key), a);
  }
  gpointer kept = a->data;
  g_mutex_unlock (&m->attach_lock);
  /* Two threads parsed the same thing at once: the first one stays, so
   * that pointers already handed out remain valid. */
  if (lost && destroy)
    destroy (data);
  return kept;
}

/* ---- Model queries -------------------------------------------------------- */

int
sn_model_n_inputs (const SnModel *model)
{
  return model->inputs->len;
}

int
sn_model_n_outputs (const SnModel *model)
{
  return model->outputs->len;
}

const char *
sn_model_input_name (const SnModel *model, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < model->inputs->len, NULL);
  return ((SnValue *) g_ptr_array_index (model->inputs, i))->name;
}

const char *
sn_model_output_name (const SnModel *model, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < model->outputs->len, NULL);
  return ((SnValue *) g_ptr_array_index (model->outputs, i))->name;
}

gboolean
sn_model_value_info (const SnModel *model, const char *name, SnDType *dtype,
    SnShape *shape)
{
  const SnValue *v = sn_model_lookup_value (model, name);
  if (!v || !v->shape_known)
    return FALSE;
  if (dtype)
    *dtype = v->dtype;
  if (shape)
    *shape = v->shape;
  return TRUE;
}

const char *
sn_model_metadata (const SnModel *model, const char *key)
{
  return g_hash_table_lookup (model->metadata, key);
}

const char *
sn_model_fingerprint (const SnModel *model)
{
  return model->fingerprint;
}

SnOpCount *
sn_model_op_counts (const SnModel *model)
{
  SnModel *m = (SnModel *) model;
  if (m->op_counts)
    return m->op_counts;
  GArray *counts = g_array_new (TRUE, TRUE, sizeof (SnOpCount));
  for (guint i = 0; i < m->nodes->len; i++) {
    const SnNode *n = g_ptr_array_index (m->nodes, i);
    guint k;
    for (k = 0; k < counts->len; k++)
      if (strcmp (g_array_index (counts, SnOpCount, k).op_type, n->op_type) == 0)
        break;
    if (k == counts->len) {
      SnOpCount c = { n->op_type, 0 };
      g_array_append_val (counts, c);
    }
    g_array_index (counts, SnOpCount, k).count++;
  }
  m->op_counts = (SnOpCount *) g_array_free (counts, FALSE);
  return m->op_counts;
}

void
sn_model_get_info (const SnModel *model, SnModelInfo *info)
{
  SnModel *m = (SnModel *) model;
  memset (info, 0, sizeof *info);
  info->n_nodes = m->nodes->len;
  info->n_params = m->n_params;
  info->param_bytes = m->param_bytes;
  info->opset = m->opset;
  for (guint i = 0; i < m->nodes->len; i++) {
    const SnNode *n = g_ptr_array_index (m->nodes, i);
    if (!sn_node_is_folded (n))
      info->flops += n->flops;
  }
  if (m->peak_bytes < 0) {
    SnSegment *whole = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
    if (whole) {
      m->peak_bytes = sn_segment_arena_bytes (whole);
      m->total_bytes = sn_segment_total_bytes (whole);
      sn_segment_free (whole);
    }
  }
  info->peak_activation_bytes = m->peak_bytes;
  info->total_activation_bytes = m->total_bytes;
}

gboolean
sn_model_has_symbolic_dims (const SnModel *model)
{
  return model->n_symbolic > 0;
}


