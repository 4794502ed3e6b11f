/* Compression mode of the dfm plugin: the tile grid and each tile's
 * architecture from the byte budget, the fits (with the stall fallbacks),
 * tiles side by side on the pool, and rendering a decoded file. See
 * docs/dfm.md "Compressing". */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_compress.h"
#include "dfm_fit.h"
#include "nota/parallel.h"

#define DFM_AUTO_MAX_WIDTH 8
/* Automatic depths: deeper networks stall more often (5×8 on the 256×256
 * astronaut crop sits at the constant image) and, at 6000 steps with beta2 0.999,
 * did not beat depth 4–5 at equal size (5×6: 21.22 dB in 1,583 bytes against
 * 5×5: 21.41 dB in 1,266; 5×7: 20.40 dB in 1,883 against 6×4: 20.70 dB in
 * 1,988, same crop) although they did at 2000 steps; depth 3 lost to depth
 * 4–5 (6×3, 1,200 weights: 14.7 dB; 5×5, 1,192: 17.3 dB on
 * bench/dfm_table.py's photo). Forced depths are honoured. */
#define DFM_AUTO_MIN_DEPTH 4
#define DFM_AUTO_MAX_DEPTH 5
/* A stalled fit falls back one depth at a time, down to this depth; before
 * each fallback it is refitted once with this Adam β2 if it used less. */
#define DFM_RESCUE_BETA2 0.999f
#define DFM_FALLBACK_MIN_DEPTH 2
#define DFM_RENDER_BATCH 16384
/* Automatic tiling (option tile=0 with width and depth automatic): the
 * image is cut into the fewest tiles per side whose networks, chosen from
 * each tile's share of the budget, are at most DFM_TILE_MAX_WIDTH wide, with
 * tiles of at least DFM_TILE_MIN_SIDE pixels. Narrow networks in more
 * tiles won every comparison at equal bytes (docs/dfm.md "Tiles"): 512×512
 * astronaut at ~0.15 bpp, nine 4×5 tiles 23.67 dB against four 5×5 tiles
 * 23.16 dB and one 7×4 network 19.02 dB; at ~0.25 bpp sixteen 4×5 tiles
 * 25.72 dB, nine 5×4 24.32 dB, four 6×4 23.24 dB. Up to DFM_TILE_MORE_K
 * more tiles per side are taken when their networks, still 4 wide, hold
 * more weights in all: 451×300 chelsea at 0.3 bpp, six 4×5 tiles filled
 * only 0.194 bpp, twelve 4×4 fill 0.290. */
#define DFM_TILE_MAX_WIDTH 4
#define DFM_TILE_MIN_SIDE 32
#define DFM_TILE_MORE_K 2

static int64_t varint_len(int64_t v) { return v < 128 ? 1 : v < 16384 ? 2 : 3; }

/* Bytes of a version-1 file around its network: prefix, header, CRC and
 * ~24 bytes of Huffman table; a tile of a version-2 file adds only its two
 * architecture bytes (the header, table and CRC are shared). */
static double v1_overhead(int64_t h, int64_t w) {
    return 8 + 7 + varint_len(h) + varint_len(w) + 4 + 24;
}
static double v2_overhead(int64_t h, int64_t w, int64_t th, int64_t tw) {
    return 8 + 5 + varint_len(h) + varint_len(w) + varint_len(th) + varint_len(tw) + 4 + 24;
}
#define DFM_TILE_OVERHEAD 2

/* Expected bytes of one network: `overhead`, its scales and ~(bits − 0.5)
 * bits per weight after deflate (the quantized weights are near-Gaussian;
 * measured on the bench images). */
static double estimate_bytes(int width, int depth, int c, int bits, double overhead) {
    int64_t nw = dfm_net_weight_count(width, depth, c), ns = (int64_t)width * (depth - 1) + c;
    return overhead + 2.0 * (double)ns + (double)nw * (bits - 0.5) / 8.0;
}

/* The largest network (most weights) whose estimate fits the budget, among
 * depths DFM_AUTO_MIN_DEPTH..DFM_AUTO_MAX_DEPTH first (shallower ones only if
 * none of those fits); forced width/depth stay as given. */
