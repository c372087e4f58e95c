/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the GStreamer plugin: one registration line per element. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstsplitnncloud.h"
#include "gstsplitnnedge.h"
#include "gstsplitnnoverlay.h"
#include "gstsplitnnpublish.h"
#include "gstzmqsink.h"
#include "gstzmqsrc.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (splitnnedge, plugin);
  ret |= GST_ELEMENT_REGISTER (splitnncloud, plugin);
  ret |= GST_ELEMENT_REGISTER (splitnnoverlay, plugin);
  ret |= GST_ELEMENT_REGISTER (splitnnpublish, plugin);
  ret |= GST_ELEMENT_REGISTER (zmqsink, plugin);
  ret |= GST_ELEMENT_REGISTER (zmqsrc, plugin);

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, splitnn,
    "Split edge-cloud DNN inference and its ZeroMQ transport",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
