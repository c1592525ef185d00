#include "cimcarlo_kernels.h"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

dnnl_engine_t cimcarlo_engine(void);
void cimcarlo_single_thread(void);

typedef struct {
    int32_t batch;
    dnnl_primitive_t pooling;
    dnnl_memory_t input, output;
} pooling_batch;

struct cimcarlo_max_pooling {
    cimcarlo_pooling_shape shape;
    dnnl_stream_t stream;
    pooling_batch batches[4];
    int used;
};

static void release(pooling_batch *entry) {
    if (entry->pooling) dnnl_primitive_destroy(entry->pooling);
    if (entry->input) dnnl_memory_destroy(entry->input);
    if (entry->output) dnnl_memory_destroy(entry->output);
    memset(entry, 0, sizeof *entry);
}

static int prepare(cimcarlo_max_pooling *pooling, pooling_batch *entry, int32_t batch) {
    const cimcarlo_pooling_shape *s = &pooling->shape;
    memset(entry, 0, sizeof *entry);
    entry->batch = batch;
    dnnl_memory_desc_t input_md, output_md;
    dnnl_dims_t input_dims = {batch, s->channels, s->input_height, s->input_width};
    dnnl_dims_t output_dims = {batch, s->channels, s->output_height, s->output_width};
    if (dnnl_memory_desc_init_by_tag(&input_md, 4, input_dims, dnnl_f32, dnnl_nhwc) ||
        dnnl_memory_desc_init_by_tag(&output_md, 4, output_dims, dnnl_f32, dnnl_nhwc))
        return 1;
    // Padding after the input grows to what the output size needs (ceil mode's last window);
    // padded positions never win a maximum.
    dnnl_dims_t strides = {s->stride_height, s->stride_width};
    dnnl_dims_t kernel = {s->kernel_height, s->kernel_width};
    dnnl_dims_t padding_l = {s->pad_top, s->pad_left};
    dnnl_dims_t padding_r = {
        (s->output_height - 1) * s->stride_height + s->kernel_height - s->input_height - s->pad_top,
        (s->output_width - 1) * s->stride_width + s->kernel_width - s->input_width - s->pad_left};
    if (padding_r[0] < 0 || padding_r[1] < 0) return 1;
    dnnl_pooling_desc_t descriptor;
    if (dnnl_pooling_forward_desc_init(
            &descriptor, dnnl_forward_inference, dnnl_pooling_max, &input_md, &output_md, strides, kernel, padding_l,
            padding_r))
        return 1;
    dnnl_primitive_desc_t primitive_desc;
    if (dnnl_primitive_desc_create(&primitive_desc, &descriptor, NULL, cimcarlo_engine(), NULL)) return 1;
    int status = dnnl_primitive_create(&entry->pooling, primitive_desc);
    dnnl_primitive_desc_destroy(primitive_desc);
    if (!status) status = dnnl_memory_create(&entry->input, &input_md, cimcarlo_engine(), DNNL_MEMORY_NONE);
    if (!status) status = dnnl_memory_create(&entry->output, &output_md, cimcarlo_engine(), DNNL_MEMORY_NONE);
    if (status) release(entry);
    return status;
}

cimcarlo_max_pooling *cimcarlo_max_pooling_create(const cimcarlo_pooling_shape *shape) {
    if (!cimcarlo_engine()) return NULL;
    cimcarlo_max_pooling *pooling = calloc(1, sizeof *pooling);
    if (!pooling) return NULL;
    pooling->shape = *shape;
    if (dnnl_stream_create(&pooling->stream, cimcarlo_engine(), dnnl_stream_default_flags)) {
        free(pooling);
        return NULL;
    }
    return pooling;
}

int cimcarlo_max_pooling_forward(cimcarlo_max_pooling *pooling, const float *input, float *output, int32_t batch) {
    cimcarlo_single_thread();
    pooling_batch *entry = NULL;
    for (int index = 0; index < pooling->used; index++)
        if (pooling->batches[index].batch == batch) entry = &pooling->batches[index];
    if (!entry) {
        if (pooling->used == 4) release(&pooling->batches[--pooling->used]);
        entry = &pooling->batches[pooling->used];
        if (prepare(pooling, entry, batch)) return 1;
        pooling->used++;
    }
    if (dnnl_memory_set_data_handle(entry->input, (void *)input) ||
        dnnl_memory_set_data_handle(entry->output, output))
        return 1;
    dnnl_exec_arg_t arguments[] = {{DNNL_ARG_SRC, entry->input}, {DNNL_ARG_DST, entry->output}};
    if (dnnl_primitive_execute(entry->pooling, pooling->stream, 2, arguments)) return 1;
    return dnnl_stream_wait(pooling->stream) != dnnl_success;
}

void cimcarlo_max_pooling_destroy(cimcarlo_max_pooling *pooling) {
    if (!pooling) return;
    for (int index = 0; index < pooling->used; index++) release(&pooling->batches[index]);
    dnnl_stream_destroy(pooling->stream);
    free(pooling);
}
