/* nota/nota.h — the whole public SDK in one include. */
#ifndef NOTA_NOTA_H
#define NOTA_NOTA_H
#include "nota/status.h"
#include "nota/tensor.h"
#include "nota/config.h"
#include "nota/rng.h"
#include "nota/linalg.h"
#include "nota/parallel.h"
#include "nota/modelfile.h"
#include "nota/data.h"
#include "nota/plugin.h"
#include "nota/nn.h"
#include "nota/stats.h"
#define NOTA_VERSION_STRING "0.1.0"
#endif
