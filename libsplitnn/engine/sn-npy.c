/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — NumPy .npy files, the exchange format with the Python and
 * JavaScript oracles.  Only little-endian, C-order arrays are accepted. */
#include "splitnn/sn-error.h"
#include "splitnn/sn-tensor.h"

#include <string.h>

static const struct {
  const char *descr;
  SnDType dtype;
} npy_types[] = {
  { "<f4", SN_DTYPE_FLOAT32 }, { "<f2", SN_DTYPE_FLOAT16 }, { "<f8", SN_DTYPE_DOUBLE },
  { "|i1", SN_DTYPE_INT8 }, { "|u1", SN_DTYPE_UINT8 }, { "<i2", SN_DTYPE_INT16 },
  { "<u2", SN_DTYPE_UINT16 }, { "<i4", SN_DTYPE_INT32 }, { "<u4", SN_DTYPE_UINT32 },
  { "<i8", SN_DTYPE_INT64 }, { "<u8", SN_DTYPE_UINT64 }, { "|b1", SN_DTYPE_BOOL },
};

/* Finds 'key': in the header dict and returns a pointer just past the colon. */
static const char *
dict_value (const char *header, const char *key)
{
  const char *p = strstr (header, key);
  if (!p)
    return NULL;
  p = strchr (p + strlen (key), ':');
  if (!p)
    return NULL;
  p++;
  while (*p == ' ')
    p++;
  return p;
}

SnTensor *
sn_tensor_load_npy (const char *path, GError **error)
{
  g_autofree char *buf = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents (path, &buf, &len, &err)) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s", err->message);
    g_error_free (err);
    return NULL;
  }
  if (len < 10 || memcmp (buf, "\x93NUMPY", 6) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: not a .npy file", path);
    return NULL;
  }
  guint major = (guint8) buf[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (guint8) buf[8] | ((size_t) (guint8) buf[9] << 8);
    hoff = 10;
  } else if ((major == 2 || major == 3) && len >= 12) {
    hlen = (guint8) buf[8] | ((size_t) (guint8) buf[9] << 8)
        | ((size_t) (guint8) buf[10] << 16) | ((size_t) (guint8) buf[11] << 24);
    hoff = 12;
  } else {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: unsupported .npy version %u",
        path, major);
    return NULL;
  }
  if (hlen > len - hoff) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: truncated .npy header", path);
    return NULL;
  }
  g_autofree char *header = g_strndup (buf + hoff, hlen);
  const char *descr = dict_value (header, "'descr'");
  const char *fortran = dict_value (header, "'fortran_order'");
  const char *shape_s = dict_value (header, "'shape'");
  if (!descr || !fortran || !shape_s || *shape_s != '(') {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: malformed .npy header", path);
    return NULL;
  }
  if (strncmp (fortran, "False", 5) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "%s: Fortran-order arrays are not supported", path);
    return NULL;
  }
  SnDType dtype = SN_DTYPE_UNDEFINED;
  for (size_t i = 0; i < G_N_ELEMENTS (npy_types); i++)
    if (strncmp (descr + 1, npy_types[i].descr, 3) == 0)
      dtype = npy_types[i].dtype;
  if (dtype == SN_DTYPE_UNDEFINED) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "%s: unsupported .npy dtype %.6s", path, descr);
    return NULL;
  }
  SnShape shape = { 0 };
  const char *p = shape_s + 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == ')')
      break;
    char *end;
    gint64 d = g_ascii_strtoll (p, &end, 10);
    if (end == p || d < 0 || shape.rank == SN_MAX_DIMS) {
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: bad shape in .npy header", path);
      return NULL;
    }
    shape.dims[shape.rank++] = d;
    p = end;
  }
  SnTensor *t = sn_tensor_new (dtype, &shape);
  size_t need = sn_tensor_nbytes (t);
  if (len - hoff - hlen != need) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE,
        "%s: .npy holds %zu data bytes, its shape needs %zu", path,
        len - hoff - hlen, need);
    sn_tensor_free (t);
    return NULL;
  }
  memcpy (t->data, buf + hoff + hlen, need);
  return t;
}

gboolean
sn_tensor_save_npy (const SnTensor *t, const char *path, GError **error)
{
  const char *descr = NULL;
  for (size_t i = 0; i < G_N_ELEMENTS (npy_types); i++)
    if (npy_types[i].dtype == t->dtype)
      descr = npy_types[i].descr;
  if (!descr) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "cannot write dtype %s to .npy", sn_dtype_name (t->dtype));
    return FALSE;
  }
  GString *h = g_string_new (NULL);
  g_string_append_printf (h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < t->shape.rank; i++)
    g_string_append_printf (h, "%" G_GINT64_FORMAT "%s", t->shape.dims[i],
        t->shape.rank == 1 ? "," : (i + 1 < t->shape.rank ? ", " : ""));
  g_string_append (h, "), }");
  /* Pad so the data starts on a 64-byte boundary, ending with '\n'. */
  while ((10 + h->len + 1) % 64)
    g_string_append_c (h, ' ');
  g_string_append_c (h, '\n');

  GByteArray *out = g_byte_array_new ();
  guint8 pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
    (guint8) (h->len & 0xff), (guint8) (h->len >> 8) };
  g_byte_array_append (out, pre, 10);
  g_byte_array_append (out, (guint8 *) h->str, h->len);
  g_byte_array_append (out, t->data, sn_tensor_nbytes (t));
  GError *err = NULL;
  gboolean ok = g_file_set_contents (path, (char *) out->data, out->len, &err);
  g_byte_array_unref (out);
  g_string_free (h, TRUE);
  if (!ok) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s", err->message);
    g_error_free (err);
  }
  return ok;
}
