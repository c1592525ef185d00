#include "cimcarlo_kernels.h"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t engine;
/// OpenMP's `omp_set_num_threads`, from the libgomp that libdnnl loads (no link-time dependency).
static void (*set_omp_threads)(int);
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void make_engine(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
    set_omp_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

/// The CPU engine every primitive runs on, NULL when oneDNN has none.
dnnl_engine_t cimcarlo_engine(void) {
    pthread_once(&engine_once, make_engine);
    return engine;
}

/// One thread per worker: cimcarlo runs chips in parallel, and a fixed thread count keeps
/// every result independent of how many workers run.
void cimcarlo_single_thread(void) {
    if (set_omp_threads) set_omp_threads(1);
}

/// One batch size's primitives.
typedef struct {
    int32_t batch;
    dnnl_primitive_t convolution;
    dnnl_primitive_t weights_reorder;  // NULL when the primitive takes the weights as they are
    dnnl_memory_t input, user_weights, weights, bias, output, scale, shift;
    void *weights_buffer;
} batch_primitives;

enum { batch_sizes = 4 };

struct cimcarlo_convolution {
    cimcarlo_convolution_shape shape;
    cimcarlo_convolution_epilogue epilogue;
    float *direct_scratch;  // non-NULL: the direct convolution computes it, not oneDNN
    dnnl_stream_t stream;
    batch_primitives batches[batch_sizes];
    int used;
};

static void release(batch_primitives *entry) {
    if (entry->convolution) dnnl_primitive_destroy(entry->convolution);
    if (entry->weights_reorder) dnnl_primitive_destroy(entry->weights_reorder);
    dnnl_memory_t memories[] = {entry->input,  entry->user_weights, entry->weights, entry->bias,
                                entry->output, entry->scale,        entry->shift};
    for (int index = 0; index < 7; index++)
        if (memories[index]) dnnl_memory_destroy(memories[index]);
    free(entry->weights_buffer);
    memset(entry, 0, sizeof *entry);
}

/// Creates the primitives for `batch` images; 0 on success.
static int prepare(cimcarlo_convolution *convolution, batch_primitives *entry, int32_t batch) {
    const cimcarlo_convolution_shape *s = &convolution->shape;
    memset(entry, 0, sizeof *entry);
    entry->batch = batch;
    dnnl_memory_desc_t input_md, output_md, bias_md, user_weights_md, any_weights_md;
    dnnl_dims_t input_dims = {batch, s->input_channels, s->input_height, s->input_width};
    dnnl_dims_t output_dims = {batch, s->output_channels, s->output_height, s->output_width};
    dnnl_dims_t bias_dims = {s->output_channels};
    int grouped = s->groups > 1;
    dnnl_dims_t weights_dims;
    int weights_rank;
    if (grouped) {
        weights_rank = 5;
        dnnl_dims_t dims = {s->groups, s->output_channels / s->groups, s->input_channels / s->groups,
                            s->kernel_height, s->kernel_width};
        memcpy(weights_dims, dims, sizeof(dnnl_dim_t) * 5);
    } else {
        weights_rank = 4;
        dnnl_dims_t dims = {s->output_channels, s->input_channels, s->kernel_height, s->kernel_width};
        memcpy(weights_dims, dims, sizeof(dnnl_dim_t) * 4);
    }
    if (dnnl_memory_desc_init_by_tag(&input_md, 4, input_dims, dnnl_f32, dnnl_nhwc) ||
        dnnl_memory_desc_init_by_tag(&output_md, 4, output_dims, dnnl_f32, dnnl_nhwc) ||
        dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(
            &user_weights_md, weights_rank, weights_dims, dnnl_f32, grouped ? dnnl_goihw : dnnl_oihw) ||
        dnnl_memory_desc_init_by_tag(&any_weights_md, weights_rank, weights_dims, dnnl_f32, dnnl_format_tag_any))
        return 1;
    dnnl_dims_t strides = {s->stride_height, s->stride_width};
    dnnl_dims_t dilates = {s->dilation_height - 1, s->dilation_width - 1};
    dnnl_dims_t padding_l = {s->pad_top, s->pad_left};
    dnnl_dims_t padding_r = {s->pad_bottom, s->pad_right};
    dnnl_convolution_desc_t descriptor;
    if (dnnl_dilated_convolution_forward_desc_init(
            &descriptor, dnnl_forward_inference, dnnl_convolution_direct, &input_md, &any_weights_md, &bias_md,
            &output_md, strides, dilates, padding_l, padding_r))
        return 1;
    // The epilogue as post-ops: binary mul and add by per-channel vectors, a sum with the
    // residual, then an eltwise.
    const cimcarlo_convolution_epilogue *e = &convolution->epilogue;
    dnnl_memory_desc_t channel_md;
    dnnl_dims_t channel_dims = {1, s->output_channels, 1, 1};
    if (dnnl_memory_desc_init_by_tag(&channel_md, 4, channel_dims, dnnl_f32, dnnl_nchw)) return 1;
    dnnl_primitive_attr_t attributes = NULL;
    if (e->scales || e->residual || e->activation) {
        dnnl_post_ops_t post_ops;
        if (dnnl_primitive_attr_create(&attributes) || dnnl_post_ops_create(&post_ops)) return 1;
        int failed = 0;
        if (e->scales)
            failed |= dnnl_post_ops_append_binary(post_ops, dnnl_binary_mul, &channel_md) ||
                      dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &channel_md);
        // The residual is copied into the output first and summed there: oneDNN's fastest
        // (brgconv) kernels take a sum post-op, not a binary add of a whole tensor.
        if (e->residual) failed |= dnnl_post_ops_append_sum(post_ops, 1.0f);
        if (e->activation == 1) failed |= dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu, 0, 0);
        if (e->activation == 2)
            failed |= dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_clip, e->minimum, e->maximum);
        failed |= dnnl_primitive_attr_set_post_ops(attributes, post_ops);
        dnnl_post_ops_destroy(post_ops);
        if (failed) {
            dnnl_primitive_attr_destroy(attributes);
            return 1;
        }
    }
    dnnl_primitive_desc_t primitive_desc;
    int made = dnnl_primitive_desc_create(&primitive_desc, &descriptor, attributes, cimcarlo_engine(), NULL);
    if (attributes) dnnl_primitive_attr_destroy(attributes);
    if (made) return 1;
    const dnnl_memory_desc_t *weights_md = dnnl_primitive_desc_query_md(primitive_desc, dnnl_query_weights_md, 0);
    int status = dnnl_primitive_create(&entry->convolution, primitive_desc);
    if (!status && !dnnl_memory_desc_equal(weights_md, &user_weights_md)) {
        dnnl_primitive_desc_t reorder_desc;
        status = dnnl_reorder_primitive_desc_create(&reorder_desc, &user_weights_md, engine, weights_md, engine, NULL);
        if (!status) {
            status = dnnl_primitive_create(&entry->weights_reorder, reorder_desc);
            dnnl_primitive_desc_destroy(reorder_desc);
        }
        size_t size = dnnl_memory_desc_get_size(weights_md);
        entry->weights_buffer = aligned_alloc(64, (size + 63) / 64 * 64);
        if (!status && !entry->weights_buffer) status = 1;
        if (!status) status = dnnl_memory_create(&entry->weights, weights_md, engine, entry->weights_buffer);
    }
    if (!status) status = dnnl_memory_create(&entry->user_weights, &user_weights_md, engine, DNNL_MEMORY_NONE);
    if (!status) status = dnnl_memory_create(&entry->input, &input_md, engine, DNNL_MEMORY_NONE);
    if (!status) status = dnnl_memory_create(&entry->output, &output_md, engine, DNNL_MEMORY_NONE);
    if (!status) status = dnnl_memory_create(&entry->bias, &bias_md, engine, DNNL_MEMORY_NONE);
    if (!status && e->scales) status = dnnl_memory_create(&entry->scale, &channel_md, engine, DNNL_MEMORY_NONE);
    if (!status && e->scales) status = dnnl_memory_create(&entry->shift, &channel_md, engine, DNNL_MEMORY_NONE);
    dnnl_primitive_desc_destroy(primitive_desc);
    if (status) release(entry);
    return status;
}

