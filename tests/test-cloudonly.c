/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cloud-only through the sessions, with the elements' GStreamer frame coder
 * (gst-plugins/gstsplitnnframecoder.c: x264enc, avdec_h264, jpegenc,
 * jpegdec).
 *
 * The oracle for detections is the unsplit detector on the same lossless
 * frames (sn_detector_run), scored with the fidelity metric (sn-eval.h,
 * checked against hand-computed cases in test-detect).  Keyframes are told
 * apart by reading the NAL unit types of the coded bytes here, not by the
 * session's own flag. */
#include <check.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-sanitizer.h"
#include "../gst-plugins/gstsplitnnframecoder.h"
#include "../tools/sn-frames.h"

#define N_FRAMES 8              /* report frames 400-407 of vtest.avi */

static GPtrArray *frames;
static int frame_w, frame_h;

static void
load_frames (void)
{
  if (frames)
    return;
  g_autofree char *path = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data",
      "vtest.avi", NULL);
  GError *err = NULL;
  SnFrames *fr = sn_frames_open (path, &err);
  ck_assert_msg (fr != NULL, "%s", err ? err->message : "");
  frames = g_ptr_array_new_with_free_func (g_free);
  SnFrame f;
  while (frames->len < N_FRAMES && sn_frames_next (fr, &f, &err)) {
    if (f.index < 400)
      continue;
    frame_w = f.width;
    frame_h = f.height;
    guint8 *rgb = g_malloc ((size_t) f.width * f.height * 3);
    for (int y = 0; y < f.height; y++)
      memcpy (rgb + (size_t) y * f.width * 3, f.rgb + (size_t) y * f.stride, (size_t) f.width * 3);
    g_ptr_array_add (frames, rgb);
  }
  ck_assert_msg (err == NULL, "%s", err ? err->message : "");
  sn_frames_close (fr);
  ck_assert_uint_eq (frames->len, N_FRAMES);
}

static SnImage
frame_image (int i)
{
  return (SnImage) { .format = SN_PIXEL_RGB, .width = frame_w, .height = frame_h,
    .planes = { frames->pdata[i] }, .strides = { frame_w * 3 } };
}

static SnModel *
load_model (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "models",
      "centernet-mobilenetv3-coco.onnx", NULL);
  GError *err = NULL;
  SnModel *m = sn_model_load (path, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  return m;
}

/* The coded picture's NAL unit types, read independently of the library:
 * bit i set when a unit of type i is present. */
static guint32
nal_types (const SnEdgePacket *pk)
{
  SnPacket p;
  ck_assert (sn_packet_parse (pk->data, pk->len, &p, NULL));
  const guint8 *d = p.tensors[0].payload;
  guint32 types = 0;
  for (guint32 i = 0; i + 3 < p.tensors[0].payload_len; i++)
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)
      types |= 1u << (d[i + 3] & 0x1f);
  return types;
}
#define IDR (1u << 5)
#define NON_IDR (1u << 1)

static SnLoopback *
cloud_only_loopback (SnModel *m)
{
  GError *err = NULL;
  SnLoopback *lb = sn_loopback_new (m, NULL, &err);
  ck_assert_msg (lb != NULL, "%s", err ? err->message : "");
  sn_edge_session_set_frame_coder (sn_loopback_edge (lb), gst_splitnn_frame_coder_funcs (), NULL);
  sn_cloud_session_set_frame_coder (sn_loopback_cloud (lb), gst_splitnn_frame_coder_funcs (), NULL);
  return lb;
}

/* H.264 at QP 20 and JPEG q90 give about the unsplit detector's boxes on
 * real frames (docs/evaluation.md: fidelity_ap50 near 98 on 395 frames);
 * H.264 codes every frame after the first as a predicted picture, much
 * smaller than the keyframe. */
