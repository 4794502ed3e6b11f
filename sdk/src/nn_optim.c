/* Optimizers (Adam, SGD with momentum) and learning-rate schedules.
 *
 * An optimizer holds borrowed (value, grad) pairs of the parameters it was
 * given plus its own state per element (Adam's two moments, SGD's momentum
 * buffer). The update maths is in nn_kernels.h. Adam follows PyTorch's
 * torch.optim.Adam (bias-corrected moments, eps added after the square
 * root) so that loss curves can be compared step for step; weight decay is
 * either classic L2 (added to the gradient, torch.optim.Adam's
 * weight_decay) or decoupled (AdamW: w -= lr·wd·w before the step).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_kernels.h"
#include "nn_optim_internal.h"
#include "nn_vmath.h"
#include "parallel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define NN_PI 3.14159265358979323846

float nota_nn_schedule_lr(const nota_nn_schedule *s, int64_t step) {
    if (!s) return 0.0f;
    if (s->kind == NOTA_NN_LR_CONSTANT || s->total_steps < 1) return s->lr;
    if (step >= s->total_steps) return s->lr_end;
    double t = step < 0 ? 0.0 : (double)step / (double)s->total_steps;
    if (s->kind == NOTA_NN_LR_LINEAR) return (float)(s->lr + (s->lr_end - s->lr) * t);
    return (float)(s->lr_end + (s->lr - s->lr_end) * 0.5 * (1.0 + cos(NN_PI * t)));
}

static nota_status check_schedule(const char *who, const nota_nn_schedule *s) {
    if ((int)s->kind < 0 || (int)s->kind > 2)
        return nota_error(NOTA_EINVAL, "%s: unknown schedule kind %d", who, (int)s->kind);
    if (!(s->lr >= 0.0f && isfinite(s->lr)))
        return nota_error(NOTA_EINVAL, "%s: learning rate %g must be finite and >= 0", who,
                          (double)s->lr);
    if (s->kind != NOTA_NN_LR_CONSTANT) {
        if (!(s->lr_end >= 0.0f && isfinite(s->lr_end)))
            return nota_error(NOTA_EINVAL, "%s: final learning rate %g must be finite and >= 0",
                              who, (double)s->lr_end);
        if (s->total_steps < 1)
            return nota_error(NOTA_EINVAL, "%s: schedule total_steps %lld must be >= 1", who,
                              (long long)s->total_steps);
    }
    return NOTA_OK;
}

nota_nn_adam_opts nota_nn_adam_defaults(void) {
    nota_nn_adam_opts o;
    memset(&o, 0, sizeof o);
    o.schedule.kind = NOTA_NN_LR_CONSTANT;
    o.schedule.lr = 1e-3f;
    o.schedule.lr_end = 1e-3f;
    o.beta1 = 0.9f, o.beta2 = 0.999f, o.eps = 1e-8f;
    o.wd_mode = NOTA_NN_WD_L2;
    return o;
}

nota_status nota_nn_adam_new(const nota_nn_adam_opts *o, nota_nn_optim **opt) {
    if (!o || !opt) return nota_error(NOTA_EINVAL, "nota_nn_adam_new: opts or opt is NULL");
    *opt = NULL;
    nota_status st = check_schedule("adam", &o->schedule);
    if (st) return st;
    if (!(o->beta1 >= 0.0f && o->beta1 < 1.0f && o->beta2 >= 0.0f && o->beta2 < 1.0f))
        return nota_error(NOTA_EINVAL, "adam: betas (%g, %g) must be in [0, 1)", (double)o->beta1,
                          (double)o->beta2);
    if (!(o->eps > 0.0f) || !(o->weight_decay >= 0.0f))
        return nota_error(NOTA_EINVAL, "adam: eps %g must be > 0 and weight_decay %g >= 0",
                          (double)o->eps, (double)o->weight_decay);
    if (o->wd_mode != NOTA_NN_WD_L2 && o->wd_mode != NOTA_NN_WD_DECOUPLED)
        return nota_error(NOTA_EINVAL, "adam: unknown weight-decay mode %d", (int)o->wd_mode);
    nota_nn_optim *p = calloc(1, sizeof *p);
    if (!p) return nota_error(NOTA_ENOMEM, "adam: allocation failed");
    p->kind = OPT_ADAM;
    p->adam = *o;
    *opt = p;
    return NOTA_OK;
}

nota_status nota_nn_sgd_new(const nota_nn_sgd_opts *o, nota_nn_optim **opt) {
    if (!o || !opt) return nota_error(NOTA_EINVAL, "nota_nn_sgd_new: opts or opt is NULL");
    *opt = NULL;
    nota_status st = check_schedule("sgd", &o->schedule);
    if (st) return st;
    if (!(o->momentum >= 0.0f && o->momentum < 1.0f) || !(o->weight_decay >= 0.0f))
        return nota_error(NOTA_EINVAL,
                          "sgd: momentum %g must be in [0, 1) and weight_decay %g >= 0",
                          (double)o->momentum, (double)o->weight_decay);
    if (o->wd_mode != NOTA_NN_WD_L2 && o->wd_mode != NOTA_NN_WD_DECOUPLED)
        return nota_error(NOTA_EINVAL, "sgd: unknown weight-decay mode %d", (int)o->wd_mode);
    nota_nn_optim *p = calloc(1, sizeof *p);
    if (!p) return nota_error(NOTA_ENOMEM, "sgd: allocation failed");
    p->kind = OPT_SGD;
    p->sgd = *o;
    *opt = p;
    return NOTA_OK;
}

void nota_nn_optim_free(nota_nn_optim *opt) {
    if (!opt) return;
    for (size_t i = 0; i < opt->n; i++) {
        free(opt->slots[i].m);
        free(opt->slots[i].v);
    }
    free(opt->slots);
    free(opt);
}

static nota_status add_param(nota_nn_optim *opt, const nota_nn_param *prm) {
    if (!prm->trainable) return NOTA_OK;
    /* registering a net twice would apply every update twice */
    for (size_t i = 0; i < opt->n; i++)
        if (opt->slots[i].value == prm->value)
            return nota_error(NOTA_EINVAL, "optimizer: parameter '%s' is already registered",
                              prm->name);
    if (opt->n == opt->cap) {
        size_t cap = opt->cap ? 2 * opt->cap : 16;
        opt_slot *s = realloc(opt->slots, cap * sizeof *s);
        if (!s) return nota_error(NOTA_ENOMEM, "optimizer: cannot grow parameter list");
        opt->slots = s, opt->cap = cap;
    }
    size_t n = nota_tensor_numel(prm->value);
    opt_slot *s = &opt->slots[opt->n];
    s->value = prm->value, s->grad = prm->grad;
    s->m = calloc(n, sizeof(float));
    s->v = opt->kind == OPT_ADAM ? calloc(n, sizeof(float)) : NULL;
    if (!s->m || (opt->kind == OPT_ADAM && !s->v)) {
        free(s->m);
        free(s->v);
        return nota_error(NOTA_ENOMEM, "optimizer: cannot allocate state for %zu elements", n);
    }
    opt->n++;
    return NOTA_OK;
}

