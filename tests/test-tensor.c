/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tensors, shapes, and half-precision conversion. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>

START_TEST (test_half_roundtrip_exhaustive)
{
  /* Every finite half must survive half -> float -> half unchanged. */
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
      continue;                 /* NaN payloads are not preserved bit-exactly */
    float f = sn_half_to_float ((uint16_t) h);
    ck_assert_uint_eq (sn_float_to_half (f), h);
  }
}
END_TEST

START_TEST (test_half_known_values)
{
  ck_assert_float_eq (sn_half_to_float (0x3c00), 1.0f);
  ck_assert_float_eq (sn_half_to_float (0xc000), -2.0f);
  ck_assert_float_eq (sn_half_to_float (0x7bff), 65504.0f);
  ck_assert_float_eq (sn_half_to_float (0x0001), ldexpf (1.0f, -24));
  ck_assert (isinf (sn_half_to_float (0x7c00)));
  /* Ties round to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10. */
  ck_assert_uint_eq (sn_float_to_half (1.0f + ldexpf (1.0f, -11)), 0x3c00);
  ck_assert_uint_eq (sn_float_to_half (1e6f), 0x7c00);
}
END_TEST

START_TEST (test_shape_helpers)
{
  int64_t d[] = { 1, 3, 224, 224 };
  SnShape s = sn_shape_make (4, d);
  char buf[64];
  ck_assert_str_eq (sn_shape_format (&s, buf, sizeof buf), "1x3x224x224");
  ck_assert_int_eq (sn_shape_numel (&s), 3 * 224 * 224);
  SnTensor *t = sn_tensor_new (SN_DTYPE_FLOAT16, &s);
  ck_assert_uint_eq (sn_tensor_nbytes (t), 2u * 3 * 224 * 224);
  ck_assert_uint_eq ((uintptr_t) t->data % 64, 0);
  sn_tensor_free (t);
}
END_TEST

static Suite *
tensor_suite (void)
{
  Suite *s = suite_create ("tensor");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_half_roundtrip_exhaustive);
  tcase_add_test (tc, test_half_known_values);
  tcase_add_test (tc, test_shape_helpers);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (tensor_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