static void
check_codec (SnFrameCodec codec, int quality, double min_ap)
{
  load_frames ();
  SnModel *m = load_model ();
  GError *err = NULL;
  SnDetector *det = sn_detector_new (m, &err);
  SnLoopback *lb = cloud_only_loopback (m);
  sn_detector_decode_params (det)->threshold = SN_EVAL_PRED_MIN_SCORE;
  sn_cloud_session_decode_params (sn_loopback_cloud (lb))->threshold = SN_EVAL_PRED_MIN_SCORE;
  SnOption opt = { .kind = SN_OPTION_CLOUD_ONLY, .frame_codec = codec, .quality = quality };
  SnEval *ev = sn_eval_new_fidelity ();
  SnDetections ref, got;
  sn_detections_init (&ref);
  sn_detections_init (&got);
  size_t first = 0, rest = 0;
  for (int i = 0; i < N_FRAMES; i++) {
    SnImage img = frame_image (i);
    ck_assert (sn_detector_run (det, &img, &ref, NULL, &err));
    SnEdgePacket pk;
    SnCloudFrame cf;
    ck_assert_msg (sn_loopback_process (lb, &opt, &img, 1000 + i, &got, &pk, &cf, &err),
        "frame %d: %s", i, err ? err->message : "");
    ck_assert_uint_eq (cf.kind, SN_OPTION_CLOUD_ONLY);
    ck_assert_ptr_null (cf.cut);
    ck_assert_uint_eq (cf.seq, i);
    ck_assert_uint_eq (cf.pts, 1000 + i);
    /* Boxes come back in source pixels: the letterbox crossed. */
    ck_assert_int_eq (cf.letterbox.src_width, frame_w);
    if (codec == SN_FRAME_CODEC_H264) {
      guint32 t = nal_types (&pk);
      ck_assert_msg (i == 0 ? (t & IDR) != 0 : (t & IDR) == 0 && (t & NON_IDR) != 0,
          "frame %d: NAL types 0x%x", i, t);
      ck_assert_int_eq (pk.intra, i == 0);
    }
    if (i == 0)
      first = pk.len;
    else
      rest += pk.len;
    sn_eval_add_frame (ev, &got, &ref);
  }
  double ap = sn_eval_ap50 (ev);
  fprintf (stderr, "cloud-only %s %d: first packet %zu bytes, then %.0f bytes/frame; "
      "fidelity_ap50 %.2f against the unsplit detector on %d frames\n",
      sn_frame_codec_name (codec), quality, first, (double) rest / (N_FRAMES - 1), ap, N_FRAMES);
  ck_assert_msg (ap >= min_ap, "fidelity_ap50 %.2f", ap);
  if (codec == SN_FRAME_CODEC_H264)
    ck_assert_msg (rest / (N_FRAMES - 1) * 3 < first, "predicted pictures %zu bytes, keyframe %zu",
        rest / (N_FRAMES - 1), first);
  SnCloudStats st;
  sn_cloud_session_get_stats (sn_loopback_cloud (lb), &st);
  ck_assert_uint_eq (st.packets, N_FRAMES);
  ck_assert_uint_eq (st.bad_packets + st.refused + st.lost, 0);
  sn_eval_free (ev);
  sn_detections_clear (&ref);
  sn_detections_clear (&got);
  sn_loopback_free (lb);
  sn_detector_free (det);
  sn_model_free (m);
}

START_TEST (test_h264_close_to_unsplit)
{
  check_codec (SN_FRAME_CODEC_H264, 20, 90);
}
END_TEST

START_TEST (test_jpeg_close_to_unsplit)
{
  check_codec (SN_FRAME_CODEC_JPEG, 90, 90);
}
END_TEST

static gboolean
deliver (SnCloudSession *cloud, const SnEdgePacket *pk, SnDetections *dets, GError **err)
{
  SnCloudFrame f;
  g_clear_error (err);
  return sn_cloud_session_process (cloud, pk->data, pk->len, SN_SESSION_NOW, &f, dets, err);
}

/* A lost packet: the next predicted picture is refused (not decoded against
 * the wrong reference) and counted; the edge, asked for a refresh, sends a
 * keyframe at once, which the cloud decodes.  A gap the edge itself makes
 * (a dropped frame's number) gets a keyframe unasked. */