nota_status nota_nn_optim_add_layer(nota_nn_optim *opt, nota_nn_layer *layer) {
    if (!opt || !layer)
        return nota_error(NOTA_EINVAL, "nota_nn_optim_add_layer: opt or layer is NULL");
    for (size_t i = 0; i < layer->nparams; i++) {
        nota_status st = add_param(opt, &layer->params[i]);
        if (st) return st;
    }
    return NOTA_OK;
}

nota_status nota_nn_optim_add_net(nota_nn_optim *opt, nota_nn_net *net) {
    if (!opt || !net) return nota_error(NOTA_EINVAL, "nota_nn_optim_add_net: opt or net is NULL");
    for (size_t i = 0; i < nota_nn_net_layer_count(net); i++) {
        nota_status st = nota_nn_optim_add_layer(opt, nota_nn_net_layer(net, i));
        if (st) return st;
    }
    return NOTA_OK;
}

float nota_nn_optim_lr(const nota_nn_optim *opt) {
    if (!opt) return 0.0f;
    const nota_nn_schedule *s = opt->kind == OPT_ADAM ? &opt->adam.schedule : &opt->sgd.schedule;
    return nota_nn_schedule_lr(s, opt->step);
}

int64_t nota_nn_optim_steps(const nota_nn_optim *opt) { return opt ? opt->step : 0; }

/* The per-element loops live in their own functions with restrict pointers
 * so that they vectorise. Adam's sqrtf does not: C's sqrtf may set errno, so
 * GCC keeps it scalar (a fifth of a VAE epoch went there). The SSE2 block is
 * nn_adam_update four lanes at a time, operation for operation in the same
 * order (IEEE sqrt and division are exact-rounded in both forms, and no FMA
 * is contracted under -std=c11), so both paths give identical bits. */
static void adam_span(float *restrict w, float *restrict m, float *restrict v,
                      const float *restrict g, size_t n, float step, float l2, float shrink,
                      const nota_nn_adam_opts *o, float rbc2) {
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    size_t i = nn_adam_vec(w, m, v, g, n, step, l2, shrink, b1, b2, eps, rbc2);
#if defined(__SSE2__)
    const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), c1 = _mm_set1_ps(1.0f - b1),
                 c2 = _mm_set1_ps(1.0f - b2), veps = _mm_set1_ps(eps), vstep = _mm_set1_ps(step),
                 vrbc2 = _mm_set1_ps(rbc2), vl2 = _mm_set1_ps(l2), vshr = _mm_set1_ps(shrink);
    for (; i + 4 <= n; i += 4) {
        __m128 wi = _mm_mul_ps(_mm_loadu_ps(w + i), vshr);
        __m128 gi = _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vl2, wi));
        __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(c1, gi));
        __m128 vi =
            _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(c2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), vrbc2), veps);
        _mm_storeu_ps(w + i, _mm_sub_ps(wi, _mm_mul_ps(vstep, _mm_div_ps(mi, den))));
    }
