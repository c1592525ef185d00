// A direct convolution for layers with few input and output channels — a first layer on grey or
// RGB images, LeNet-5's 1 → 6 — where oneDNN's kernels, which vectorise over channels, leave
// most lanes idle and spend their time in per-row bookkeeping. Here a vector holds 16 output
// positions of one row, eight output channels accumulate at once, and each image is first
// copied into zero-padded planes so that no tap needs a bounds check. NHWC in and out, stride 1,
// one group, no dilation. Written once with vector extensions and compiled for AVX-512, AVX2
// and baseline x86-64, the best chosen at run time; contraction off, so every version gives
// the same bits.
#include "cimcarlo_kernels.h"

#include "vector16.h"

#pragma clang fp contract(off)

enum {
    lanes = 16,         // output positions per vector
    channel_block = 8,  // output channels accumulated together
    most_input_channels = 4,
};

int cimcarlo_direct_convolution_supported(const cimcarlo_convolution_shape *s) {
    return s->groups == 1 && s->input_channels <= most_input_channels && s->output_channels < 16 &&
           s->stride_height == 1 && s->stride_width == 1 && s->dilation_height == 1 && s->dilation_width == 1 &&
           s->output_height == s->input_height + s->pad_top + s->pad_bottom - s->kernel_height + 1 &&
           s->output_width == s->input_width + s->pad_left + s->pad_right - s->kernel_width + 1;
}

/// The padded planes' row stride: whole vectors of outputs plus the kernel's reach.
static int64_t row_stride(const cimcarlo_convolution_shape *s) {
    return (s->output_width + lanes - 1) / lanes * lanes + s->kernel_width - 1;
}

static int64_t plane_size(const cimcarlo_convolution_shape *s) {
    return row_stride(s) * (s->output_height + s->kernel_height - 1);
}

static int64_t channel_blocks(const cimcarlo_convolution_shape *s) {
    return (s->output_channels + channel_block - 1) / channel_block;
}

int64_t cimcarlo_direct_convolution_scratch(const cimcarlo_convolution_shape *s) {
    int64_t taps = (int64_t)s->input_channels * s->kernel_height * s->kernel_width;
    return s->input_channels * plane_size(s) + lanes + channel_blocks(s) * taps * channel_block;
}

/// Output rows of channels `first ..< first + count` (count ≤ cb, cb a constant once inlined)
/// for one image, from its padded planes; `w` holds the block's packed weights.
INLINE void channel_block_rows(
    const cimcarlo_convolution_shape *s, const cimcarlo_convolution_epilogue *e, const float *padded,
    const float *w, const float *bias, const float *scale, const float *shift, float *result, int64_t first,
    int64_t count, const int cb) {
    const int64_t C = s->input_channels, O = s->output_channels, OH = s->output_height, OW = s->output_width;
    const int64_t KH = s->kernel_height, KW = s->kernel_width;
    const int64_t stride = row_stride(s), plane = plane_size(s);
    float tile[channel_block][lanes] __attribute__((aligned(64)));
    float transposed[lanes * channel_block];
    for (int64_t oy = 0; oy < OH; oy++)
        for (int64_t ox = 0; ox < OW; ox += lanes) {
            f32x16 sum[channel_block];
            for (int j = 0; j < cb; j++) sum[j] = splat(0);
            const float *tap_weights = w;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ky = 0; ky < KH; ky++) {
                    const float *row = padded + c * plane + (oy + ky) * stride + ox;
                    for (int64_t kx = 0; kx < KW; kx++, tap_weights += cb) {
                        f32x16 x;
                        memcpy(&x, row + kx, sizeof x);
                        for (int j = 0; j < cb; j++) sum[j] += x * tap_weights[j];
                    }
                }
            for (int j = 0; j < cb; j++) {
                int64_t o = first + (j < count ? j : 0);
                f32x16 y = sum[j] + bias[o];
                if (e->scales) y = y * scale[o] + shift[o];
                if (e->activation == 1) y = select_lanes(y > 0, y, splat(0));
                if (e->activation == 2) {
                    y = select_lanes(y < e->minimum, splat(e->minimum), y);
                    y = select_lanes(y > e->maximum, splat(e->maximum), y);
                }
                memcpy(tile[j], &y, sizeof y);
            }
            // To NHWC: the tile transposed one float at a time (vectorised, it becomes gathers and
            // masked stores, slower), then copied as whole runs of channels.
            int64_t valid = OW - ox < lanes ? OW - ox : lanes;
#pragma clang loop vectorize(disable)
            for (int64_t lane = 0; lane < valid; lane++)
#pragma clang loop vectorize(disable)
                for (int64_t j = 0; j < count; j++) transposed[lane * count + j] = tile[j][lane];
            float *destination = result + (oy * OW + ox) * O + first;
            if (count == O)
                memcpy(destination, transposed, sizeof(float) * (size_t)(valid * O));
            else
                for (int64_t lane = 0; lane < valid; lane++)
                    memcpy(destination + lane * O, transposed + lane * count, sizeof(float) * (size_t)count);
        }
}

