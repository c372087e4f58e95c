/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-memory ONNX model builder for tests. */
#include "sn-test-onnx.h"

#include <string.h>

#include <splitnn/splitnn.h>

#include "onnx.pb-c.h"

struct SnTestGraph {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset;
  Onnx__OperatorSetIdProto *opsets[1];
  GPtrArray *nodes, *inputs, *outputs, *inits, *meta;
  GPtrArray *garbage;           /* everything else to free */
};

static gpointer
keep (SnTestGraph *g, gpointer p)
{
  g_ptr_array_add (g->garbage, p);
  return p;
}

SnTestGraph *
sn_test_graph_new (int opset)
{
  SnTestGraph *g = g_new0 (SnTestGraph, 1);
  onnx__model_proto__init (&g->model);
  onnx__graph_proto__init (&g->graph);
  onnx__operator_set_id_proto__init (&g->opset);
  g->opset.domain = "";
  g->opset.has_version = TRUE;
  g->opset.version = opset;
  g->opsets[0] = &g->opset;
  g->model.n_opset_import = 1;
  g->model.opset_import = g->opsets;
  g->model.has_ir_version = TRUE;
  g->model.ir_version = 8;
  g->model.graph = &g->graph;
  g->graph.name = "test";
  g->nodes = g_ptr_array_new ();
  g->inputs = g_ptr_array_new ();
  g->outputs = g_ptr_array_new ();
  g->inits = g_ptr_array_new ();
  g->meta = g_ptr_array_new ();
  g->garbage = g_ptr_array_new_with_free_func (g_free);
  return g;
}

void
sn_test_graph_free (SnTestGraph *g)
{
  g_ptr_array_unref (g->nodes);
  g_ptr_array_unref (g->inputs);
  g_ptr_array_unref (g->outputs);
  g_ptr_array_unref (g->inits);
  g_ptr_array_unref (g->meta);
  g_ptr_array_unref (g->garbage);
  g_free (g);
}