START_TEST (test_loss_forces_keyframe)
{
  load_frames ();
  SnModel *m = load_model ();
  SnLoopback *lb = cloud_only_loopback (m);
  SnEdgeSession *edge = sn_loopback_edge (lb);
  SnCloudSession *cloud = sn_loopback_cloud (lb);
  SnOption opt = { .kind = SN_OPTION_CLOUD_ONLY, .frame_codec = SN_FRAME_CODEC_H264 };
  GError *err = NULL;
  SnDetections got;
  sn_detections_init (&got);
  SnEdgePacket pk;
  SnImage img;
  for (int i = 0; i < 3; i++) {
    img = frame_image (i);
    ck_assert (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err));
    if (i == 0)                 /* packet 1 is lost, 2 comes below */
      ck_assert_msg (deliver (cloud, &pk, &got, &err), "frame %d: %s", i, err ? err->message : "");
  }
  /* Packet 2 came without its reference. */
  ck_assert (!(nal_types (&pk) & IDR));
  ck_assert (!deliver (cloud, &pk, &got, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_NO_REFERENCE));
  SnCloudStats st;
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.refused, 1);
  ck_assert_uint_eq (st.lost, 1);
  ck_assert_uint_eq (st.packets, 1);
  /* Still refused until a keyframe. */
  img = frame_image (3);
  ck_assert (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err));
  ck_assert (!deliver (cloud, &pk, &got, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_NO_REFERENCE));
  sn_edge_session_request_refresh (edge);
  img = frame_image (4);
  ck_assert (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err));
  ck_assert_msg (nal_types (&pk) & IDR, "the refresh did not give a keyframe");
  ck_assert (pk.intra);
  ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
  ck_assert_int_gt (got.n, 0);
  img = frame_image (5);
  ck_assert (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err));
  ck_assert (!(nal_types (&pk) & IDR));
  ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
  /* The edge skips a number (a frame it dropped): a keyframe, unasked. */
  sn_edge_session_set_stream (edge, 0, sn_edge_session_next_seq (edge) + 1);
  img = frame_image (6);
  ck_assert (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err));
  ck_assert (nal_types (&pk) & IDR);
  ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.refused, 2);
  ck_assert_uint_eq (st.packets, 4);
  ck_assert_uint_eq (st.bad_packets, 0);
  sn_detections_clear (&got);
  sn_loopback_free (lb);
  sn_model_free (m);
}
END_TEST

/* A copy of packet pk with its coded picture replaced by bytes (the CRC
 * made right, so that the picture itself is what gets judged). */
static GByteArray *
with_picture (const SnEdgePacket *pk, const guint8 *bytes, guint32 len, int width)
{
  SnPacket p;
  ck_assert (sn_packet_parse (pk->data, pk->len, &p, NULL));
  p.tensors[0].payload = bytes;
  p.tensors[0].payload_len = len;
  if (width)
    p.tensors[0].shape.dims[2] = width;
  GByteArray *out = g_byte_array_new ();
  sn_packet_write (&p, out);
  return out;
}

/* Bad or foreign coded data on one stream is refused, counted, and hurts no
 * other stream: stream 2's predicted pictures keep decoding, and stream 1
 * goes on too, its decoder untouched by bytes that never reached it. */
