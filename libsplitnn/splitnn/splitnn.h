/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — split (edge–cloud) DNN inference.  Include this one header. */
#pragma once

#include <splitnn/sn-error.h>
#include <splitnn/sn-tensor.h>
#include <splitnn/sn-model.h>
#include <splitnn/sn-cut.h>
#include <splitnn/sn-planner.h>
#include <splitnn/sn-controller.h>
#include <splitnn/sn-linkest.h>
#include <splitnn/sn-image.h>
#include <splitnn/sn-detect.h>
#include <splitnn/sn-detector.h>
#include <splitnn/sn-eval.h>
#include <splitnn/sn-draw.h>
#include <splitnn/sn-quant.h>
#include <splitnn/sn-codec.h>
#include <splitnn/sn-packet.h>
#include <splitnn/sn-result.h>
#include <splitnn/sn-feature.h>
#include <splitnn/sn-path.h>
#include <splitnn/sn-calib.h>
#include <splitnn/sn-fidelity.h>
#include <splitnn/sn-option.h>
#include <splitnn/sn-session.h>
#include <splitnn/sn-capacity.h>
#include <splitnn/sn-fcodec.h>
#include <splitnn/sn-workers.h>
