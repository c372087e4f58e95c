/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds small ONNX models in memory for tests, through the same
 * protobuf-c code the loader uses, so tests need no Python. */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef struct SnTestGraph SnTestGraph;

SnTestGraph *sn_test_graph_new (int opset);
void sn_test_graph_free (SnTestGraph *g);
/* A float32 graph input / output with a static shape. */
void sn_test_graph_input (SnTestGraph *g, const char *name, int rank, const int64_t *dims);
void sn_test_graph_output (SnTestGraph *g, const char *name, int rank, const int64_t *dims);
/* The same with symbolic dims: where params[i] is not NULL, dim i is the
 * dim_param params[i] ("N", "height"; "" for an unnamed one) and dims[i]
 * is ignored. */
void sn_test_graph_input_symbolic (SnTestGraph *g, const char *name, int rank, const int64_t *dims,
    const char *const *params);
void sn_test_graph_output_symbolic (SnTestGraph *g, const char *name, int rank, const int64_t *dims,
    const char *const *params);
/* A float32 initializer; n_values may deliberately disagree with dims. */
void sn_test_graph_initializer (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const float *values, size_t n_values);
/* An int64 initializer (shapes, axes, sizes). */
void sn_test_graph_initializer_int64 (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const int64_t *values, size_t n_values);
/* A float16 initializer (values rounded to half precision). */
void sn_test_graph_initializer_f16 (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const float *values, size_t n_values);
/* A float32 initializer whose data lives in an external file. */
void sn_test_graph_initializer_external (SnTestGraph *g, const char *name, int rank,
    const int64_t *dims, const char *location, int64_t offset, int64_t length);
/* A node; inputs/outputs are NULL-terminated; "" is an omitted optional input. */
void sn_test_graph_node (SnTestGraph *g, const char *op_type, const char *name,
    const char *const *inputs, const char *const *outputs);
/* Adds an INTS / INT / FLOAT / STRING attribute to the last node. */
void sn_test_graph_attr_ints (SnTestGraph *g, const char *name, int n, const int64_t *v);
void sn_test_graph_attr_int (SnTestGraph *g, const char *name, int64_t v);
void sn_test_graph_attr_float (SnTestGraph *g, const char *name, float v);
void sn_test_graph_attr_string (SnTestGraph *g, const char *name, const char *v);
void sn_test_graph_metadata (SnTestGraph *g, const char *key, const char *value);
/* Serialises the model; free with g_free. */
guint8 *sn_test_graph_serialize (SnTestGraph *g, size_t *len);
