/* latent kind `gaussian`: the density, codes, samples and saved files match
 * the closed-form Gaussian computed independently here in double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_util.h"

#define D 5

/* N samples of x = mu + A e with a fixed mixing matrix A, so cov = A A^T. */
static nota_tensor *correlated(int64_t n, uint64_t seed, double cov[D][D], double mu[D]) {
    static const double A[D][D] = {{2.0, 0, 0, 0, 0},
                                   {0.8, 1.0, 0, 0, 0},
                                   {-0.5, 0.3, 0.5, 0, 0},
                                   {0.1, 0.2, 0.3, 0.25, 0},
                                   {1.0, -1.0, 0.5, 0.2, 0.1}};
    for (int i = 0; i < D; i++) {
        mu[i] = 10.0 * i - 7.0;
        for (int j = 0; j < D; j++) {
            cov[i][j] = 0;
            for (int k = 0; k < D; k++) cov[i][j] += A[i][k] * A[j][k];
        }
    }
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, D, &t), NOTA_OK);
    float *e = malloc((size_t)n * D * sizeof *e);
    nota_rng_fill_normal(seed, 7, e, (size_t)n * D);
    float *x = nota_tensor_f32(t);
    for (int64_t r = 0; r < n; r++)
        for (int i = 0; i < D; i++) {
            double v = mu[i];
            for (int k = 0; k < D; k++) v += A[i][k] * e[r * D + k];
            x[r * D + i] = (float)v;
        }
    free(e);
    return t;
}

/* Reference log N(x; m, S) with S given, via Cholesky in double. */
static double ref_logpdf(const float *x, const double m[D], double S[D][D]) {
    double L[D * D];
    memcpy(L, S, sizeof L);
    cr_assert_eq(nota_cholesky(D, L), NOTA_OK);
    double y[D], logdet = 0;
    for (int i = 0; i < D; i++) {
        double s = x[i] - m[i];
        for (int k = 0; k < i; k++) s -= L[i * D + k] * y[k];
        y[i] = s / L[i * D + i];
        logdet += 2 * log(L[i * D + i]);
    }
    double q = 0;
    for (int i = 0; i < D; i++) q += y[i] * y[i];
    return -0.5 * (q + logdet + D * log(2 * M_PI));
}

/* Empirical (MLE) mean and covariance of the data. */
static void moments(const nota_tensor *t, double m[D], double S[D][D]) {
    int64_t n = t->shape[0];
    const float *x = nota_tensor_f32(t);
    for (int i = 0; i < D; i++) {
        m[i] = 0;
        for (int64_t r = 0; r < n; r++) m[i] += x[r * D + i];
        m[i] /= (double)n;
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int64_t r = 0; r < n; r++) s += (x[r * D + i] - m[i]) * (x[r * D + j] - m[j]);
            S[i][j] = s / (double)n;
        }
}

Test(latent_gaussian, log_prob_matches_closed_form) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_model *m = test_create(p, NULL, 0, &h);
    double cov[D][D], mu[D], em[D], es[D][D];
    nota_tensor *x = correlated(4000, 3, cov, mu);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    moments(x, em, es);
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(lp->ndim, 1);
    cr_assert_eq(lp->shape[0], 4000);
    for (int r = 0; r < 4000; r += 97) {
        double ref = ref_logpdf(nota_tensor_f32(x) + r * D, em, es);
        cr_assert_float_eq(nota_tensor_f32(lp)[r], ref, 2e-4 * (1 + fabs(ref)), "row %d", r);
    }
    nota_tensor_free(lp);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(latent_gaussian, codes_are_white_and_decode_inverts_encode) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_model *m = test_create(p, NULL, 0, &h);
    double cov[D][D], mu[D];
    nota_tensor *x = correlated(3000, 5, cov, mu);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK);
    nota_tensor *z, *y;
    cr_assert_eq(p->encode(m, x, &h, &z), NOTA_OK);
    cr_assert_eq(z->shape[1], D);
    double zm[D], zs[D][D];
    moments(z, zm, zs);
    for (int i = 0; i < D; i++) {
        cr_assert_float_eq(zm[i], 0.0, 1e-4);
        for (int j = 0; j < D; j++) cr_assert_float_eq(zs[i][j], i == j ? 1.0 : 0.0, 1e-3);
    }
    cr_assert_eq(p->decode(m, z, &h, &y), NOTA_OK);
    cr_assert(nota_tensor_same_shape(x, y));
    for (size_t i = 0; i < nota_tensor_numel(x); i++) {
        float a = nota_tensor_f32(x)[i], b = nota_tensor_f32(y)[i];
        cr_assert_float_eq(a, b, 1e-4 * (1 + fabsf(a)), "element %zu", i);
    }
    nota_tensor_free(x);
    nota_tensor_free(y);
    nota_tensor_free(z);
    p->destroy(m);
}

