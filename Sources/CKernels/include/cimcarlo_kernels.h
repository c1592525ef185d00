// The kernels the baseline x86-64 Swift build cannot write, behind a few plain C calls:
// oneDNN's convolutions and max-poolings (Debian's libdnnl-dev, the CPU kernels under PyTorch),
// which pick their AVX2/AVX-512 code at run time, and cimcarlo's own vector kernels (the
// sampler, the direct convolution of layers with few channels, the GELU), each compiled for
// AVX-512, AVX2 and baseline x86-64 and chosen at run time. Activations are NHWC float32, as cimcarlo
// keeps images; weights come in PyTorch's layout [out, in / groups, kH, kW] and are reordered
// on each call (cheap next to the convolution of a batch).
#ifndef CIMCARLO_KERNELS_H
#define CIMCARLO_KERNELS_H

#include <stdint.h>

/// The geometry of one 2-D convolution (cimcarlo's `Convolution`).
typedef struct {
    int32_t input_channels, input_height, input_width;
    int32_t output_channels, output_height, output_width;
    int32_t kernel_height, kernel_width, stride_height, stride_width;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t dilation_height, dilation_width, groups;
} cimcarlo_convolution_shape;

/// What follows the convolution in the same pass (fused as oneDNN post-ops): a per-channel
/// `y · scale + shift` (digital batch normalisation), the addition of a residual of the
/// output's shape, then ReLU or a clip to [minimum, maximum].
typedef struct {
    int32_t scales;      // 1: per-channel scale and shift follow
    int32_t residual;    // 1: a residual is added
    int32_t activation;  // 0 none, 1 ReLU, 2 clip
    float minimum, maximum;
} cimcarlo_convolution_epilogue;

typedef struct cimcarlo_convolution cimcarlo_convolution;

/// A forward convolution for `shape` followed by `epilogue` — the direct kernel when it takes the
/// shape (`cimcarlo_direct_convolution_supported`), else oneDNN's — or NULL when neither can.
cimcarlo_convolution *cimcarlo_convolution_create(
    const cimcarlo_convolution_shape *shape, const cimcarlo_convolution_epilogue *epilogue);

/// `output = epilogue(conv(input, weights) + bias)` for `batch` images (NHWC in and out);
/// `scale` and `shift` (one per output channel) and `residual` (NHWC, the output's shape) are
/// read when the epilogue has them. Returns 0 on success, non-zero when oneDNN failed (the
/// caller computes it another way).
int cimcarlo_convolution_forward(
    cimcarlo_convolution *convolution, const float *input, const float *weights, const float *bias,
    const float *scale, const float *shift, const float *residual, float *output, int32_t batch);

void cimcarlo_convolution_destroy(cimcarlo_convolution *convolution);

/// The geometry of a max-pooling (cimcarlo's `MaxPool`; the output size includes ceil mode).
typedef struct {
    int32_t channels, input_height, input_width, output_height, output_width;
    int32_t kernel_height, kernel_width, stride_height, stride_width, pad_top, pad_left;
} cimcarlo_pooling_shape;

typedef struct cimcarlo_max_pooling cimcarlo_max_pooling;

/// oneDNN's max-pooling for `shape` (NHWC in and out), or NULL when it cannot make one.
cimcarlo_max_pooling *cimcarlo_max_pooling_create(const cimcarlo_pooling_shape *shape);

/// Max-pools `batch` images; 0 on success, non-zero when oneDNN failed.
int cimcarlo_max_pooling_forward(cimcarlo_max_pooling *pooling, const float *input, float *output, int32_t batch);

void cimcarlo_max_pooling_destroy(cimcarlo_max_pooling *pooling);

/// Draws `first ..< first + count` of the stream with 64-bit Philox key `key` into `out`:
/// standard normals (`normal` 1) or uniforms in (0, 1), exactly as `CounterRandom` defines them.
void cimcarlo_fill(uint64_t key, int64_t first, float *out, int64_t count, int32_t normal);

/// `cimcarlo_fill` on version `version` (0 baseline x86-64, 1 AVX2, 2 AVX-512) whatever the
/// machine's best; non-zero when this CPU lacks it. For tests that the versions agree.
int32_t cimcarlo_fill_version(
    int32_t version, uint64_t key, int64_t first, float *out, int64_t count, int32_t normal);

/// Standard normal draws at arbitrary `counters` of the stream `key`, into `out`.
void cimcarlo_normals_at(uint64_t key, const int64_t *counters, float *out, int64_t count);

/// `cimcarlo_normals_at` on version `version`, as `cimcarlo_fill_version`.
int32_t cimcarlo_normals_at_version(
    int32_t version, uint64_t key, const int64_t *counters, float *out, int64_t count);

/// The exact GELU, `0.5 x (1 + erf(x / √2))`, of `count` floats (`output` may be `input`) on
/// kernel version `version` (−1: `cimcarlo_best_isa`), erf to 1.5 × 10⁻⁷ (Abramowitz & Stegun
/// 7.1.26); the same bits on every version. Non-zero when this CPU lacks the version.
int32_t cimcarlo_gelu(int32_t version, const float *input, float *output, int64_t count);

/// Whether this CPU has version `version` of cimcarlo's vector kernels (0 baseline x86-64,
/// 1 AVX2, 2 AVX-512); 0 or 1.
int32_t cimcarlo_isa_available(int32_t version);

/// The version cimcarlo's vector kernels (sampler, direct convolution, GELU) run here: the best
/// this CPU has, or lower when `CIMCARLO_ISA` is `x86-64` or `avx2`. Every version gives the
/// same bits.
int32_t cimcarlo_best_isa(void);

/// Its name: "avx512", "avx2" or "x86-64".
const char *cimcarlo_isa_name(void);

/// Whether `cimcarlo_direct_convolution_forward` computes `shape`: stride 1, one group, no
/// dilation, at most 4 input and fewer than 16 output channels (a first layer on grey or RGB
/// images, where oneDNN's channel-vectorised kernels leave most lanes idle).
int cimcarlo_direct_convolution_supported(const cimcarlo_convolution_shape *shape);

/// Floats of scratch `cimcarlo_direct_convolution_forward` needs for `shape`.
int64_t cimcarlo_direct_convolution_scratch(const cimcarlo_convolution_shape *shape);

/// `output = epilogue(conv(input, weights) + bias)` for `batch` images, NHWC in and out, weights
/// [out, in, kH, kW] (an epilogue without a residual), on kernel version `version` (−1:
/// `cimcarlo_best_isa`); the same bits on every version. Non-zero when this CPU lacks the version.
int32_t cimcarlo_direct_convolution_forward(
    int32_t version, const cimcarlo_convolution_shape *shape, const cimcarlo_convolution_epilogue *epilogue,
    const float *input, const float *weights, const float *bias, const float *scale, const float *shift,
    float *output, int32_t batch, float *scratch);

/// One Philox-4x32-10 block of the 128-bit counter under key (k0, k1), for known-answer tests.
void cimcarlo_philox(const uint32_t counter[4], uint32_t k0, uint32_t k1, uint32_t out[4]);

#endif
