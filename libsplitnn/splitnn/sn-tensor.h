/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — dense tensors.
 *
 * A tensor is a plain struct on purpose: kernels, codecs and the GStreamer
 * elements all read dims and data directly, and hiding them behind getters
 * would only add noise to every loop.  Data is row-major and contiguous. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

/* Values equal ONNX TensorProto.DataType so no table is needed at load. */
typedef enum {
  SN_DTYPE_UNDEFINED = 0,
  SN_DTYPE_FLOAT32 = 1,
  SN_DTYPE_UINT8 = 2,
  SN_DTYPE_INT8 = 3,
  SN_DTYPE_UINT16 = 4,
  SN_DTYPE_INT16 = 5,
  SN_DTYPE_INT32 = 6,
  SN_DTYPE_INT64 = 7,
  SN_DTYPE_STRING = 8,
  SN_DTYPE_BOOL = 9,
  SN_DTYPE_FLOAT16 = 10,
  SN_DTYPE_DOUBLE = 11,
  SN_DTYPE_UINT32 = 12,
  SN_DTYPE_UINT64 = 13,
} SnDType;

#define SN_MAX_DIMS 8

typedef struct {
  int rank;
  int64_t dims[SN_MAX_DIMS];
} SnShape;

typedef struct {
  SnDType dtype;
  SnShape shape;
  void *data;
  gboolean owns_data;   /* data was allocated by sn_tensor_new and is freed with it */
} SnTensor;

/* Size in bytes of one element, 0 for dtypes we cannot hold. */
SN_API size_t sn_dtype_size (SnDType dtype);
SN_API const char *sn_dtype_name (SnDType dtype);

SN_API int64_t sn_shape_numel (const SnShape *shape);
SN_API gboolean sn_shape_equal (const SnShape *a, const SnShape *b);
/* Writes "1x3x224x224" (or "scalar") into buf; returns buf. */
SN_API char *sn_shape_format (const SnShape *shape, char *buf, size_t len);
SN_API SnShape sn_shape_make (int rank, const int64_t *dims);

/* Allocates zero-filled, 64-byte aligned storage. */
SN_API SnTensor *sn_tensor_new (SnDType dtype, const SnShape *shape);
/* Wraps caller memory; the tensor never frees it. */
SN_API SnTensor *sn_tensor_new_wrap (SnDType dtype, const SnShape *shape, void *data);
SN_API SnTensor *sn_tensor_copy (const SnTensor *t);
SN_API void sn_tensor_free (SnTensor *t);
SN_API int64_t sn_tensor_numel (const SnTensor *t);
SN_API size_t sn_tensor_nbytes (const SnTensor *t);

/* IEEE half <-> single, exact for every half value. */
SN_API float sn_half_to_float (uint16_t h);
SN_API uint16_t sn_float_to_half (float f);

/* NumPy .npy I/O (little-endian, C order; float32/float16/float64/int8..int64/uint8/bool). */
SN_API SnTensor *sn_tensor_load_npy (const char *path, GError **error);
SN_API gboolean sn_tensor_save_npy (const SnTensor *t, const char *path, GError **error);

SN_API void *sn_aligned_alloc (size_t bytes);
SN_API void sn_aligned_free (void *p);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SnTensor, sn_tensor_free)

G_END_DECLS