START_TEST (test_bad_pictures_per_stream)
{
  load_frames ();
  SnModel *m = load_model ();
  GError *err = NULL;
  SnLoopback *lb = cloud_only_loopback (m);
  SnEdgeSession *e1 = sn_loopback_edge (lb);
  SnCloudSession *cloud = sn_loopback_cloud (lb);
  SnEdgeSession *e2 = sn_edge_session_new (m, sn_edge_session_cuts (e1), &err);
  ck_assert (e2);
  sn_edge_session_set_frame_coder (e2, gst_splitnn_frame_coder_funcs (), NULL);
  sn_edge_session_set_stream (e1, 1, 0);
  sn_edge_session_set_stream (e2, 2, 0);
  SnOption opt = { .kind = SN_OPTION_CLOUD_ONLY, .frame_codec = SN_FRAME_CODEC_H264 };
  SnDetections got;
  sn_detections_init (&got);
  SnEdgePacket pk;
  for (int i = 0; i < 2; i++) {
    SnImage img = frame_image (i);
    ck_assert (sn_edge_session_process (e1, &opt, &img, SN_PTS_NONE, &pk, &err));
    ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
    ck_assert (sn_edge_session_process (e2, &opt, &img, SN_PTS_NONE, &pk, &err));
    ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
  }
  /* Stream 1's next packet, three ways wrong. */
  SnImage img = frame_image (2);
  ck_assert (sn_edge_session_process (e1, &opt, &img, SN_PTS_NONE, &pk, &err));
  static const guint8 noise[] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3 };
  static const guint8 jpeg_in_h264[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0xff, 0xd9 };
  SnPacket p;
  ck_assert (sn_packet_parse (pk.data, pk.len, &p, NULL));
  g_autoptr (GByteArray) bad1 = with_picture (&pk, noise, sizeof noise, 0);
  g_autoptr (GByteArray) bad2 = with_picture (&pk, jpeg_in_h264, sizeof jpeg_in_h264, 0);
  /* A picture of another size than the model's input. */
  g_autoptr (GByteArray) bad3 = with_picture (&pk, p.tensors[0].payload, p.tensors[0].payload_len, 320);
  GByteArray *bad[] = { bad1, bad2, bad3 };
  SnCloudFrame f;
  for (size_t k = 0; k < G_N_ELEMENTS (bad); k++) {
    g_clear_error (&err);
    ck_assert (!sn_cloud_session_process (cloud, bad[k]->data, bad[k]->len, SN_SESSION_NOW, &f,
            &got, &err));
    ck_assert_msg (g_error_matches (err, SN_ERROR, SN_ERROR_CORRUPT_PACKET), "bad %zu: %s", k,
        err ? err->message : "");
    fprintf (stderr, "refused: %s\n", err->message);
  }
  /* The real packet 2 of stream 1 still decodes (nothing reached its
   * decoder); stream 2 goes on. */
  ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
  ck_assert_int_gt (got.n, 0);
  ck_assert (sn_edge_session_process (e2, &opt, &img, SN_PTS_NONE, &pk, &err));
  ck_assert (!(nal_types (&pk) & IDR));
  ck_assert_msg (deliver (cloud, &pk, &got, &err), "%s", err ? err->message : "");
  SnCloudStats st;
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.bad_packets, 3);
  ck_assert_uint_eq (st.packets, 6);
  ck_assert_uint_eq (st.refused + st.lost, 0);
  /* A cloud without a frame coder refuses cloud-only packets, counted. */
  SnCloudSession *plain = sn_cloud_session_new (m, NULL, &err);
  g_clear_error (&err);
  ck_assert (!deliver (plain, &pk, &got, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_UNSUPPORTED));
  sn_cloud_session_get_stats (plain, &st);
  ck_assert_uint_eq (st.bad_packets, 1);
  sn_cloud_session_free (plain);
  g_clear_error (&err);
  sn_detections_clear (&got);
  sn_edge_session_free (e2);
  sn_loopback_free (lb);
  sn_model_free (m);
}
END_TEST

/* The parser takes a frame codec only in a cloud-only packet, and a
 * cloud-only packet only with a frame codec. */
