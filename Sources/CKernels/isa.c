// Which version of cimcarlo's own vector kernels (sampler, direct convolution, GELU) runs:
// each is compiled for AVX-512, AVX2 and baseline x86-64, and every version gives the same bits.
#include "cimcarlo_kernels.h"

#include <stdlib.h>
#include <string.h>

int32_t cimcarlo_isa_available(int32_t version) {
    __builtin_cpu_init();
    switch (version) {
    case 0: return 1;
    case 1: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case 2:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    default: return 0;
    }
}

int32_t cimcarlo_best_isa(void) {
    static int32_t isa = -1;  // races write the same value
    if (isa < 0) {
        // CIMCARLO_ISA=x86-64|avx2 forces a lower version (the results are identical).
        const char *forced = getenv("CIMCARLO_ISA");
        int32_t ceiling = forced && !strcmp(forced, "x86-64") ? 0 : forced && !strcmp(forced, "avx2") ? 1 : 2;
        int32_t best = cimcarlo_isa_available(2) ? 2 : cimcarlo_isa_available(1) ? 1 : 0;
        isa = best < ceiling ? best : ceiling;
    }
    return isa;
}

const char *cimcarlo_isa_name(void) {
    static const char *names[] = {"x86-64", "avx2", "avx512"};
    return names[cimcarlo_best_isa()];
}
