/* libFuzzer target for the IDX reader (plain and gzip). */
#define FUZZ_NAME "idx"
#define FUZZ_READ nota_idx_read
#include "fuzz_file_reader.h"