START_TEST (test_packet_frame_codec_rules)
{
  guint8 payload[] = { 0, 0, 0, 1, 0x65, 0x88 };
  SnPacket p;
  memset (&p, 0, sizeof p);
  p.frame_width = p.frame_height = 16;
  p.scale_x = p.scale_y = 1;
  p.cut_id = SN_CUT_ID_CLOUD_ONLY;
  g_strlcpy (p.cut_name, "cloud-only", sizeof p.cut_name);
  p.n_tensors = 1;
  SnPacketTensor *t = &p.tensors[0];
  g_strlcpy (t->name, "frame", sizeof t->name);
  t->shape = (SnShape) { .rank = 4, .dims = { 1, 16, 16, 3 } };
  t->bits = 8;
  t->codec = (SnCodec) SN_PACKET_CODEC_FRAME;
  t->payload = payload;
  t->payload_len = sizeof payload;
  g_autoptr (GByteArray) b = g_byte_array_new ();
  SnPacket q;
  sn_packet_write (&p, b);
  ck_assert (sn_packet_parse (b->data, b->len, &q, NULL));
  ck_assert_uint_eq (q.tensors[0].payload_len, sizeof payload);
  p.cut_id = 3;                 /* a frame codec at a feature cut */
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, NULL));
  p.cut_id = SN_CUT_ID_CLOUD_ONLY;
  t->codec = SN_CODEC_LOSSLESS; /* a feature codec in a cloud-only packet */
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, NULL));
  t->codec = (SnCodec) (SN_PACKET_CODEC_FRAME + SN_PACKET_N_FRAME_CODECS);   /* unknown */
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, NULL));
  t->codec = (SnCodec) SN_PACKET_CODEC_FRAME;
  t->shape.dims[3] = 4;         /* not RGB */
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, NULL));
}
END_TEST

/* ---- The elements ----------------------------------------------------------- */

#define EL_FRAMES 7

static gboolean
drop_seq_2 (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  return GST_BUFFER_OFFSET (GST_PAD_PROBE_INFO_BUFFER (info)) == 2 ? GST_PAD_PROBE_DROP
      : GST_PAD_PROBE_OK;
}

/* splitnnedge cut=cloud-only codec=h264 ! (packet 2 lost) ! splitnncloud:
 * the results are close to the unsplit detector on the same frames (the
 * oracle, in this process); the predicted picture after the loss is
 * refused, the cloud's splitnn-refresh makes the edge's next frame a
 * keyframe, and everything after it comes out. */