static bool search_arch(int c, int bits, double budget, double overhead, int fw, int fd,
                        int min_depth, int *width, int *depth) {
    int64_t best_n = -1;
    for (int wd = fw ? fw : 2; wd <= (fw ? fw : DFM_AUTO_MAX_WIDTH); wd++)
        for (int dp = fd ? fd : min_depth; dp <= (fd ? fd : DFM_AUTO_MAX_DEPTH); dp++) {
            if (estimate_bytes(wd, dp, c, bits, overhead) > budget) continue;
            int64_t nw = dfm_net_weight_count(wd, dp, c);
            if (nw > best_n) best_n = nw, *width = wd, *depth = dp;
        }
    return best_n >= 0;
}

static void choose_arch(int c, int bits, double budget, double overhead, int fw, int fd, int *width,
                        int *depth) {
    if (search_arch(c, bits, budget, overhead, fw, fd, DFM_AUTO_MIN_DEPTH, width, depth)) return;
    if (search_arch(c, bits, budget, overhead, fw, fd, 2, width, depth)) return;
    *width = fw ? fw : 2, *depth = fd ? fd : 2; /* nothing fits: the smallest */
}

static nota_status check_image(const nota_tensor *im) {
    if (!im || im->dtype != NOTA_U8 || im->ndim != 3 || (im->shape[0] != 1 && im->shape[0] != 3))
        return nota_error(NOTA_EINVAL, "dfm: compress needs a u8 image (C, H, W) with C = 1 or 3");
    int64_t h = im->shape[1], w = im->shape[2];
    if (h < 1 || w < 1 || h > DFM_MAX_SIDE || w > DFM_MAX_SIDE || h * w > DFM_MAX_PIXELS)
        return nota_error(NOTA_ELIMIT,
                          "dfm: image %lldx%lld out of range (sides 1..%d, at most %lld pixels)",
                          (long long)w, (long long)h, DFM_MAX_SIDE, (long long)DFM_MAX_PIXELS);
    return NOTA_OK;
}

typedef struct settings {
    int64_t width, depth, bits, tile;
    double coord_scale, init_std;
    dfm_fit_opts fit;
} settings;

static nota_status read_settings(const nota_config *cfg, settings *s) {
    double lr, qat_lr, beta2;
    nota_status st = nota_config_get_int(cfg, "width", &s->width);
    if (!st) st = nota_config_get_int(cfg, "depth", &s->depth);
    if (!st) st = nota_config_get_int(cfg, "bits", &s->bits);
    if (!st) st = nota_config_get_int(cfg, "tile", &s->tile);
    if (!st) st = nota_config_get_float(cfg, "coord_scale", &s->coord_scale);
    if (!st) st = nota_config_get_float(cfg, "init_std", &s->init_std);
    if (!st) st = nota_config_get_int(cfg, "steps", &s->fit.steps);
    if (!st) st = nota_config_get_float(cfg, "lr", &lr);
    if (!st) st = nota_config_get_int(cfg, "qat_steps", &s->fit.qat_steps);
    if (!st) st = nota_config_get_float(cfg, "qat_lr", &qat_lr);
    if (!st) st = nota_config_get_int(cfg, "batch", &s->fit.batch);
    if (!st) st = nota_config_get_int(cfg, "stall_steps", &s->fit.stall_steps);
    if (!st) st = nota_config_get_float(cfg, "stall_db", &s->fit.stall_db);
    if (!st) st = nota_config_get_float(cfg, "beta2", &beta2);
    if (st) return nota_error_prefix(st, "dfm: ");
    if (s->bits < DFM_MIN_BITS || s->bits > DFM_MAX_BITS || s->width < 0 ||
        s->width > DFM_MAX_WIDTH || s->depth < 0 || s->depth > DFM_MAX_DEPTH)
        return nota_error(NOTA_EINVAL, "dfm: width %lld, depth %lld or bits %lld out of range",
                          (long long)s->width, (long long)s->depth, (long long)s->bits);
    s->fit.lr = (float)lr, s->fit.qat_lr = (float)qat_lr, s->fit.bits = (int)s->bits;
    s->fit.beta2 = (float)beta2;
    return NOTA_OK;
}

/* One fit of a (width, depth) network to the u8 image img (C, h, w): fills
 * *code (allocated here) and *net. */
