/* data_toy.h — private: the 2-D toy datasets behind "toy:NAME[:train|test]"
 * (swissroll, moons, checkerboard), dispatched from nota_dataset_open. */
#ifndef NOTA_DATA_TOY_H
#define NOTA_DATA_TOY_H

#include "nota/data.h"
#include <stdint.h>

#define NOTA_TOY_DEFAULT_N 10000
#define NOTA_TOY_MAX_N 10000000

/* Fill ds->x with f32 (n, 2) points of the toy named by `spec` (the full
 * "toy:..." text); n = 0 means NOTA_TOY_DEFAULT_N. No labels. */
nota_status data_toy_open(const char *spec, int64_t n, nota_dataset *ds);

#endif
