/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Malformed-message flood for bench/soak: connects a PUSH socket to a
 * zmqsrc endpoint and sends N messages that are not valid zmqsink frames
 * (random bytes of random lengths, single- and multi-part, some starting
 * like a header), as fast as ZeroMQ takes them, then waits for them to
 * leave.  Written in C because the bench needs no Python ZeroMQ binding.
 *
 * soak-flood ENDPOINT N [SEED] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int
main (int argc, char **argv)
{
  if (argc < 3) {
    fprintf (stderr, "usage: soak-flood ENDPOINT N [SEED]\n");
    return 2;
  }
  int n = atoi (argv[2]);
  GRand *r = g_rand_new_with_seed (argc > 3 ? (guint32) atoi (argv[3]) : 1);
  void *ctx = zmq_ctx_new ();
  void *s = zmq_socket (ctx, ZMQ_PUSH);
  int linger = 5000, hwm = 100000;
  zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt (s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  if (zmq_connect (s, argv[1]) != 0) {
    fprintf (stderr, "soak-flood: cannot connect to %s: %s\n", argv[1], zmq_strerror (zmq_errno ()));
    return 1;
  }
  guint8 buf[4096];
  int sent = 0;
  for (int i = 0; i < n; i++) {
    int parts = g_rand_int_range (r, 1, 4);
    for (int p = 0; p < parts; p++) {
      int len = g_rand_int_range (r, 0, sizeof buf);
      for (int k = 0; k < len; k++)
        buf[k] = (guint8) g_rand_int (r);
      if (len >= 4 && i % 3 == 0)
        buf[0] = 'S', buf[1] = 'N';         /* looks like it might be a header */
      if (zmq_send (s, buf, len, p + 1 < parts ? ZMQ_SNDMORE : 0) < 0) {
        fprintf (stderr, "soak-flood: send failed: %s\n", zmq_strerror (zmq_errno ()));
        return 1;
      }
    }
    sent++;
  }
  zmq_close (s);
  zmq_ctx_term (ctx);           /* waits up to linger for the queue to drain */
  g_rand_free (r);
  printf ("%d\n", sent);
  return 0;
}