static nota_status fit_arch(const settings *s, const char *label, const uint8_t *img, int C,
                            int64_t h, int64_t w, int width, int depth, const nota_host *host,
                            int threads, dfm_code *code, dfm_net **net, dfm_fit_report *rep) {
    *code = (dfm_code){
        .channels = C, .width = width, .depth = depth, .bits = (int)s->bits, .h = h, .w = w};
    code->coord_scale_h = dfm_half_from_float((float)s->coord_scale);
    nota_log(host, NOTA_LOG_INFO,
             "dfm: %s%lldx%lld %s: width %d, depth %d, %lld weights at %d bits", label,
             (long long)w, (long long)h, *label ? "tile" : "image", width, depth,
             (long long)dfm_net_weight_count(width, depth, C), (int)s->bits);
    nota_status st = dfm_code_alloc(code);
    if (!st)
        st = dfm_net_new(width, depth, C, dfm_half_to_float(code->coord_scale_h), s->fit.seed,
                         threads, net);
    if (!st && s->init_std > 0.0) st = dfm_net_init_normal(*net, s->init_std, s->fit.seed);
    if (!st) st = dfm_fit(*net, img, h, w, &s->fit, host, code, rep);
    return st;
}

/* Fit one image (or tile) with the stall fallbacks: fills *code and *net
 * with the network kept. A stalled fit of an automatically chosen depth is
 * abandoned at the check. If Adam's β2 is below DFM_RESCUE_BETA2 the same
 * network is refitted once with it (β2 0.99, better on 256×256 crops,
 * stalled the 512×512 astronaut's 7×4 network, which trains at 0.999);
 * otherwise, or if that stalls too, the next shallower network (same width,
 * the configured β2) is fitted instead. */
static nota_status fit_image(settings s, const char *label, const uint8_t *img, int C, int64_t h,
                             int64_t w, int width, int depth, const nota_host *host, int threads,
                             dfm_code *code, dfm_net **net, dfm_fit_report *rep) {
    const float beta2 = s.fit.beta2;
    nota_status st;
    for (;;) {
        bool can_rescue = s.fit.beta2 < DFM_RESCUE_BETA2;
        s.fit.stall_stop = s.depth == 0 && (depth > DFM_FALLBACK_MIN_DEPTH || can_rescue);
        st = fit_arch(&s, label, img, C, h, w, width, depth, host, threads, code, net, rep);
        if (st || !rep->stalled || !s.fit.stall_stop) break;
        dfm_net_free(*net);
        dfm_code_free(code);
        *net = NULL;
        if (can_rescue) {
            nota_log(
                host, NOTA_LOG_INFO,
                "dfm: %sfit stalled (%.2f dB after %lld steps, a constant image scores %.2f dB): "
                "refitting depth %d with beta2 %g",
                label, rep->stall_psnr, (long long)rep->stall_step, rep->const_psnr, depth,
                (double)DFM_RESCUE_BETA2);
            s.fit.beta2 = DFM_RESCUE_BETA2;
            continue;
        }
        nota_log(host, NOTA_LOG_INFO,
                 "dfm: %sfit stalled (%.2f dB after %lld steps, a constant image scores %.2f dB): "
                 "falling back from depth %d to %d",
                 label, rep->stall_psnr, (long long)rep->stall_step, rep->const_psnr, depth,
                 depth - 1);
        depth--;
        s.fit.beta2 = beta2;
    }
    if (!st && rep->stalled)
        nota_log(host, NOTA_LOG_WARN,
                 "dfm: %sfit stalled (%.2f dB after %lld steps, a constant image scores %.2f dB) "
                 "and no shallower network is tried (depth %d %s)",
                 label, rep->stall_psnr, (long long)rep->stall_step, rep->const_psnr, depth,
                 s.depth ? "forced" : "is the smallest");
    if (st) {
        dfm_net_free(*net);
        *net = NULL;
        dfm_code_free(code);
    }
    return st;
}

/* Copy tile (y0, x0, th, tw) of the planar (C, h, w) image `from` to the
 * planar (C, th, tw) buffer `to`, or back when `back`. */
static void tile_copy(uint8_t *img, int C, int64_t h, int64_t w, int64_t y0, int64_t x0, int64_t th,
                      int64_t tw, uint8_t *tile, bool back) {
    for (int c = 0; c < C; c++)
        for (int64_t y = 0; y < th; y++) {
            uint8_t *a = img + ((int64_t)c * h + y0 + y) * w + x0, *b = tile + (c * th + y) * tw;
            if (back)
                memcpy(a, b, (size_t)tw);
            else
                memcpy(b, a, (size_t)tw);
        }
}