Test(latent_gaussian, truncated_k_is_ppca) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    const char *sets[] = {"k=2"};
    nota_model *m = test_create(p, sets, 1, &h);
    double cov[D][D], mu[D], em[D], es[D][D];
    nota_tensor *x = correlated(3000, 11, cov, mu);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK);
    moments(x, em, es);
    /* PPCA covariance from the empirical eigenpairs: V_k L_k V_k^T + s2 (I - V_k V_k^T). */
    double a[D * D], w[D], S[D][D];
    memcpy(a, es, sizeof a);
    cr_assert_eq(nota_syev_desc(D, a, w), NOTA_OK);
    double s2 = (w[2] + w[3] + w[4]) / 3;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double v = (i == j) ? s2 : 0;
            for (int c = 0; c < 2; c++) v += (w[c] - s2) * a[i * D + c] * a[j * D + c];
            S[i][j] = v;
        }
    nota_tensor *lp, *z;
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_OK);
    for (int r = 0; r < 3000; r += 101) {
        double ref = ref_logpdf(nota_tensor_f32(x) + r * D, em, S);
        cr_assert_float_eq(nota_tensor_f32(lp)[r], ref, 2e-4 * (1 + fabs(ref)), "row %d", r);
    }
    cr_assert_eq(p->encode(m, x, &h, &z), NOTA_OK);
    cr_assert_eq(z->shape[1], 2);
    int64_t cs[NOTA_MAX_DIMS];
    cr_assert_eq(p->code_shape(m, cs), 1);
    cr_assert_eq(cs[0], 2);
    nota_tensor_free(z);
    nota_tensor_free(lp);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(latent_gaussian, samples_follow_the_model_and_repeat_per_seed) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(42);
    const char *sets[] = {"k=3"};
    nota_model *m = test_create(p, sets, 1, &h);
    double cov[D][D], mu[D], em[D], es[D][D], sm[D], ss[D][D];
    nota_tensor *x = correlated(5000, 13, cov, mu);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK);
    moments(x, em, es);
    nota_tensor *s1, *s2;
    cr_assert_eq(p->sample(m, 40000, 1.0, &h, &s1), NOTA_OK);
    cr_assert_eq(p->sample(m, 40000, 1.0, &h, &s2), NOTA_OK);
    cr_assert_eq(memcmp(s1->data, s2->data, s1->nbytes), 0, "same seed, different samples");
    moments(s1, sm, ss);
    /* k=3 of 5 keeps the top variances; the total variance is preserved. */
    double tr_data = 0, tr_samp = 0;
    for (int i = 0; i < D; i++) {
        cr_assert_float_eq(sm[i], em[i], 0.05, "mean %d", i);
        tr_data += es[i][i];
        tr_samp += ss[i][i];
    }
    cr_assert_float_eq(tr_samp, tr_data, 0.02 * tr_data);
    nota_tensor_free(s1);
    nota_tensor_free(s2);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(latent_gaussian, constant_column_stays_finite) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_model *m = test_create(p, NULL, 0, &h);
    double cov[D][D], mu[D];
    nota_tensor *x = correlated(500, 17, cov, mu);
    for (int r = 0; r < 500; r++) nota_tensor_f32(x)[r * D + 2] = 3.0f;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK);
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_OK);
    cr_assert_eq(nota_tensor_check_finite(lp, "log_prob"), NOTA_OK);
    nota_tensor_free(lp);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(latent_gaussian, bad_input_is_refused_with_shapes) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_model *m = test_create(p, NULL, 0, &h);
    double cov[D][D], mu[D];
    nota_tensor *x = correlated(100, 1, cov, mu), *other, *lp;
    nota_tensor_f32(x)[7] = NAN;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "training data: item 1, element 2 is NaN (expected finite)");
    nota_tensor_f32(x)[7] = 0;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK);
    cr_assert_eq(nota_tensor_new_2d(4, 7, &other), NOTA_OK);
    cr_assert_eq(p->log_prob(m, other, &h, &lp), NOTA_ESHAPE);
    cr_assert_null(lp);
    cr_assert_str_eq(nota_last_error(),
                     "gaussian log_prob: model expects items of shape (-1, 5), data is (4, 7)");
    nota_tensor_free(other);
    p->destroy(m);

    const char *sets[] = {"k=9"};
    m = test_create(p, sets, 1, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "gaussian fit: k=9 exceeds the data dimension 5");
    nota_tensor_free(x);
    p->destroy(m);
}

