/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the activation our own kernels apply to a tile of outputs
 * before storing it (private; engine layer): the clamp of a fused
 * Relu/Clip, then optionally a hard-swish, k v min (max (v + 3, 0), 6)
 * (hswish_k != 0).  One definition, so that sn-gemm.c and sn-dwconv.c
 * round alike. */
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((always_inline, target ("avx2,fma")))
static inline __m256
sn_act_avx2 (__m256 v, __m256 lo, __m256 hi, float hswish_k)
{
  v = _mm256_min_ps (_mm256_max_ps (v, lo), hi);
  if (hswish_k != 0.0f) {
    __m256 t = _mm256_add_ps (v, _mm256_set1_ps (3.0f));
    t = _mm256_min_ps (_mm256_max_ps (t, _mm256_setzero_ps ()), _mm256_set1_ps (6.0f));
    v = _mm256_mul_ps (_mm256_mul_ps (v, _mm256_set1_ps (hswish_k)), t);
  }
  return v;
}
#endif