/* The tile grid's pitch along one side of n pixels: `tile` pixels (0 =
 * automatic, see DFM_AUTO_TILE), spread evenly (ceil(n/tile) tiles of
 * equal size, the last one up to a pixel per tile smaller). */
static int64_t tile_pitch(int64_t n, int64_t tile) {
    if (tile <= 0 || tile >= n) return n;
    int64_t k = (n + tile - 1) / tile;
    return (n + k - 1) / k;
}

/* Fitting the tiles of one image. With more than one tile and more than one
 * thread, tiles are fitted side by side, one per pool thread (each fit then
 * runs single-threaded: a tile's small GEMMs gain little from splitting),
 * taking the next tile as each finishes; otherwise one after the other, each
 * on every thread. A tile's fit depends only on its pixels, budget and
 * seed (host seed + tile index), so the file is the same either way. */
typedef struct tile_job {
    const settings *s;
    const nota_tensor *image;
    const nota_host *host;
    dfm_image_code *ic;
    uint8_t *render; /* (C, H, W): each tile writes its own pixels */
    double share;    /* bytes for the tiles' networks, split by pixels */
    double se_float; /* squared error of the float fits (÷255²), summed */
    int64_t next, done;
    bool parallel;
    nota_host quiet; /* host without per-step progress, for side-by-side fits */
    pthread_mutex_t mu;
    nota_status st; /* the first failure, its message in err */
    char err[512];
} tile_job;

static nota_status fit_tile(tile_job *j, int64_t t) {
    const dfm_image_code *ic = j->ic;
    dfm_code *code = &ic->tiles[t];
    int C = ic->channels;
    int64_t nt = ic->rows * ic->cols, h = ic->h, w = ic->w, y0, x0, th = code->h, tw = code->w;
    dfm_tile_origin(ic, t, &y0, &x0);
    int width, depth;
    choose_arch(C, (int)j->s->bits, j->share * (double)(th * tw) / (double)(h * w),
                nt > 1 ? DFM_TILE_OVERHEAD : v1_overhead(h, w), (int)j->s->width, (int)j->s->depth,
                &width, &depth);
    char label[96] = "";
    if (nt > 1)
        snprintf(label, sizeof label, "tile %lld of %lld (x %lld, y %lld): ", (long long)t + 1,
                 (long long)nt, (long long)x0, (long long)y0);
    uint8_t *buf = malloc((size_t)(th * tw * C)), *out = malloc((size_t)(th * tw * C));
    if (!buf || !out) {
        free(buf), free(out);
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate a %lldx%lld tile", (long long)tw,
                          (long long)th);
    }
    tile_copy(nota_tensor_u8(j->image), C, h, w, y0, x0, th, tw, buf, false);
    settings s = *j->s;
    s.fit.seed = (j->host ? j->host->seed : 0) + (uint64_t)t;
    const nota_host *host = j->parallel ? &j->quiet : j->host;
    int threads = j->parallel || !j->host ? 1 : j->host->threads;
    dfm_net *net = NULL;
    dfm_fit_report rep = {0};
    nota_status st =
        fit_image(s, label, buf, C, th, tw, width, depth, host, threads, code, &net, &rep);
    if (!st) st = dfm_net_render(net, th, tw, DFM_RENDER_BATCH, out);
    if (!st) {
        tile_copy(j->render, C, h, w, y0, x0, th, tw, out, true);
        double coded = dfm_psnr_u8(buf, out, th * tw * C);
        pthread_mutex_lock(&j->mu);
        j->se_float += pow(10.0, -rep.psnr_float / 10.0) * (double)(th * tw * C);
        j->done++;
        if (nt > 1) {
            char detail[64];
            snprintf(detail, sizeof detail, "tile %lld: %dx%d, %.2f dB", (long long)t + 1,
                     code->width, code->depth, coded);
            nota_progress(j->host, "tiles", (double)j->done, (double)nt, detail);
        }
        pthread_mutex_unlock(&j->mu);
    }
    dfm_net_free(net);
    free(buf), free(out);
    return st;
}

