/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstsplitnnmodel.h"

gboolean
gst_splitnn_model_open (GstElement * element, const gchar * path,
    SnModel ** model, SnDetector ** detector, SnCutSet ** cuts)
{
  GError *err = NULL;
  *model = NULL;
  *detector = NULL;
  *cuts = NULL;
  if (!path) {
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND, ("No model set"),
        ("set the 'model' property to an ONNX file"));
    return FALSE;
  }
  if ((*model = sn_model_load (path, &err))
      && (*detector = sn_detector_new (*model, &err))
      && (*cuts = sn_cut_set_new (*model, &err)))
    return TRUE;
  GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ, ("Cannot use model '%s'",
          path), ("%s", err->message));
  g_error_free (err);
  g_clear_pointer (cuts, sn_cut_set_free);
  g_clear_pointer (detector, sn_detector_free);
  g_clear_pointer (model, sn_model_free);
  return FALSE;
}

const SnImage *
gst_splitnn_blank_image (void)
{
  static const guint8 black[16 * 16 * 3];
  static const SnImage img = {.format = SN_PIXEL_RGB,.width = 16,.height =
        16,.planes = {black},
  .strides = {16 * 3}
  };
  return &img;
}
