/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: everything splitnn does with an untrusted ONNX file
 * when it opens a model (what splitnnedge / splitnncloud do on their model
 * property and the tools on their first argument): protobuf parsing, graph
 * checks, shape inference, the calibration and fidelity metadata, the cut
 * enumeration and the detector's checks of its outputs.  External data is
 * refused (no base directory), so the target reads no files. */
#include <stdint.h>

#include <splitnn/splitnn.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (size ? data : (const uint8_t *) "", size, NULL, &err);
  if (!m) {
    /* Every refusal carries a message: a NULL one would be a loader bug. */
    if (!err || !err->message || !err->message[0])
      __builtin_trap ();
    g_error_free (err);
    return 0;
  }
  SnCutSet *cuts = sn_cut_set_new (m, &err);
  if (cuts)
    sn_cut_set_free (cuts);
  g_clear_error (&err);
  SnDetector *det = sn_detector_new (m, &err);
  if (det)
    sn_detector_free (det);
  g_clear_error (&err);
  sn_model_free (m);
  return 0;
}