static void tile_worker(void *ctx, size_t begin, size_t end) {
    tile_job *j = ctx;
    (void)begin, (void)end;
    int64_t nt = j->ic->rows * j->ic->cols;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int64_t t = j->st ? nt : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (t >= nt) return;
        nota_status st = fit_tile(j, t);
        if (st) {
            pthread_mutex_lock(&j->mu);
            if (!j->st) {
                j->st = st;
                snprintf(j->err, sizeof j->err, "%s", nota_last_error());
            }
            pthread_mutex_unlock(&j->mu);
            return;
        }
    }
}

static nota_status fit_tiles(tile_job *j) {
    int64_t nt = j->ic->rows * j->ic->cols;
    int threads = j->host ? j->host->threads : 1;
    if (pthread_mutex_init(&j->mu, NULL) != 0)
        return nota_error(NOTA_ENOMEM, "dfm: cannot create a mutex");
    nota_status st = NOTA_OK;
    if (nt < 2 || threads < 2) {
        for (int64_t t = 0; t < nt && !st; t++)
            st = fit_tile(j, t);
    } else {
        j->parallel = true;
        j->quiet = *j->host;
        j->quiet.progress = NULL;
        nota_parallel_for((size_t)(threads < nt ? threads : nt), 1, tile_worker, j);
        if (j->st) st = nota_error(j->st, "%s", j->err);
    }
    pthread_mutex_destroy(&j->mu);
    return st;
}

/* The networks of a grid of th×tw tiles over an h×w image at `budget`
 * bytes, as compress will choose them: their total weight count, and the
 * widest one's width in *max_width. */
static int64_t grid_weights(int64_t h, int64_t w, int64_t th, int64_t tw, int C, int bits,
                            double budget, int *max_width) {
    int64_t rows = (h + th - 1) / th, cols = (w + tw - 1) / tw, total = 0;
    bool tiled = rows * cols > 1;
    double share = tiled ? budget - v2_overhead(h, w, th, tw) : budget;
    *max_width = 0;
    /* interior tiles, the last row, the last column and the corner */
    int64_t hs[2] = {th, h - (rows - 1) * th}, ws[2] = {tw, w - (cols - 1) * tw};
    int64_t nr[2] = {rows - 1, 1}, nc[2] = {cols - 1, 1};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            if (!nr[i] || !nc[j]) continue;
            int width, depth;
            choose_arch(C, bits, share * (double)(hs[i] * ws[j]) / (double)(h * w),
                        tiled ? DFM_TILE_OVERHEAD : v1_overhead(h, w), 0, 0, &width, &depth);
            total += nr[i] * nc[j] * dfm_net_weight_count(width, depth, C);
            if (width > *max_width) *max_width = width;
        }
    return total;
}

/* The automatic tile side for an h×w image of C channels at `budget`
 * bytes: the fewest tiles per side (k) whose networks are at most
 * DFM_TILE_MAX_WIDTH wide; then, among k and the next DFM_TILE_MORE_K
 * grids whose networks are exactly that wide, the one with the most
 * weights in all (a 4×5 network is 512 weights, a 4×4 384: more 4×4 tiles
 * can fill a budget that fewer 4×5 tiles leave a third unused). */
static int64_t auto_tile(int64_t h, int64_t w, int C, int bits, double budget) {
    int64_t side = h > w ? h : w, best = side, best_n = -1, k0 = 0;
    for (int64_t k = 1; !k0 || k <= k0 + DFM_TILE_MORE_K; k++) {
        int64_t t = (side + k - 1) / k;
        int64_t th = tile_pitch(h, t), tw = tile_pitch(w, t);
        if (t < DFM_TILE_MIN_SIDE || ((h + th - 1) / th) * ((w + tw - 1) / tw) > DFM_MAX_TILES)
            return best;
        int width;
        int64_t n = grid_weights(h, w, th, tw, C, bits, budget, &width);
        if (!k0) {
            best = t;
            if (width > DFM_TILE_MAX_WIDTH) continue;
            k0 = k, best_n = n;
        } else if (width == DFM_TILE_MAX_WIDTH && n > best_n) {
            best = t, best_n = n;
        }
    }
    return best;
}

