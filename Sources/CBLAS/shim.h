// CBLAS and the OpenBLAS thread controls, from Debian's libopenblas-dev
// (include path comes from pkg-config `openblas`).
#include <cblas.h>