START_TEST (test_elements_h264_with_loss)
{
  g_autofree char *model = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "models",
      "centernet-mobilenetv3-coco.onnx", NULL);
  g_autofree char *video = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data",
      "vtest.avi", NULL);
  g_autofree char *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! tee name=t ! queue max-size-buffers=0 max-size-bytes=0 "
      "max-size-time=0 ! appsink name=frames sync=false "
      "t. ! queue ! splitnnedge name=edge model=%s cut=cloud-only codec=h264 quality=20 "
      "stream-id=5 ! identity name=link ! splitnncloud name=cloud model=%s format=binary "
      "threshold=0.05 ! appsink name=sink sync=false", video, model, model);
  GError *err = NULL;
  GstElement *p = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  ck_assert_msg (p != NULL, "%s", err ? err->message : "");
  GstElement *link = gst_bin_get_by_name (GST_BIN (p), "link");
  GstPad *lp = gst_element_get_static_pad (link, "sink");
  gst_pad_add_probe (lp, GST_PAD_PROBE_TYPE_BUFFER, (GstPadProbeCallback) drop_seq_2, NULL, NULL);
  gst_object_unref (lp);
  gst_object_unref (link);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  GstAppSink *fsink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "frames"));
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  SnModel *m = load_model ();
  SnDetector *det = sn_detector_new (m, &err);
  sn_detector_decode_params (det)->threshold = SN_EVAL_PRED_MIN_SCORE;
  SnEval *ev = sn_eval_new_fidelity ();
  SnDetections ref, got;
  sn_detections_init (&ref);
  sn_detections_init (&got);
  /* Results for frames 0, 1, then 4 on: 2 was lost, 3 refused. */
  static const guint64 want_seq[EL_FRAMES - 2] = { 0, 1, 4, 5, 6 };
  int next_frame = 0;
  for (int k = 0; k < EL_FRAMES - 2; k++) {
    GstSample *smp = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
    ck_assert_msg (smp != NULL, "result %d did not come out", k);
    GstMapInfo map;
    GstBuffer *b = gst_sample_get_buffer (smp);
    ck_assert (gst_buffer_map (b, &map, GST_MAP_READ));
    SnResultHeader h;
    ck_assert_msg (sn_result_parse (map.data, map.size, &h, &got, &err), "%s",
        err ? err->message : "");
    gst_buffer_unmap (b, &map);
    gst_sample_unref (smp);
    ck_assert_uint_eq (h.seq, want_seq[k]);
    ck_assert_uint_eq (h.stream_id, 5);
    ck_assert_uint_eq (h.cut_id, SN_CUT_ID_CLOUD_ONLY);
    /* The oracle: the unsplit detector on the same decoded frame. */
    for (; next_frame <= (int) h.seq; next_frame++) {
      GstSample *fs = gst_app_sink_try_pull_sample (fsink, 60 * GST_SECOND);
      ck_assert (fs != NULL);
      if (next_frame == (int) h.seq) {
        GstVideoInfo vi;
        GstVideoFrame vf;
        ck_assert (gst_video_info_from_caps (&vi, gst_sample_get_caps (fs)));
        ck_assert (gst_video_frame_map (&vf, &vi, gst_sample_get_buffer (fs), GST_MAP_READ));
        SnImage img = { .format = SN_PIXEL_RGB, .width = GST_VIDEO_FRAME_WIDTH (&vf),
          .height = GST_VIDEO_FRAME_HEIGHT (&vf), .planes = { GST_VIDEO_FRAME_PLANE_DATA (&vf, 0) },
          .strides = { GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0) } };
        ck_assert (sn_detector_run (det, &img, &ref, NULL, &err));
        gst_video_frame_unmap (&vf);
        sn_eval_add_frame (ev, &got, &ref);
      }
      gst_sample_unref (fs);
    }
  }
  double ap = sn_eval_ap50 (ev);
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  GstElement *cloud = gst_bin_get_by_name (GST_BIN (p), "cloud");
  guint64 refused, bad;
  g_autofree char *current = NULL;
  g_object_get (cloud, "refused", &refused, "bad-packets", &bad, NULL);
  g_object_get (edge, "current-cut", &current, NULL);
  gst_element_set_state (p, GST_STATE_NULL);
  fprintf (stderr, "elements, cloud-only h264 qp20: fidelity_ap50 %.2f on %d frames, %"
      G_GUINT64_FORMAT " refused\n", ap, EL_FRAMES - 2, refused);
  ck_assert_msg (ap >= 90, "fidelity_ap50 %.2f", ap);
  ck_assert_uint_eq (refused, 1);
  ck_assert_uint_eq (bad, 0);
  ck_assert_str_eq (current, "cloud-only");
  gst_object_unref (edge);
  gst_object_unref (cloud);
  gst_object_unref (sink);
  gst_object_unref (fsink);
  gst_object_unref (p);
  sn_eval_free (ev);
  sn_detections_clear (&ref);
  sn_detections_clear (&got);
  sn_detector_free (det);
  sn_model_free (m);
}
END_TEST

/* Settings that do not go together stop the element at READY, named. */
START_TEST (test_elements_bad_settings)
{
  g_autofree char *model = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "models",
      "centernet-mobilenetv3-coco.onnx", NULL);
  static const char *const bad[] = { "cut=cloud-only codec=lossless", "cut=4 codec=h264",
    "cut=cloud-only codec=h264 quality=60", "cut=cloud-only codec=jpeg frame-encoder=nosuchenc" };
  for (size_t k = 0; k < G_N_ELEMENTS (bad); k++) {
    g_autofree char *desc = g_strdup_printf ("videotestsrc num-buffers=2 ! "
        "video/x-raw,format=RGB,width=64,height=48 ! splitnnedge model=%s %s max-errors=0 ! fakesink",
        model, bad[k]);
    GstElement *p = gst_parse_launch (desc, NULL);
    ck_assert (p);
    gst_element_set_state (p, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus (p);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    ck_assert_msg (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "%s: no error", bad[k]);
    GError *e = NULL;
    gst_message_parse_error (msg, &e, NULL);
    fprintf (stderr, "%s: %s\n", bad[k], e->message);
    g_error_free (e);
    gst_message_unref (msg);
    gst_object_unref (bus);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
  }
}
END_TEST

