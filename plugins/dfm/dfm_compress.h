/* dfm_compress.h — the dfm plugin's compress / decompress entry points
 * (nota_plugin.compress / .decompress; options from the plugin's table). */
#ifndef DFM_COMPRESS_H
#define DFM_COMPRESS_H

#include "nota/nota.h"

nota_status dfm_compress(const nota_config *cfg, const nota_tensor *image, double bpp,
                         const nota_host *host, uint8_t **bytes, size_t *n);
nota_status dfm_decompress(const uint8_t *bytes, size_t n, const nota_host *host,
                           nota_tensor **image);

#endif