static Onnx__ValueInfoProto *
value_info (SnTestGraph *g, const char *name, int rank, const int64_t *dims, const char *const *params)
{
  Onnx__ValueInfoProto *vi = keep (g, g_new0 (Onnx__ValueInfoProto, 1));
  Onnx__TypeProto *tp = keep (g, g_new0 (Onnx__TypeProto, 1));
  Onnx__TypeProto__Tensor *tt = keep (g, g_new0 (Onnx__TypeProto__Tensor, 1));
  Onnx__TensorShapeProto *sp = keep (g, g_new0 (Onnx__TensorShapeProto, 1));
  Onnx__TensorShapeProto__Dimension **dv = keep (g, g_new0 (Onnx__TensorShapeProto__Dimension *, rank + 1));
  onnx__value_info_proto__init (vi);
  onnx__type_proto__init (tp);
  onnx__type_proto__tensor__init (tt);
  onnx__tensor_shape_proto__init (sp);
  for (int i = 0; i < rank; i++) {
    dv[i] = keep (g, g_new0 (Onnx__TensorShapeProto__Dimension, 1));
    onnx__tensor_shape_proto__dimension__init (dv[i]);
    if (params && params[i]) {
      dv[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dv[i]->dim_param = keep (g, g_strdup (params[i]));
      continue;
    }
    dv[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dv[i]->dim_value = dims[i];
  }
  sp->n_dim = rank;
  sp->dim = dv;
  tt->has_elem_type = TRUE;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = sp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->name = keep (g, g_strdup (name));
  vi->type = tp;
  return vi;
}

void
sn_test_graph_input (SnTestGraph *g, const char *name, int rank, const int64_t *dims)
{
  g_ptr_array_add (g->inputs, value_info (g, name, rank, dims, NULL));
}

void
sn_test_graph_input_symbolic (SnTestGraph *g, const char *name, int rank, const int64_t *dims,
    const char *const *params)
{
  g_ptr_array_add (g->inputs, value_info (g, name, rank, dims, params));
}

void
sn_test_graph_output_symbolic (SnTestGraph *g, const char *name, int rank, const int64_t *dims,
    const char *const *params)
{
  g_ptr_array_add (g->outputs, value_info (g, name, rank, dims, params));
}

void
sn_test_graph_output (SnTestGraph *g, const char *name, int rank, const int64_t *dims)
{
  g_ptr_array_add (g->outputs, value_info (g, name, rank, dims, NULL));
}

/* An initializer's name, shape and data type, kept by the graph; the
 * caller fills in where its values are. */
static Onnx__TensorProto *
tensor (SnTestGraph *g, const char *name, int rank, const int64_t *dims, int data_type)
{
  Onnx__TensorProto *t = keep (g, g_new0 (Onnx__TensorProto, 1));
  onnx__tensor_proto__init (t);
  t->name = keep (g, g_strdup (name));
  t->n_dims = rank;
  t->dims = keep (g, g_memdup2 (dims, rank * sizeof (int64_t)));
  t->has_data_type = TRUE;
  t->data_type = data_type;
  return t;
}

void
sn_test_graph_initializer (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const float *values, size_t n_values)
{
  Onnx__TensorProto *t = tensor (g, name, rank, dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
  t->has_raw_data = TRUE;
  t->raw_data.len = n_values * sizeof (float);
  t->raw_data.data = keep (g, g_memdup2 (values, n_values * sizeof (float)));
  g_ptr_array_add (g->inits, t);
}

void
sn_test_graph_initializer_int64 (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const int64_t *values, size_t n_values)
{
  Onnx__TensorProto *t = tensor (g, name, rank, dims, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
  t->n_int64_data = n_values;
  t->int64_data = keep (g, g_memdup2 (values, n_values * sizeof (int64_t)));
  g_ptr_array_add (g->inits, t);
}

void
sn_test_graph_initializer_f16 (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const float *values, size_t n_values)
{
  sn_test_graph_initializer (g, name, rank, dims, values, 0);
  Onnx__TensorProto *t = g_ptr_array_index (g->inits, g->inits->len - 1);
  guint16 *half = keep (g, g_new (guint16, n_values + 1));
  for (size_t i = 0; i < n_values; i++)
    half[i] = sn_float_to_half (values[i]);
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
  t->raw_data.len = n_values * 2;
  t->raw_data.data = (guint8 *) half;
}

static Onnx__StringStringEntryProto *
entry (SnTestGraph *g, const char *key, const char *value)
{
  Onnx__StringStringEntryProto *e = keep (g, g_new0 (Onnx__StringStringEntryProto, 1));
  onnx__string_string_entry_proto__init (e);
  e->key = keep (g, g_strdup (key));
  e->value = keep (g, g_strdup (value));
  return e;
}

void
sn_test_graph_initializer_external (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const char *location, int64_t offset, int64_t length)
{
  Onnx__TensorProto *t = tensor (g, name, rank, dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
  t->has_data_location = TRUE;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  Onnx__StringStringEntryProto **ext = keep (g, g_new0 (Onnx__StringStringEntryProto *, 3));
  ext[0] = entry (g, "location", location);
  g_autofree char *off = g_strdup_printf ("%" G_GINT64_FORMAT, offset);
  g_autofree char *len = g_strdup_printf ("%" G_GINT64_FORMAT, length);
  ext[1] = entry (g, "offset", off);
  ext[2] = entry (g, "length", len);
  t->n_external_data = 3;
  t->external_data = ext;
  g_ptr_array_add (g->inits, t);
}

static char **
strv (SnTestGraph *g, const char *const *v, size_t *n)
{
  *n = v ? g_strv_length ((char **) v) : 0;
  char **out = keep (g, g_new0 (char *, *n + 1));
  for (size_t i = 0; i < *n; i++)
    out[i] = keep (g, g_strdup (v[i]));
  return out;
}

void
sn_test_graph_node (SnTestGraph *g, const char *op_type, const char *name,
    const char *const *inputs, const char *const *outputs)
{
  Onnx__NodeProto *n = keep (g, g_new0 (Onnx__NodeProto, 1));
  onnx__node_proto__init (n);
  n->op_type = keep (g, g_strdup (op_type));
  n->name = name ? keep (g, g_strdup (name)) : NULL;
  n->input = strv (g, inputs, &n->n_input);
  n->output = strv (g, outputs, &n->n_output);
  n->attribute = keep (g, g_new0 (Onnx__AttributeProto *, 16));
  g_ptr_array_add (g->nodes, n);
}

static Onnx__AttributeProto *
new_attr (SnTestGraph *g, const char *name, Onnx__AttributeProto__AttributeType type)
{
  Onnx__NodeProto *n = g_ptr_array_index (g->nodes, g->nodes->len - 1);
  g_assert (n->n_attribute < 15);
  Onnx__AttributeProto *a = keep (g, g_new0 (Onnx__AttributeProto, 1));
  onnx__attribute_proto__init (a);
  a->name = keep (g, g_strdup (name));
  a->has_type = TRUE;
  a->type = type;
  n->attribute[n->n_attribute++] = a;
  return a;
}

void
sn_test_graph_attr_ints (SnTestGraph *g, const char *name, int n, const int64_t *v)
{
  Onnx__AttributeProto *a = new_attr (g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = n;
  a->ints = keep (g, g_memdup2 (v, n * sizeof (int64_t)));
}

void
sn_test_graph_attr_int (SnTestGraph *g, const char *name, int64_t v)
{
  Onnx__AttributeProto *a = new_attr (g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = TRUE;
  a->i = v;
}

void
sn_test_graph_attr_float (SnTestGraph *g, const char *name, float v)
{
  Onnx__AttributeProto *a = new_attr (g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = TRUE;
  a->f = v;
}

void
sn_test_graph_attr_string (SnTestGraph *g, const char *name, const char *v)
{
  Onnx__AttributeProto *a = new_attr (g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  a->has_s = TRUE;
  a->s.data = keep (g, g_strdup (v));
  a->s.len = strlen (v);
}

void
sn_test_graph_metadata (SnTestGraph *g, const char *key, const char *value)
{
  g_ptr_array_add (g->meta, entry (g, key, value));
}

guint8 *
sn_test_graph_serialize (SnTestGraph *g, size_t *len)
{
  g->graph.n_node = g->nodes->len;
  g->graph.node = (Onnx__NodeProto **) g->nodes->pdata;
  g->graph.n_input = g->inputs->len;
  g->graph.input = (Onnx__ValueInfoProto **) g->inputs->pdata;
  g->graph.n_output = g->outputs->len;
  g->graph.output = (Onnx__ValueInfoProto **) g->outputs->pdata;
  g->graph.n_initializer = g->inits->len;
  g->graph.initializer = (Onnx__TensorProto **) g->inits->pdata;
  g->model.n_metadata_props = g->meta->len;
  g->model.metadata_props = (Onnx__StringStringEntryProto **) g->meta->pdata;
  *len = onnx__model_proto__get_packed_size (&g->model);
  guint8 *buf = g_malloc (*len ? *len : 1);
  onnx__model_proto__pack (&g->model, buf);
  return buf;
}