/* cut=auto ranks the baselines too: on a 20 kbit/s link only edge-only's
 * few hundred bytes fit (287 B: 115 ms; the smallest other option, H.264
 * at QP 32, 1,787 B: 715 ms; a feature cut tens of kB), so the first
 * decision is edge-only, said on the bus with the planner's explanation,
 * and the cloud passes its detections on. */
START_TEST (test_elements_auto_picks_edge_only)
{
  g_autofree char *model = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "models",
      "centernet-mobilenetv3-coco.onnx", NULL);
  g_autofree char *video = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data",
      "vtest.avi", NULL);
  g_autofree char *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! splitnnedge name=edge model=%s cut=auto bandwidth=20000 ! "
      "splitnncloud model=%s format=binary ! appsink name=sink sync=false", video, model, model);
  GstElement *p = gst_parse_launch (desc, NULL);
  ck_assert (p);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  GstBus *bus = gst_element_get_bus (p);
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  SnDetections got;
  sn_detections_init (&got);
  GError *err = NULL;
  for (int k = 0; k < 3; k++) {
    GstSample *smp = gst_app_sink_try_pull_sample (sink, 120 * GST_SECOND);
    ck_assert_msg (smp != NULL, "result %d did not come out", k);
    GstMapInfo map;
    SnResultHeader h;
    ck_assert (gst_buffer_map (gst_sample_get_buffer (smp), &map, GST_MAP_READ));
    ck_assert_msg (sn_result_parse (map.data, map.size, &h, &got, &err), "%s", err ? err->message : "");
    gst_buffer_unmap (gst_sample_get_buffer (smp), &map);
    gst_sample_unref (smp);
    ck_assert_uint_eq (h.cut_id, SN_CUT_ID_EDGE_ONLY);
    ck_assert_int_gt (got.n, 0);
  }
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  const GstStructure *st = NULL;
  while (m && !gst_structure_has_name ((st = gst_message_get_structure (m)), "splitnn-cut-changed")) {
    gst_message_unref (m);
    m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  }
  ck_assert_msg (m != NULL, "no splitnn-cut-changed message");
  ck_assert_str_eq (gst_structure_get_string (st, "new-cut-name"), "edge-only");
  int cut;
  ck_assert (gst_structure_get_int (st, "new-cut", &cut));
  ck_assert_int_eq (cut, -1);
  const char *why = gst_structure_get_string (st, "explanation");
  fprintf (stderr, "cut=auto at 20 kbit/s: %s\n", why);
  ck_assert (why && g_str_has_prefix (why, "edge-only"));
  gst_message_unref (m);
  gst_element_set_state (p, GST_STATE_NULL);
  sn_detections_clear (&got);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (p);
}
END_TEST

static Suite *
cloudonly_suite (void)
{
  Suite *s = suite_create ("cloudonly");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_packet_frame_codec_rules);
  tcase_add_test (tc, test_h264_close_to_unsplit);
  tcase_add_test (tc, test_jpeg_close_to_unsplit);
  tcase_add_test (tc, test_loss_forces_keyframe);
  tcase_add_test (tc, test_bad_pictures_per_stream);
  tcase_add_test (tc, test_elements_h264_with_loss);
  tcase_add_test (tc, test_elements_bad_settings);
  tcase_add_test (tc, test_elements_auto_picks_edge_only);
  suite_add_tcase (s, tc);
  return s;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  SRunner *sr = srunner_create (cloudonly_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  /* The leaks tracer (the cloudonly-leaks test) reports here. */
  gst_deinit ();
  return failed ? 1 : 0;
}
