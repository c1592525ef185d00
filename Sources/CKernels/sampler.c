// cimcarlo's draws (CounterRandom): Philox-4x32-10 counters, 23-bit uniforms in (0, 1), and
// Box–Muller normals with polynomial log, square root and sine/cosine of turns — written once
// with vector extensions (8 lanes, as the draw layout groups them) and compiled three times:
// for AVX-512, for AVX2 and for baseline x86-64, the best chosen at run time. Floating-point
// contraction is off, so every lane rounds exactly as the definition in the README says,
// whichever version runs.
#include "cimcarlo_kernels.h"

#include <string.h>

#pragma clang fp contract(off)
// The vector helpers are always inlined into the versions with their target; no ABI crosses.
#pragma clang diagnostic ignored "-Wpsabi"

typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef uint64_t u64x8 __attribute__((vector_size(64)));
typedef float f32x8 __attribute__((vector_size(32)));

#define INLINE static inline __attribute__((always_inline))

INLINE f32x8 as_float(i32x8 x) {
    f32x8 y;
    memcpy(&y, &x, sizeof y);
    return y;
}
INLINE i32x8 as_int(f32x8 x) {
    i32x8 y;
    memcpy(&y, &x, sizeof y);
    return y;
}
INLINE f32x8 splat(float x) { return (f32x8){x, x, x, x, x, x, x, x}; }

typedef struct {
    u32x8 w0, w1, w2, w3;
} words;

/// Philox-4x32-10 (Salmon et al., SC 2011) of the 128-bit counters (c0, c1, c2, c3) under (k0, k1).
INLINE words philox_rounds(u32x8 c0, u32x8 c1, u32x8 c2, u32x8 c3, uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u64x8 product0 = __builtin_convertvector(c0, u64x8) * 0xD2511F53ull;
        u64x8 product1 = __builtin_convertvector(c2, u64x8) * 0xCD9E8D57ull;
        u32x8 high0 = __builtin_convertvector(product0 >> 32, u32x8);
        u32x8 high1 = __builtin_convertvector(product1 >> 32, u32x8);
        c0 = high1 ^ c1 ^ k0;
        c1 = __builtin_convertvector(product1, u32x8);
        c2 = high0 ^ c3 ^ k1;
        c3 = __builtin_convertvector(product0, u32x8);
    }
    return (words){c0, c1, c2, c3};
}

/// The blocks whose counters are the 64-bit `blocks` (words 2 and 3 zero): cimcarlo's draws.
INLINE words philox(u64x8 blocks, uint32_t k0, uint32_t k1) {
    return philox_rounds(
        __builtin_convertvector(blocks, u32x8), __builtin_convertvector(blocks >> 32, u32x8), (u32x8){0}, (u32x8){0},
        k0, k1);
}

INLINE f32x8 open_unit(u32x8 word) {
    return as_float((i32x8)((word >> 9) | 0x3F800000u)) - splat(1.0f - 0x1.0p-24f);
}

INLINE f32x8 int_to_float(i32x8 n) { return as_float(n + 0x4B400000) - splat(12582912.0f); }

INLINE f32x8 vector_sqrt(f32x8 x) {
    f32x8 y = as_float(0x5F375A86 - (as_int(x) >> 1));
    f32x8 half = x * 0.5f;
    y = y * (1.5f - half * y * y);
    y = y * (1.5f - half * y * y);
    y = y * (1.5f - half * y * y);
    return x * y;
}

INLINE f32x8 vector_log(f32x8 x) {
    i32x8 bits = as_int(x);
    i32x8 mantissa_bits = (bits & 0x007FFFFF) | 0x3F000000;
    i32x8 small = (mantissa_bits - 0x3F3504F3) >> 31;
    f32x8 exponent = int_to_float((bits >> 23) - 126 + small);
    f32x8 mantissa = as_float(mantissa_bits + (small & 0x00800000)) - 1.0f;
    f32x8 z = mantissa * mantissa;
    f32x8 y = splat(7.0376836292e-2f);
    y = y * mantissa - 1.1514610310e-1f;
    y = y * mantissa + 1.1676998740e-1f;
    y = y * mantissa - 1.2420140846e-1f;
    y = y * mantissa + 1.4249322787e-1f;
    y = y * mantissa - 1.6668057665e-1f;
    y = y * mantissa + 2.0000714765e-1f;
    y = y * mantissa - 2.4999993993e-1f;
    y = y * mantissa + 3.3333331174e-1f;
    y = y * mantissa * z;
    y = y + exponent * -2.12194440e-4f;
    y = y - 0.5f * z;
    return mantissa + y + exponent * 0.693359375f;
}