#endif
    for (; i < n; i++) {
        float wi = w[i] * shrink;
        nn_adam_update(&wi, &m[i], &v[i], g[i] + l2 * wi, step, b1, b2, eps, rbc2);
        w[i] = wi;
    }
}

static void sgd_span(float *restrict w, float *restrict b, const float *restrict g, size_t n,
                     float lr, float l2, float shrink, float momentum) {
    for (size_t i = 0; i < n; i++) {
        float wi = w[i] * shrink;
        nn_sgd_update(&wi, &b[i], g[i] + l2 * wi, lr, momentum);
        w[i] = wi;
    }
}

/* One optimizer step over the flattened elements [begin, end) of all slots:
 * the body nota_par_for splits across threads (every element's update is
 * independent, so the result does not depend on the split). */
typedef struct step_ctx {
    nota_nn_optim *opt;
    float lr, step, rbc2, l2, shrink;
} step_ctx;

static void step_body(void *vctx, size_t begin, size_t end) {
    const step_ctx *c = vctx;
    const nota_nn_optim *opt = c->opt;
    size_t base = 0;
    for (size_t s = 0; s < opt->n && base < end; s++) {
        size_t n = nota_tensor_numel(opt->slots[s].value);
        size_t b = begin > base ? begin - base : 0, e = end - base < n ? end - base : n;
        if (b < e) {
            const opt_slot *sl = &opt->slots[s];
            float *w = nn_f(sl->value) + b, *m = sl->m + b;
            const float *g = nn_f(sl->grad) + b;
            if (opt->kind == OPT_ADAM)
                adam_span(w, m, sl->v + b, g, e - b, c->step, c->l2, c->shrink, &opt->adam,
                          c->rbc2);
            else
                sgd_span(w, m, g, e - b, c->lr, c->l2, c->shrink, opt->sgd.momentum);
        }
        base += n;
    }
}

static size_t total_elements(const nota_nn_optim *opt) {
    size_t n = 0;
    for (size_t s = 0; s < opt->n; s++)
        n += nota_tensor_numel(opt->slots[s].value);
    return n;
}

/* Elements per thread below which splitting costs more than it saves (a
 * worker wake-up is some microseconds; 32k Adam updates are ~20 µs). */
#define STEP_GRAIN 32768
#define ZERO_GRAIN 131072

nota_status nota_nn_optim_step(nota_nn_optim *opt) {
    if (!opt) return nota_error(NOTA_EINVAL, "nota_nn_optim_step: opt is NULL");
    step_ctx c = {.opt = opt, .lr = nota_nn_optim_lr(opt)};
    if (opt->kind == OPT_ADAM) {
        const nota_nn_adam_opts *o = &opt->adam;
        double t = (double)(opt->step + 1);
        c.step = (float)(c.lr / (1.0 - pow(o->beta1, t)));
        c.rbc2 = (float)(1.0 / sqrt(1.0 - pow(o->beta2, t)));
        c.l2 = o->wd_mode == NOTA_NN_WD_L2 ? o->weight_decay : 0.0f;
        c.shrink = o->wd_mode == NOTA_NN_WD_DECOUPLED ? 1.0f - c.lr * o->weight_decay : 1.0f;
    } else {
        const nota_nn_sgd_opts *o = &opt->sgd;
        c.l2 = o->wd_mode == NOTA_NN_WD_L2 ? o->weight_decay : 0.0f;
        c.shrink = o->wd_mode == NOTA_NN_WD_DECOUPLED ? 1.0f - c.lr * o->weight_decay : 1.0f;
    }
    nota_par_for(total_elements(opt), STEP_GRAIN, step_body, &c);
    opt->step++;
    return NOTA_OK;
}

static void zero_body(void *vopt, size_t begin, size_t end) {
    const nota_nn_optim *opt = vopt;
    size_t base = 0;
    for (size_t s = 0; s < opt->n && base < end; s++) {
        size_t n = nota_tensor_numel(opt->slots[s].grad);
        size_t b = begin > base ? begin - base : 0, e = end - base < n ? end - base : n;
        if (b < e) memset(nn_f(opt->slots[s].grad) + b, 0, (e - b) * sizeof(float));
        base += n;
    }
}

void nota_nn_optim_zero_grad(nota_nn_optim *opt) {
    if (!opt) return;
    nota_par_for(total_elements(opt), ZERO_GRAIN, zero_body, opt);
}