Test(latent_gaussian, save_load_reproduces_log_prob_exactly) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    const char *sets[] = {"k=4"};
    nota_model *m = test_create(p, sets, 1, &h);
    double cov[D][D], mu[D];
    nota_tensor *x = correlated(800, 19, cov, mu);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK);
    char path[] = "/tmp/nota_gauss_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    nota_modelfile *back;
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    nota_model *m2;
    cr_assert_eq(p->load(back, &h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(back);
    unlink(path);
    nota_tensor *a, *b;
    cr_assert_eq(p->log_prob(m, x, &h, &a), NOTA_OK);
    cr_assert_eq(p->log_prob(m2, x, &h, &b), NOTA_OK);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0);
    int64_t ds[NOTA_MAX_DIMS];
    cr_assert_eq(p->data_shape(m2, ds), 1);
    cr_assert_eq(ds[0], D);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(x);
    p->destroy(m);
    p->destroy(m2);
}

Test(latent_gaussian, load_refuses_inconsistent_tensors) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("latent", 1, &mf), NOTA_OK);
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, NULL, 0, &cfg), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_config(mf, cfg), NOTA_OK);
    nota_config_free(cfg);
    nota_tensor *mean, *comp, *eig, *res;
    int64_t d = 3, cs[2] = {2, 4}, one = 1, two = 2;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &d, &mean), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, cs, &comp), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &two, &eig), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &one, &res), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "mean", mean), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "components", comp), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "eigenvalues", eig), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "residual_variance", res), NOTA_OK);
    nota_model *m;
    cr_assert_eq(p->load(mf, &h, &m), NOTA_EFORMAT);
    cr_assert_str_eq(nota_last_error(),
                     "gaussian model: tensor 'components' is (2, 4), expected (k, 3) with k <= 3");
    nota_tensor_free(mean);
    nota_tensor_free(comp);
    nota_tensor_free(eig);
    nota_tensor_free(res);
    nota_modelfile_free(mf);
}

/* preprocess=logit: the density of x is the Gaussian density of
 * y = logit(l + (1-2l) x/256) times |dy/dx|, checked against a second model
 * fitted directly to y. */
