// Sixteen-float vectors for cimcarlo's own kernels (vector extensions; each file compiles its
// code once per instruction set, so these helpers are always inlined into a targeted function).
#ifndef CIMCARLO_VECTOR16_H
#define CIMCARLO_VECTOR16_H

#include <stdint.h>
#include <string.h>

#pragma clang diagnostic ignored "-Wpsabi"

typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

INLINE f32x16 splat(float x) { return (f32x16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

INLINE i32x16 bits(f32x16 x) {
    i32x16 y;
    memcpy(&y, &x, sizeof y);
    return y;
}

INLINE f32x16 from_bits(i32x16 x) {
    f32x16 y;
    memcpy(&y, &x, sizeof y);
    return y;
}

/// `mask ? a : b` lane by lane (`mask` all ones or zero, as vector comparisons give).
INLINE f32x16 select_lanes(i32x16 mask, f32x16 a, f32x16 b) {
    return from_bits((bits(a) & mask) | (bits(b) & ~mask));
}

#endif
