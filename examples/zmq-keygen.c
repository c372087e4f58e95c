/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* zmq-keygen — print a CURVE key pair for zmqsink/zmqsrc.
 *
 * Output is two lines of shell assignments, so a deployment script can do
 *   eval "$(zmq-keygen)"
 * and keep $ZMQ_SECRET_KEY on the server, handing $ZMQ_PUBLIC_KEY to the
 * clients as their curve-server-key. */
#include <stdio.h>
#include <zmq.h>

int
main (void)
{
  char public_key[41], secret_key[41];

  if (!zmq_has ("curve")) {
    fprintf (stderr, "zmq-keygen: this libzmq has no CURVE support\n");
    return 1;
  }
  if (zmq_curve_keypair (public_key, secret_key) != 0) {
    fprintf (stderr, "zmq-keygen: zmq_curve_keypair: %s\n",
        zmq_strerror (zmq_errno ()));
    return 1;
  }
  printf ("ZMQ_PUBLIC_KEY='%s'\nZMQ_SECRET_KEY='%s'\n", public_key,
      secret_key);
  return 0;
}
