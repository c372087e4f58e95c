/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading what both splitnn elements need from one model file. */
#pragma once

#include <gst/gst.h>
#include <splitnn/splitnn.h>

G_BEGIN_DECLS
/* Loads the model, its detector and its cuts; on failure posts an element
 * error naming the file and what was wrong, and returns FALSE with nothing
 * left allocated. */
    gboolean gst_splitnn_model_open (GstElement * element, const gchar * path,
    SnModel ** model, SnDetector ** detector, SnCutSet ** cuts);

/* A small black RGB frame for warming a network up before the first
 * real frame; the detector letterboxes it to the model's input size. */
const SnImage *gst_splitnn_blank_image (void);

G_END_DECLS