INLINE void cos_sin_turns(f32x8 t, f32x8 *cosine, f32x8 *sine) {
    f32x8 shifted = t * 4.0f + 12582912.0f;
    f32x8 quarter = shifted - 12582912.0f;
    i32x8 quarter_integer = as_int(shifted) - 0x4B400000;
    f32x8 a = (t - quarter * 0.25f) * 6.283185307179586f;
    f32x8 a2 = a * a;
    f32x8 s = splat(-1.9515295891e-4f);
    s = s * a2 + 8.3321608736e-3f;
    s = s * a2 - 1.6666654611e-1f;
    s = s * a2 * a + a;
    f32x8 c = splat(2.443315711809948e-5f);
    c = c * a2 - 1.388731625493765e-3f;
    c = c * a2 + 4.166664568298827e-2f;
    c = c * a2 * a2 - 0.5f * a2 + 1.0f;
    u32x8 q = (u32x8)quarter_integer;
    u32x8 swap = (u32x8){0} - (q & 1);
    u32x8 c_bits = (u32x8)as_int(c), s_bits = (u32x8)as_int(s);
    u32x8 exchanged = (c_bits ^ s_bits) & swap;
    *cosine = as_float((i32x8)((c_bits ^ exchanged) ^ (((q + 1) & 2) << 30)));
    *sine = as_float((i32x8)((s_bits ^ exchanged) ^ ((q & 2) << 30)));
}

typedef struct {
    f32x8 v0, v1, v2, v3;
} draws;

/// The draws of the four words: uniforms, or two Box–Muller pairs (0, 1) and (2, 3).
INLINE draws make_draws(words w, int normal) {
    f32x8 u0 = open_unit(w.w0), u1 = open_unit(w.w1), u2 = open_unit(w.w2), u3 = open_unit(w.w3);
    if (!normal) return (draws){u0, u1, u2, u3};
    f32x8 radius0 = vector_sqrt(-2.0f * vector_log(u0));
    f32x8 radius1 = vector_sqrt(-2.0f * vector_log(u2));
    f32x8 cos0, sin0, cos1, sin1;
    cos_sin_turns(u1, &cos0, &sin0);
    cos_sin_turns(u3, &cos1, &sin1);
    return (draws){radius0 * cos0, radius0 * sin0, radius1 * cos1, radius1 * sin1};
}

INLINE float lane(draws d, int64_t counter) {
    int word = (int)((counter >> 3) & 3), index = (int)(counter & 7);
    f32x8 v = word == 0 ? d.v0 : word == 1 ? d.v1 : word == 2 ? d.v2 : d.v3;
    return v[index];
}

INLINE void fill_body(uint64_t key, int64_t first, float *out, int64_t count, int normal) {
    if (count <= 0) return;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    int64_t end = first + count;
    for (int64_t group = first >> 5; group <= (end - 1) >> 5; group++) {
        uint64_t base = (uint64_t)group * 8;
        u64x8 blocks = (u64x8){base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7};
        draws d = make_draws(philox(blocks, k0, k1), normal);
        int64_t start = group << 5;
        if (start >= first && start + 32 <= end) {
            float *destination = out + (start - first);
            memcpy(destination, &d.v0, 32);
            memcpy(destination + 8, &d.v1, 32);
            memcpy(destination + 16, &d.v2, 32);
            memcpy(destination + 24, &d.v3, 32);
            continue;
        }
        int64_t from = start > first ? start : first, to = start + 32 < end ? start + 32 : end;
        for (int64_t counter = from; counter < to; counter++) out[counter - first] = lane(d, counter);
    }
}

