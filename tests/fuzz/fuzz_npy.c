/* libFuzzer target for the .npy reader (v1.0/v2.0 headers, f4/f8/u1). */
#define FUZZ_NAME "npy"
#define FUZZ_READ nota_npy_read
#include "fuzz_file_reader.h"
