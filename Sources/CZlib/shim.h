// zlib's gzip reader, used for the IDX .gz files of Fashion-MNIST.
#include <zlib.h>