nota_status dfm_compress(const nota_config *cfg, const nota_tensor *image, double bpp,
                         const nota_host *host, uint8_t **bytes, size_t *n) {
    *bytes = NULL, *n = 0;
    nota_status st = check_image(image);
    if (st) return st;
    if (!isfinite(bpp) || bpp <= 0.0 || bpp > 64.0)
        return nota_error(NOTA_EINVAL, "dfm: bits per pixel %g out of range (0, 64]", bpp);
    settings s;
    st = read_settings(cfg, &s);
    if (st) return st;
    int C = (int)image->shape[0];
    int64_t h = image->shape[1], w = image->shape[2];
    double budget = bpp * (double)(h * w) / 8.0;
    int64_t tile = s.tile               ? s.tile
                   : s.width || s.depth ? 0
                                        : auto_tile(h, w, C, (int)s.bits, budget);
    dfm_image_code ic = {.channels = C,
                         .bits = (int)s.bits,
                         .h = h,
                         .w = w,
                         .tile_h = tile_pitch(h, tile),
                         .tile_w = tile_pitch(w, tile)};
    ic.coord_scale_h = dfm_half_from_float((float)s.coord_scale);
    uint8_t *render = malloc((size_t)(h * w * C));
    if (!render) return nota_error(NOTA_ENOMEM, "dfm: cannot allocate the rendered image");
    int64_t grid = ((h + ic.tile_h - 1) / ic.tile_h) * ((w + ic.tile_w - 1) / ic.tile_w);
    if (grid > DFM_MAX_TILES) {
        free(render);
        return nota_error(NOTA_EINVAL,
                          "dfm: tile=%lld cuts the %lldx%lld image into %lld tiles, more than %d: "
                          "give a larger tile",
                          (long long)tile, (long long)w, (long long)h, (long long)grid,
                          DFM_MAX_TILES);
    }
    st = dfm_image_code_alloc(&ic);
    int64_t nt = st ? 0 : ic.rows * ic.cols;
    double share = nt > 1 ? budget - v2_overhead(h, w, ic.tile_h, ic.tile_w) : budget;
    nota_log(host, NOTA_LOG_INFO, "dfm: budget %.0f bytes", budget);
    if (nt > 1)
        nota_log(host, NOTA_LOG_INFO, "dfm: %lld tiles of %lldx%lld (%lld rows, %lld columns)",
                 (long long)nt, (long long)ic.tile_w, (long long)ic.tile_h, (long long)ic.rows,
                 (long long)ic.cols);
    tile_job job = {
        .s = &s, .image = image, .host = host, .ic = &ic, .render = render, .share = share};
    if (!st) st = fit_tiles(&job);
    if (!st) st = dfm_encode(&ic, bytes, n);
    if (!st)
        nota_log(
            host, NOTA_LOG_INFO, "dfm: %zu bytes (%.4f bpp), PSNR %.2f dB float, %.2f dB coded", *n,
            8.0 * (double)*n / (double)(h * w), -10.0 * log10(job.se_float / (double)(h * w * C)),
            dfm_psnr_u8(nota_tensor_u8(image), render, h * w * C));
    free(render);
    dfm_image_code_free(&ic);
    return st;
}

nota_status dfm_decompress(const uint8_t *bytes, size_t n, const nota_host *host,
                           nota_tensor **image) {
    *image = NULL;
    dfm_image_code ic;
    nota_status st = dfm_decode(bytes, n, &ic);
    if (st) return st;
    int64_t shape[3] = {ic.channels, ic.h, ic.w}, nt = ic.rows * ic.cols;
    uint8_t *tile = malloc((size_t)(ic.tile_h * ic.tile_w * ic.channels));
    st = tile ? nota_tensor_new(NOTA_U8, 3, shape, image)
              : nota_error(NOTA_ENOMEM, "dfm: cannot allocate a %lldx%lld tile",
                           (long long)ic.tile_w, (long long)ic.tile_h);
    for (int64_t t = 0; t < nt && !st; t++) {
        dfm_net *net = NULL;
        const dfm_code *c = &ic.tiles[t];
        int64_t y0, x0;
        dfm_tile_origin(&ic, t, &y0, &x0);
        st = dfm_code_to_net(c, host ? host->threads : 1, &net);
        if (!st) st = dfm_net_render(net, c->h, c->w, DFM_RENDER_BATCH, tile);
        if (!st)
            tile_copy(nota_tensor_u8(*image), ic.channels, ic.h, ic.w, y0, x0, c->h, c->w, tile,
                      true);
        dfm_net_free(net);
    }
    if (st && *image) {
        nota_tensor_free(*image);
        *image = NULL;
    }
    free(tile);
    dfm_image_code_free(&ic);
    return st;
}