cimcarlo_convolution *cimcarlo_convolution_create(
    const cimcarlo_convolution_shape *shape, const cimcarlo_convolution_epilogue *epilogue) {
    cimcarlo_convolution *convolution = calloc(1, sizeof *convolution);
    if (!convolution) return NULL;
    convolution->shape = *shape;
    convolution->epilogue = *epilogue;
    if (!epilogue->residual && cimcarlo_direct_convolution_supported(shape)) {
        convolution->direct_scratch = malloc(sizeof(float) * (size_t)cimcarlo_direct_convolution_scratch(shape));
        if (convolution->direct_scratch) return convolution;
    }
    if (!cimcarlo_engine() || dnnl_stream_create(&convolution->stream, engine, dnnl_stream_default_flags)) {
        free(convolution);
        return NULL;
    }
    return convolution;
}

int cimcarlo_convolution_forward(
    cimcarlo_convolution *convolution, const float *input, const float *weights, const float *bias,
    const float *scale, const float *shift, const float *residual, float *output, int32_t batch) {
    if (convolution->direct_scratch)
        return cimcarlo_direct_convolution_forward(
            -1, &convolution->shape, &convolution->epilogue, input, weights, bias, scale, shift, output, batch,
            convolution->direct_scratch);
    cimcarlo_single_thread();
    batch_primitives *entry = NULL;
    for (int index = 0; index < convolution->used; index++)
        if (convolution->batches[index].batch == batch) entry = &convolution->batches[index];
    if (!entry) {
        if (convolution->used == batch_sizes) release(&convolution->batches[--convolution->used]);
        entry = &convolution->batches[convolution->used];
        if (prepare(convolution, entry, batch)) return 1;
        convolution->used++;
    }
    if (dnnl_memory_set_data_handle(entry->user_weights, (void *)weights)) return 1;
    dnnl_memory_t weights_memory = entry->user_weights;
    if (entry->weights_reorder) {
        dnnl_exec_arg_t arguments[] = {{DNNL_ARG_FROM, entry->user_weights}, {DNNL_ARG_TO, entry->weights}};
        if (dnnl_primitive_execute(entry->weights_reorder, convolution->stream, 2, arguments)) return 1;
        weights_memory = entry->weights;
    }
    if (dnnl_memory_set_data_handle(entry->input, (void *)input) ||
        dnnl_memory_set_data_handle(entry->output, output) || dnnl_memory_set_data_handle(entry->bias, (void *)bias))
        return 1;
    dnnl_exec_arg_t arguments[] = {
        {DNNL_ARG_SRC, entry->input},
        {DNNL_ARG_WEIGHTS, weights_memory},
        {DNNL_ARG_BIAS, entry->bias},
        {DNNL_ARG_DST, entry->output},
        {0, NULL},
        {0, NULL},
    };
    int count = 4;
    if (convolution->epilogue.scales) {
        if (dnnl_memory_set_data_handle(entry->scale, (void *)scale) ||
            dnnl_memory_set_data_handle(entry->shift, (void *)shift))
            return 1;
        arguments[count++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, entry->scale};
        arguments[count++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, entry->shift};
    }
    if (convolution->epilogue.residual && residual != output) {
        const cimcarlo_convolution_shape *s = &convolution->shape;
        memcpy(output, residual, sizeof(float) * (size_t)batch * s->output_channels * s->output_height * s->output_width);
    }
    if (dnnl_primitive_execute(entry->convolution, convolution->stream, count, arguments)) return 1;
    return dnnl_stream_wait(convolution->stream) != dnnl_success;
}

void cimcarlo_convolution_destroy(cimcarlo_convolution *convolution) {
    if (!convolution) return;
    for (int index = 0; index < convolution->used; index++) release(&convolution->batches[index]);
    if (convolution->stream) dnnl_stream_destroy(convolution->stream);
    free(convolution->direct_scratch);
    free(convolution);
}
