/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — tensor storage, shapes and half-precision conversion. */
#include "splitnn/sn-tensor.h"

#include <stdlib.h>
#include <string.h>

#define SN_ALIGN 64

void *
sn_aligned_alloc (size_t bytes)
{
  void *p = NULL;
  /* Zero-byte tensors (a dim of 0) still get a valid pointer. */
  if (posix_memalign (&p, SN_ALIGN, bytes ? (bytes + SN_ALIGN - 1) / SN_ALIGN * SN_ALIGN : SN_ALIGN) != 0)
    g_error ("splitnn: out of memory allocating %zu bytes", bytes);
  return p;
}

void
sn_aligned_free (void *p)
{
  free (p);
}

size_t
sn_dtype_size (SnDType dtype)
{
  switch (dtype) {
    case SN_DTYPE_FLOAT32: case SN_DTYPE_INT32: case SN_DTYPE_UINT32: return 4;
    case SN_DTYPE_UINT8: case SN_DTYPE_INT8: case SN_DTYPE_BOOL: return 1;
    case SN_DTYPE_UINT16: case SN_DTYPE_INT16: case SN_DTYPE_FLOAT16: return 2;
    case SN_DTYPE_INT64: case SN_DTYPE_UINT64: case SN_DTYPE_DOUBLE: return 8;
    default: return 0;
  }
}

const char *
sn_dtype_name (SnDType dtype)
{
  switch (dtype) {
    case SN_DTYPE_FLOAT32: return "float32";
    case SN_DTYPE_UINT8: return "uint8";
    case SN_DTYPE_INT8: return "int8";
    case SN_DTYPE_UINT16: return "uint16";
    case SN_DTYPE_INT16: return "int16";
    case SN_DTYPE_INT32: return "int32";
    case SN_DTYPE_INT64: return "int64";
    case SN_DTYPE_STRING: return "string";
    case SN_DTYPE_BOOL: return "bool";
    case SN_DTYPE_FLOAT16: return "float16";
    case SN_DTYPE_DOUBLE: return "float64";
    case SN_DTYPE_UINT32: return "uint32";
    case SN_DTYPE_UINT64: return "uint64";
    default: return "undefined";
  }
}

int64_t
sn_shape_numel (const SnShape *shape)
{
  int64_t n = 1;
  for (int i = 0; i < shape->rank; i++)
    n *= shape->dims[i];
  return n;
}

gboolean
sn_shape_equal (const SnShape *a, const SnShape *b)
{
  if (a->rank != b->rank)
    return FALSE;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return FALSE;
  return TRUE;
}

char *
sn_shape_format (const SnShape *shape, char *buf, size_t len)
{
  if (shape->rank == 0) {
    g_strlcpy (buf, "scalar", len);
    return buf;
  }
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; i < shape->rank && off < len; i++)
    off += g_snprintf (buf + off, len - off, i ? "x%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
        shape->dims[i]);
  return buf;
}

SnShape
sn_shape_make (int rank, const int64_t *dims)
{
  SnShape s = { .rank = rank };
  g_assert (rank >= 0 && rank <= SN_MAX_DIMS);
  for (int i = 0; i < rank; i++)
    s.dims[i] = dims[i];
  return s;
}

SnTensor *
sn_tensor_new (SnDType dtype, const SnShape *shape)
{
  SnTensor *t = g_new0 (SnTensor, 1);
  t->dtype = dtype;
  t->shape = *shape;
  size_t bytes = sn_tensor_nbytes (t);
  t->data = sn_aligned_alloc (bytes);
  memset (t->data, 0, bytes);
  t->owns_data = TRUE;
  return t;
}

SnTensor *
sn_tensor_new_wrap (SnDType dtype, const SnShape *shape, void *data)
{
  SnTensor *t = g_new0 (SnTensor, 1);
  t->dtype = dtype;
  t->shape = *shape;
  t->data = data;
  return t;
}

SnTensor *
sn_tensor_copy (const SnTensor *t)
{
  SnTensor *c = sn_tensor_new (t->dtype, &t->shape);
  memcpy (c->data, t->data, sn_tensor_nbytes (t));
  return c;
}

void
sn_tensor_free (SnTensor *t)
{
  if (!t)
    return;
  if (t->owns_data)
    sn_aligned_free (t->data);
  g_free (t);
}

int64_t
sn_tensor_numel (const SnTensor *t)
{
  return sn_shape_numel (&t->shape);
}

size_t
sn_tensor_nbytes (const SnTensor *t)
{
  return (size_t) sn_shape_numel (&t->shape) * sn_dtype_size (t->dtype);
}

float
sn_half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;

  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      /* Subnormal half: renormalise into a single-precision normal. */
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | ((uint32_t) (127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

uint16_t
sn_float_to_half (float f)
{
  uint32_t x;
  memcpy (&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t) ((x >> 23) & 0xff);
  uint32_t mant = x & 0x7fffff;

  if (exp == 0xff)
    return (uint16_t) (sign | 0x7c00 | (mant ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1f)
    return (uint16_t) (sign | 0x7c00);
  if (e <= 0) {
    if (e < -10)
      return (uint16_t) sign;
    mant |= 0x800000;
    uint32_t shift = (uint32_t) (14 - e);
    uint32_t half_mant = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1)))
      half_mant++;
    return (uint16_t) (sign | half_mant);
  }
  uint32_t h = sign | ((uint32_t) e << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  /* Round to nearest even; a carry into the exponent is the right result. */
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    h++;
  return (uint16_t) h;
}