INLINE void normals_at_body(uint64_t key, const int64_t *counters, float *out, int64_t count) {
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int64_t start = 0; start < count; start += 8) {
        int64_t lanes = count - start < 8 ? count - start : 8;
        u64x8 counter = (u64x8){0};
        if (lanes == 8) {
            memcpy(&counter, counters + start, sizeof counter);
        } else {
            for (int64_t index = 0; index < lanes; index++) counter[index] = (uint64_t)counters[start + index];
        }
        u64x8 blocks = (counter >> 5) * 8 + (counter & 7);
        i32x8 word = __builtin_convertvector((counter >> 3) & 3, i32x8);
        // Each lane needs one normal of its block: of the Box–Muller pair (0, 1) or (2, 3),
        // the radius of the pair's first uniform and the cosine (even word) or sine (odd) of its
        // second — the same operations, lane by lane, as make_draws.
        words w = philox(blocks, k0, k1);
        i32x8 second_pair = (word >> 1) != 0, odd = (word & 1) != 0;
        f32x8 radius_uniform = open_unit((u32x8)(((i32x8)w.w2 & second_pair) | ((i32x8)w.w0 & ~second_pair)));
        f32x8 angle_uniform = open_unit((u32x8)(((i32x8)w.w3 & second_pair) | ((i32x8)w.w1 & ~second_pair)));
        f32x8 radius = vector_sqrt(-2.0f * vector_log(radius_uniform));
        f32x8 cosine, sine;
        cos_sin_turns(angle_uniform, &cosine, &sine);
        f32x8 normal = radius * as_float((as_int(sine) & odd) | (as_int(cosine) & ~odd));
        if (lanes == 8) {
            memcpy(out + start, &normal, sizeof normal);
        } else {
            for (int64_t index = 0; index < lanes; index++) out[start + index] = normal[index];
        }
    }
}

#define VERSION(suffix, isa)                                                                                   \
    __attribute__((target(isa))) static void fill_##suffix(                                                   \
        uint64_t key, int64_t first, float *out, int64_t count, int normal) {                                     \
        fill_body(key, first, out, count, normal);                                                                \
    }                                                                                                             \
    __attribute__((target(isa))) static void normals_at_##suffix(                                             \
        uint64_t key, const int64_t *counters, float *out, int64_t count) {                                       \
        normals_at_body(key, counters, out, count);                                                               \
    }

VERSION(avx512, "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
VERSION(avx2, "avx2,fma")
VERSION(baseline, "sse2")

typedef void (*fill_function)(uint64_t, int64_t, float *, int64_t, int);
typedef void (*normals_function)(uint64_t, const int64_t *, float *, int64_t);

static const fill_function fill_versions[] = {fill_baseline, fill_avx2, fill_avx512};
static const normals_function normals_versions[] = {normals_at_baseline, normals_at_avx2, normals_at_avx512};

void cimcarlo_fill(uint64_t key, int64_t first, float *out, int64_t count, int32_t normal) {
    fill_versions[cimcarlo_best_isa()](key, first, out, count, normal);
}

int32_t cimcarlo_fill_version(
    int32_t version, uint64_t key, int64_t first, float *out, int64_t count, int32_t normal) {
    if (!cimcarlo_isa_available(version)) return 1;
    fill_versions[version](key, first, out, count, normal);
    return 0;
}

void cimcarlo_normals_at(uint64_t key, const int64_t *counters, float *out, int64_t count) {
    normals_versions[cimcarlo_best_isa()](key, counters, out, count);
}

int32_t cimcarlo_normals_at_version(
    int32_t version, uint64_t key, const int64_t *counters, float *out, int64_t count) {
    if (!cimcarlo_isa_available(version)) return 1;
    normals_versions[version](key, counters, out, count);
    return 0;
}

void cimcarlo_philox(const uint32_t counter[4], uint32_t k0, uint32_t k1, uint32_t out[4]) {
    words w = philox_rounds(
        (u32x8){counter[0]}, (u32x8){counter[1]}, (u32x8){counter[2]}, (u32x8){counter[3]}, k0, k1);
    out[0] = w.w0[0];
    out[1] = w.w1[0];
    out[2] = w.w2[0];
    out[3] = w.w3[0];
}