Test(latent_gaussian, logit_preprocessing_adds_the_jacobian) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    const char *sl[] = {"preprocess=logit", "logit_lambda=0.01"};
    nota_model *ml = test_create(p, sl, 2, &h), *mn = test_create(p, NULL, 0, &h);
    double cov[D][D], mu[D];
    nota_tensor *x = correlated(2000, 23, cov, mu), *y, *lpl, *lpn, *z, *back;
    float *v = nota_tensor_f32(x);
    for (size_t i = 0; i < nota_tensor_numel(x); i++) /* squash into pixel range */
        v[i] = (float)(256.0 / (1.0 + exp(-0.3 * v[i])));
    cr_assert_eq(nota_tensor_clone(x, &y), NOTA_OK);
    double lam = 0.01, *ld = calloc(2000, sizeof *ld);
    for (size_t i = 0; i < nota_tensor_numel(y); i++) {
        double pp = lam + (1 - 2 * lam) * v[i] / 256.0;
        nota_tensor_f32(y)[i] = (float)(log(pp) - log1p(-pp));
        ld[i / D] += log((1 - 2 * lam) / 256.0) - log(pp) - log1p(-pp);
    }
    cr_assert_eq(p->fit(ml, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(mn, y, NULL, &h), NOTA_OK);
    cr_assert_eq(p->log_prob(ml, x, &h, &lpl), NOTA_OK);
    cr_assert_eq(p->log_prob(mn, y, &h, &lpn), NOTA_OK);
    for (int r = 0; r < 2000; r += 37) {
        double ref = nota_tensor_f32(lpn)[r] + ld[r];
        cr_assert_float_eq(nota_tensor_f32(lpl)[r], ref, 1e-3 * (1 + fabs(ref)), "row %d", r);
    }
    cr_assert_eq(p->encode(ml, x, &h, &z), NOTA_OK);
    cr_assert_eq(p->decode(ml, z, &h, &back), NOTA_OK);
    for (size_t i = 0; i < nota_tensor_numel(x); i++)
        cr_assert_float_eq(nota_tensor_f32(back)[i], v[i], 1e-3 * (1 + v[i]), "element %zu", i);
    v[3] = 300.0f;
    nota_tensor *bad;
    cr_assert_eq(p->log_prob(ml, x, &h, &bad), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "log_prob: item 0, element 3 is 300; preprocess=logit "
                                        "expects 8-bit image values in [0, 256]");
    free(ld);
    nota_tensor_free(x);
    nota_tensor_free(y);
    nota_tensor_free(z);
    nota_tensor_free(back);
    nota_tensor_free(lpl);
    nota_tensor_free(lpn);
    p->destroy(ml);
    p->destroy(mn);
}

/* A file written before the preprocess options existed (config without
 * preprocess / logit_lambda) still loads, as plain-data Gaussian. */
Test(latent_gaussian, file_without_preprocess_keys_loads_as_plain) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("latent", 1, &mf), NOTA_OK);
    nota_config *cfg;
    cr_assert_eq(nota_config_new(&cfg), NOTA_OK);
    cr_assert_eq(nota_config_set_string(cfg, "kind", "gaussian"), NOTA_OK);
    cr_assert_eq(nota_config_set_int(cfg, "k", 0), NOTA_OK);
    cr_assert_eq(nota_config_set_float(cfg, "var_floor", 1e-6), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_config(mf, cfg), NOTA_OK);
    nota_config_free(cfg);
    nota_tensor *mean, *comp, *eig, *res, *x, *lp;
    int64_t d = 2, cs[2] = {2, 2}, one = 1;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &d, &mean), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, cs, &comp), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &d, &eig), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &one, &res), NOTA_OK);
    nota_tensor_f32(comp)[0] = nota_tensor_f32(comp)[3] = 1.0f;
    nota_tensor_f32(eig)[0] = nota_tensor_f32(eig)[1] = 1.0f;
    cr_assert_eq(nota_modelfile_add_tensor(mf, "mean", mean), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "components", comp), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "eigenvalues", eig), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "residual_variance", res), NOTA_OK);
    nota_model *m;
    cr_assert_eq(p->load(mf, &h, &m), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_tensor_new_2d(1, 2, &x), NOTA_OK);
    nota_tensor_f32(x)[0] = 300.0f; /* outside [0, 256]: fine without logit */
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_OK, "%s", nota_last_error());
    cr_assert_float_eq(nota_tensor_f32(lp)[0], -0.5 * 300.0 * 300.0 - log(2 * M_PI), 1e-2);
    nota_tensor_free(mean);
    nota_tensor_free(comp);
    nota_tensor_free(eig);
    nota_tensor_free(res);
    nota_tensor_free(x);
    nota_tensor_free(lp);
    nota_modelfile_free(mf);
    p->destroy(m);
}