INLINE void forward_body(
    const cimcarlo_convolution_shape *s, const cimcarlo_convolution_epilogue *e, const float *input,
    const float *weights, const float *bias, const float *scale, const float *shift, float *output, int32_t batch,
    float *scratch) {
    const int64_t C = s->input_channels, H = s->input_height, W = s->input_width;
    const int64_t O = s->output_channels, OH = s->output_height, OW = s->output_width;
    const int64_t taps = C * s->kernel_height * s->kernel_width;
    const int64_t stride = row_stride(s), plane = plane_size(s);
    float *padded = scratch;
    // Weights by channel block, [block][tap][channel of the block], as many channels a block as
    // it computes (8, or 4 or 6 for the last).
    float *packed = scratch + C * plane + lanes;
    memset(scratch, 0, sizeof(float) * (size_t)cimcarlo_direct_convolution_scratch(s));
    // Blocks of channels: the first, how many, and how many the block computes.
    int64_t block_first[16], block_count[16], block_size[16], blocks = 0;
    for (int64_t first = 0; first < O; first += channel_block, blocks++) {
        int64_t count = O - first < channel_block ? O - first : channel_block;
        block_first[blocks] = first;
        block_count[blocks] = count;
        block_size[blocks] = count <= 4 ? 4 : count <= 6 ? 6 : 8;
    }
    for (int64_t block = 0; block < blocks; block++) {
        float *w = packed + block_first[block] * taps;
        for (int64_t j = 0; j < block_count[block]; j++)
            for (int64_t tap = 0; tap < taps; tap++)
                w[tap * block_size[block] + j] = weights[(block_first[block] + j) * taps + tap];
    }
    for (int64_t n = 0; n < batch; n++) {
        // The image into its planes; the border stays zero from the first image on.
        const float *image = input + n * H * W * C;
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H; y++) {
                float *row = padded + c * plane + (y + s->pad_top) * stride + s->pad_left;
                const float *pixels = image + y * W * C + c;
                if (C == 1)
                    memcpy(row, pixels, sizeof(float) * (size_t)W);
                else
                    for (int64_t x = 0; x < W; x++) row[x] = pixels[x * C];
            }
        float *result = output + n * OH * OW * O;
        for (int64_t block = 0; block < blocks; block++) {
            const float *w = packed + block_first[block] * taps;
            int64_t first = block_first[block], count = block_count[block];
            switch (block_size[block]) {
            case 4: channel_block_rows(s, e, padded, w, bias, scale, shift, result, first, count, 4); break;
            case 6: channel_block_rows(s, e, padded, w, bias, scale, shift, result, first, count, 6); break;
            default: channel_block_rows(s, e, padded, w, bias, scale, shift, result, first, count, 8); break;
            }
        }
    }
}

#define VERSION(suffix, isa)                                                                                     \
    __attribute__((target(isa))) static void forward_##suffix(                                                 \
        const cimcarlo_convolution_shape *s, const cimcarlo_convolution_epilogue *e, const float *input,           \
        const float *weights, const float *bias, const float *scale, const float *shift, float *output,             \
        int32_t batch, float *scratch) {                                                                            \
        forward_body(s, e, input, weights, bias, scale, shift, output, batch, scratch);                             \
    }

VERSION(avx512, "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
VERSION(avx2, "avx2,fma")
VERSION(baseline, "sse2")

typedef void (*forward_function)(
    const cimcarlo_convolution_shape *, const cimcarlo_convolution_epilogue *, const float *, const float *,
    const float *, const float *, const float *, float *, int32_t, float *);

int32_t cimcarlo_direct_convolution_forward(
    int32_t version, const cimcarlo_convolution_shape *shape, const cimcarlo_convolution_epilogue *epilogue,
    const float *input, const float *weights, const float *bias, const float *scale, const float *shift,
    float *output, int32_t batch, float *scratch) {
    static const forward_function versions[] = {forward_baseline, forward_avx2, forward_avx512};
    if (version < 0) version = cimcarlo_best_isa();
    if (!cimcarlo_isa_available(version) || epilogue->residual) return 1;
    versions[version](shape, epilogue, input, weights, bias, scale, shift, output, batch, scratch);
    return 0;
}
