// Element-wise functions of digital nodes that a libm call per element made the slowest part of
// a ViT's pass: the exact GELU, `0.5 x (1 + erf(x / √2))`. Written once with vector extensions
// and compiled for AVX-512, AVX2 and baseline x86-64, the best chosen at run time; contraction
// off, so every version gives the same bits.
#include "cimcarlo_kernels.h"

#include "vector16.h"

#pragma clang fp contract(off)

/// e^x for x ≤ 0 (Cephes' expf: x = n ln 2 + r with ln 2 in two parts, a degree-5 polynomial
/// for e^r, then 2^n from the exponent bits); below −87 it returns 0.
INLINE f32x16 exp_nonpositive(f32x16 x) {
    i32x16 underflow = x < -87.0f;
    f32x16 shifted = x * 1.44269504088896341f + 12582912.0f;  // round to nearest by the 1.5·2²³ shift
    f32x16 n = shifted - 12582912.0f;
    f32x16 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    f32x16 p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    f32x16 e = p * (r * r) + r + 1.0f;
    i32x16 exponent = (bits(shifted) - 0x4B400000 + 127) << 23;
    return from_bits(bits(e * from_bits(exponent)) & ~underflow);
}

/// GELU of 16 values: with z = |x| / √2, erfc(z) = t e^(−z²) P(t), t = 1 / (1 + p z)
/// (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5 × 10⁻⁷, the form PyTorch's vectorised CPU GELU
/// uses), and 1 + erf(x / √2) = 2 − erfc(z) for x ≥ 0, erfc(z) for x < 0 — no cancellation
/// on the negative side.
INLINE f32x16 gelu16(f32x16 x) {
    f32x16 z = from_bits(bits(x) & 0x7FFFFFFF) * 0.70710678118654752f;
    f32x16 t = 1.0f / (1.0f + 0.3275911f * z);
    f32x16 p = splat(1.061405429f);
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    f32x16 complement = t * p * exp_nonpositive(-(z * z));
    f32x16 one_plus_erf = select_lanes(x < 0, complement, 2.0f - complement);
    return 0.5f * x * one_plus_erf;
}

INLINE void gelu_body(const float *input, float *output, int64_t count) {
    int64_t index = 0;
    for (; index + 16 <= count; index += 16) {
        f32x16 x;
        memcpy(&x, input + index, sizeof x);
        f32x16 y = gelu16(x);
        memcpy(output + index, &y, sizeof y);
    }
    if (index < count) {
        f32x16 x = splat(0);
        memcpy(&x, input + index, sizeof(float) * (size_t)(count - index));
        f32x16 y = gelu16(x);
        memcpy(output + index, &y, sizeof(float) * (size_t)(count - index));
    }
}

#define VERSION(suffix, isa)                                                                                    \
    __attribute__((target(isa))) static void gelu_##suffix(const float *input, float *output, int64_t count) { \
        gelu_body(input, output, count);                                                                       \
    }

VERSION(avx512, "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
VERSION(avx2, "avx2,fma")
VERSION(baseline, "sse2")

int32_t cimcarlo_gelu(int32_t version, const float *input, float *output, int64_t count) {
    static void (*const versions[])(const float *, float *, int64_t) = {gelu_baseline, gelu_avx2, gelu_avx512};
    if (version < 0) version = cimcarlo_best_isa();
    if (!cimcarlo_isa_available(version)) return 1;
    versions[version](input, output, count);
    return 0;
}
