/* Model files through the public API: building one, a bit-exact round trip
 * through disk, and atomic saves (missing folder, a write that fails midway,
 * a rename that fails, a saving process killed at random moments). Hostile
 * files crafted byte by byte are in test_modelfile_hostile.c.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nota/modelfile.h"
#include "nota/plugin.h"

static char dir[64];

static void make_dir(void) {
    strcpy(dir, "/tmp/nota_mf_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (remove(p) != 0) { /* a folder made by a test: one level deep */
                char cmd[1100];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
                cr_assert_eq(system(cmd), 0);
            }
        }
    closedir(d);
    rmdir(dir);
}

TestSuite(modelfile, .init = make_dir, .fini = remove_dir);

/* Number of entries in dir (temp files left behind show up here). */
static int dir_entries(void) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static float f32_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static double f64_bits(uint64_t bits) {
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static void add_f32(nota_modelfile *mf, const char *name, int ndim, const int64_t *shape,
                    const float *vals) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, ndim, shape, &t), NOTA_OK);
    memcpy(t->data, vals, t->nbytes);
    cr_assert_eq(nota_modelfile_add_tensor(mf, name, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
}

/* A model using every feature: typed config with awkward doubles, f32 with
 * NaN payload / -0 / denormal / inf, u8, metrics, metadata, nested models. */
static nota_modelfile *rich_model(void) {
    nota_modelfile *mf, *prior, *inner;
    cr_assert_eq(nota_modelfile_new("flow", 3, &mf), NOTA_OK);
    nota_config *cfg;
    cr_assert_eq(nota_config_new(&cfg), NOTA_OK);
    nota_config_set_int(cfg, "steps", INT64_MIN + 1);
    nota_config_set_float(cfg, "lr", f64_bits(UINT64_C(0x3fb999999999999a)));
    nota_config_set_float(cfg, "tiny", f64_bits(1));
    nota_config_set_float(cfg, "negzero", -0.0);
    nota_config_set_string(cfg, "prior", "gaussian \xc3\xbc");
    nota_config_set_bool(cfg, "ema", true);
    cr_assert_eq(nota_modelfile_set_config(mf, cfg), NOTA_OK);
    nota_config_free(cfg);

    float mean[4] = {f32_bits(0x7fc01234), -0.0f, f32_bits(1), INFINITY};
    add_f32(mf, "mean", 1, (int64_t[]){4}, mean);
    nota_tensor *img;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 3, (int64_t[]){2, 3, 4}, &img), NOTA_OK);
    for (int i = 0; i < 24; i++) nota_tensor_u8(img)[i] = (uint8_t)(i * 11);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "img", img), NOTA_OK);
    nota_tensor_free(img);
    cr_assert_eq(nota_modelfile_set_metric(mf, "nll", 1.25), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_metric(mf, "fid", 3e10), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_metric(mf, "nll", 0.75), NOTA_OK); /* replaces */
    cr_assert_eq(nota_modelfile_set_dataset(mf, "fashion-mnist:train"), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_train_seconds(mf, 12.5), NOTA_OK);

    cr_assert_eq(nota_modelfile_new("latent", 1, &prior), NOTA_OK);
    add_f32(prior, "w", 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    cr_assert_eq(nota_modelfile_set_metric(prior, "kl", 0.5), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("gauss", 2, &inner), NOTA_OK);
    add_f32(inner, "scalar", 0, NULL, (float[]){42});
    cr_assert_eq(nota_modelfile_add_submodel(prior, "base", inner), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_submodel(mf, "prior", prior), NOTA_OK);
    return mf;
}

static void assert_same_tensors(const nota_modelfile *a, const nota_modelfile *b) {
    cr_assert_eq(nota_modelfile_tensor_count(a), nota_modelfile_tensor_count(b));
    for (size_t i = 0; i < nota_modelfile_tensor_count(a); i++) {
        const char *name = nota_modelfile_tensor_name(a, i);
        cr_assert_str_eq(nota_modelfile_tensor_name(b, i), name);
        const nota_tensor *ta, *tb;
        cr_assert_eq(nota_modelfile_get_tensor(a, name, &ta), NOTA_OK);
        cr_assert_eq(nota_modelfile_get_tensor(b, name, &tb), NOTA_OK);
        cr_assert_eq(ta->dtype, tb->dtype);
        cr_assert(nota_tensor_same_shape(ta, tb));
        cr_assert_eq(ta->nbytes, tb->nbytes);
        cr_assert_eq(memcmp(ta->data, tb->data, ta->nbytes), 0, "tensor '%s' bits differ", name);
    }
}

static void assert_same(const nota_modelfile *a, const nota_modelfile *b) {
    cr_assert_str_eq(nota_modelfile_plugin(a), nota_modelfile_plugin(b));
    cr_assert_eq(nota_modelfile_plugin_version(a), nota_modelfile_plugin_version(b));
    cr_assert_eq(nota_modelfile_abi_version(b), NOTA_ABI_VERSION);
    const nota_config *ca = nota_modelfile_config(a), *cb = nota_modelfile_config(b);
    cr_assert_eq(nota_config_count(ca), nota_config_count(cb));
    for (size_t i = 0; i < nota_config_count(ca); i++) {
        const char *key = nota_config_key(ca, i);
        cr_assert_str_eq(nota_config_key(cb, i), key);
        cr_assert_eq(nota_config_type(ca, i), nota_config_type(cb, i));
        if (nota_config_type(ca, i) == NOTA_VAL_FLOAT) {
            double x, y;
            nota_config_get_float(ca, key, &x);
            nota_config_get_float(cb, key, &y);
            cr_assert_eq(memcmp(&x, &y, 8), 0, "config '%s' bits differ", key);
        } else {
            char va[64], vb[64];
            cr_assert_str_eq(nota_config_value_str(ca, i, va, sizeof va),
                             nota_config_value_str(cb, i, vb, sizeof vb));
        }
    }
    assert_same_tensors(a, b);
    cr_assert_eq(nota_modelfile_metric_count(a), nota_modelfile_metric_count(b));
    for (size_t i = 0; i < nota_modelfile_metric_count(a); i++) {
        double x, y;
        cr_assert_str_eq(nota_modelfile_metric_name(a, i, &x), nota_modelfile_metric_name(b, i, &y));
        cr_assert_eq(memcmp(&x, &y, 8), 0);
    }
    cr_assert_str_eq(nota_modelfile_dataset(a), nota_modelfile_dataset(b));
    cr_assert_eq(nota_modelfile_train_seconds(a), nota_modelfile_train_seconds(b));
    cr_assert_eq(nota_modelfile_submodel_count(a), nota_modelfile_submodel_count(b));
    for (size_t i = 0; i < nota_modelfile_submodel_count(a); i++) {
        const char *name = nota_modelfile_submodel_name(a, i);
        const nota_modelfile *sa, *sb;
        cr_assert_eq(nota_modelfile_get_submodel(a, name, &sa), NOTA_OK);
        cr_assert_eq(nota_modelfile_get_submodel(b, name, &sb), NOTA_OK);
        assert_same(sa, sb);
    }
}

Test(modelfile, round_trip_is_bit_exact) {
    nota_modelfile *mf = rich_model(), *back;
    char path[128];
    snprintf(path, sizeof path, "%s/m.nota", dir);
    int64_t before = (int64_t)time(NULL);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    assert_same(mf, back);
    cr_assert_eq(nota_modelfile_created_unix(mf), 0); /* the in-memory model is const */
    int64_t created = nota_modelfile_created_unix(back);
    cr_assert(created >= before && created <= (int64_t)time(NULL));
    const nota_modelfile *prior;
    cr_assert_eq(nota_modelfile_get_submodel(back, "prior", &prior), NOTA_OK);
    cr_assert_str_eq(nota_modelfile_plugin(prior), "latent");
    cr_assert_eq(nota_modelfile_submodel_count(prior), 1u);
    cr_assert_eq(dir_entries(), 1, "no temp file left behind");
    nota_modelfile_free(mf);
    nota_modelfile_free(back);
}

Test(modelfile, empty_model_round_trips) {
    nota_modelfile *mf, *back;
    char path[128];
    snprintf(path, sizeof path, "%s/e.nota", dir);
    cr_assert_eq(nota_modelfile_new("gauss", 0, &mf), NOTA_OK);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    assert_same(mf, back);
    cr_assert_str_eq(nota_modelfile_dataset(back), "");
    nota_modelfile_free(mf);
    nota_modelfile_free(back);
}

Test(modelfile, api_refusals) {
    nota_modelfile *mf;
    const nota_tensor *t;
    double v;
    cr_assert_eq(nota_modelfile_new("", 1, &mf), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "plugin name is empty");
    cr_assert_eq(nota_modelfile_new("flow", 1, &mf), NOTA_OK);
    add_f32(mf, "w", 1, (int64_t[]){1}, (float[]){1});
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new_2d(1, 1, &x), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "w", x), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "model file of 'flow' already has a tensor 'w'");
    cr_assert_eq(nota_modelfile_add_tensor(mf, "bad\xff", x), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "tensor name is not valid UTF-8 (byte 3)");
    char longname[NOTA_MODEL_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(nota_modelfile_add_tensor(mf, longname, x), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "tensor name is 257 bytes, longer than 256");
    x->device.kind = NOTA_DEVICE_CUDA;
    cr_assert_eq(nota_modelfile_add_tensor(mf, "gpu", x), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "tensor 'gpu' is not on the CPU; copy it there to save it");
    x->device.kind = NOTA_DEVICE_CPU;
    nota_tensor_free(x);
    cr_assert_eq(nota_modelfile_get_tensor(mf, "nope", &t), NOTA_ENOTFOUND);
    cr_assert_null(t);
    cr_assert_str_eq(nota_last_error(), "model file of 'flow' has no tensor 'nope'");
    cr_assert_eq(nota_modelfile_get_metric(mf, "fid", &v), NOTA_ENOTFOUND);
    cr_assert_str_eq(nota_last_error(), "model file of 'flow' has no metric 'fid'");
    nota_modelfile *sub, *sub2;
    const nota_modelfile *got;
    cr_assert_eq(nota_modelfile_new("latent", 1, &sub), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_submodel(mf, "p", sub), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("latent", 1, &sub2), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_submodel(mf, "p", sub2), NOTA_EINVAL); /* sub2 freed */
    cr_assert_str_eq(nota_last_error(), "model file of 'flow' already has a submodel 'p'");
    cr_assert_eq(nota_modelfile_add_submodel(sub, "loop", mf), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "submodel 'loop' already holds the model it is added to");
    cr_assert_eq(nota_modelfile_get_submodel(mf, "q", &got), NOTA_ENOTFOUND);
    cr_assert_str_eq(nota_last_error(), "model file of 'flow' has no submodel 'q'");
    nota_modelfile_free(mf);
}

Test(modelfile, nesting_is_bounded_when_building) {
    /* 31 levels of models fit in 64 messages (model at level k is message
     * 2k+1, its metrics 2k+3); the 32nd level is refused at add time. */
    nota_modelfile *chain;
    cr_assert_eq(nota_modelfile_new("leaf", 1, &chain), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_metric(chain, "m", 1), NOTA_OK);
    for (int level = 2; level <= 31; level++) {
        nota_modelfile *parent;
        cr_assert_eq(nota_modelfile_new("node", 1, &parent), NOTA_OK);
        cr_assert_eq(nota_modelfile_add_submodel(parent, "s", chain), NOTA_OK, "%s",
                     nota_last_error());
        chain = parent;
    }
    char path[128];
    nota_modelfile *back, *top;
    snprintf(path, sizeof path, "%s/deep.nota", dir);
    cr_assert_eq(nota_modelfile_save(chain, path), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(back);
    cr_assert_eq(nota_modelfile_new("top", 1, &top), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_submodel(top, "s", chain), NOTA_ELIMIT);
    cr_assert_str_eq(nota_last_error(),
                     "submodel 's': nesting would reach 32 levels of models, more than 31");
    nota_modelfile_free(top);
}

Test(modelfile, default_limits_follow_the_environment) {
    unsetenv("NOTA_MODEL_MAX_BYTES");
    nota_model_limits l = nota_modelfile_default_limits();
    cr_assert_eq(l.max_file_bytes, UINT64_C(4) << 30);
    cr_assert_eq(l.max_alloc_bytes, 0u);
    cr_assert_eq(l.max_depth, NOTA_MODEL_MAX_DEPTH);
    setenv("NOTA_MODEL_MAX_BYTES", "1000", 1);
    cr_assert_eq(nota_modelfile_default_limits().max_file_bytes, 1000u);
    setenv("NOTA_MODEL_MAX_BYTES", "12kb", 1); /* not a byte count: default kept */
    cr_assert_eq(nota_modelfile_default_limits().max_file_bytes, UINT64_C(4) << 30);
    setenv("NOTA_MODEL_MAX_BYTES", "100", 1);
    nota_modelfile *mf, *back;
    char path[128], want[1024];
    snprintf(path, sizeof path, "%s/m.nota", dir);
    mf = rich_model();
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK);
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_ELIMIT);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    snprintf(want, sizeof want,
             "model '%s': %lld bytes exceeds the limit of 100 bytes (NOTA_MODEL_MAX_BYTES raises it)",
             path, (long long)sb.st_size);
    cr_assert_str_eq(nota_last_error(), want);
    nota_modelfile_free(mf);
}

Test(modelfile, load_refuses_missing_and_non_regular_files) {
    nota_modelfile *back;
    char path[128], want[1024];
    snprintf(path, sizeof path, "%s/absent.nota", dir);
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_EIO);
    cr_assert_null(back);
    snprintf(want, sizeof want, "model '%s': cannot open: No such file or directory", path);
    cr_assert_str_eq(nota_last_error(), want);
    cr_assert_eq(nota_modelfile_load(dir, NULL, &back), NOTA_EIO);
    snprintf(want, sizeof want, "model '%s': not a regular file", dir);
    cr_assert_str_eq(nota_last_error(), want);
}

Test(modelfile, save_into_missing_folder) {
    nota_modelfile *mf = rich_model();
    char path[128], want[1024];
    snprintf(path, sizeof path, "%s/nope/m.nota", dir);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_EIO);
    snprintf(want, sizeof want,
             "saving model '%s': folder '%s/nope' cannot be opened: No such file or directory",
             path, dir);
    cr_assert_str_eq(nota_last_error(), want);
    nota_modelfile_free(mf);
}

/* A model of about 4 MB whose tensor is filled with `fill`. */
static nota_modelfile *big_model(uint8_t fill) {
    nota_modelfile *mf;
    nota_tensor *t;
    cr_assert_eq(nota_modelfile_new("big", fill, &mf), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_U8, 2, (int64_t[]){1024, 4096}, &t), NOTA_OK);
    memset(t->data, fill, t->nbytes);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "w", t), NOTA_OK);
    nota_tensor_free(t);
    return mf;
}

/* The file at path is a valid big_model; returns its fill byte. */
static int loaded_fill(const char *path) {
    nota_modelfile *back;
    const nota_tensor *t;
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_get_tensor(back, "w", &t), NOTA_OK);
    const uint8_t *p = nota_tensor_u8(t);
    int fill = p[0];
    for (size_t i = 0; i < t->nbytes; i++) cr_assert_eq(p[i], fill);
    cr_assert_eq(nota_modelfile_plugin_version(back), (uint32_t)fill);
    nota_modelfile_free(back);
    return fill;
}

Test(modelfile, failed_write_leaves_old_file_and_no_temp) {
    char path[128];
    snprintf(path, sizeof path, "%s/m.nota", dir);
    nota_modelfile *small, *big = big_model(7);
    cr_assert_eq(nota_modelfile_new("small", 1, &small), NOTA_OK);
    cr_assert_eq(nota_modelfile_save(small, path), NOTA_OK);
    /* Files may not grow past 64 KiB: writing the 4 MB temp file fails
     * midway with EFBIG (Criterion runs each test in its own process). */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    nota_status st = nota_modelfile_save(big, path);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_assert_eq(st, NOTA_EIO);
    char want[1024];
    snprintf(want, sizeof want, "saving model '%s': writing temp file '%s.tmp.", path, path);
    cr_assert(strstr(nota_last_error(), want) == nota_last_error(), "%s", nota_last_error());
    cr_assert(strstr(nota_last_error(), "' failed: File too large"), "%s", nota_last_error());
    cr_assert_eq(dir_entries(), 1, "the temp file was removed");
    nota_modelfile *back;
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    cr_assert_str_eq(nota_modelfile_plugin(back), "small");
    nota_modelfile_free(back);
    nota_modelfile_free(small);
    nota_modelfile_free(big);
}

Test(modelfile, failed_rename_removes_the_temp) {
    char path[128], inside[160];
    snprintf(path, sizeof path, "%s/taken", dir);
    snprintf(inside, sizeof inside, "%s/keep", path);
    cr_assert_eq(mkdir(path, 0755), 0);
    FILE *f = fopen(inside, "w"); /* a non-empty folder cannot be renamed over */
    cr_assert_not_null(f);
    fclose(f);
    nota_modelfile *mf = rich_model();
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_EIO);
    cr_assert(strstr(nota_last_error(), "' over it failed: Is a directory"), "%s", nota_last_error());
    cr_assert_eq(dir_entries(), 1, "only the folder remains");
    cr_assert_eq(access(inside, F_OK), 0);
    nota_modelfile_free(mf);
}

Test(modelfile, killed_saves_leave_old_or_new_file) {
    char path[128];
    snprintf(path, sizeof path, "%s/m.nota", dir);
    nota_modelfile *a = big_model(1), *b = big_model(2);
    cr_assert_eq(nota_modelfile_save(a, path), NOTA_OK);
    srand(1234);
    int seen[3] = {0}, temps = 0;
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) { /* save a and b in turn until killed */
            for (int i = 0;; i++) nota_modelfile_save(i % 2 ? a : b, path);
        }
        usleep((useconds_t)(rand() % 40000));
        kill(pid, SIGKILL);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        seen[loaded_fill(path)]++;
        /* A kill between mkstemp and rename leaves a temp file: nothing can
         * clean up after SIGKILL. It must be a temp, never the target. */
        DIR *d = opendir(dir);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "m.nota"))
                continue;
            cr_assert(strncmp(e->d_name, "m.nota.tmp.", 11) == 0, "stray file %s", e->d_name);
            temps++;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    cr_assert_eq(seen[1] + seen[2], 8);
    cr_log_info("kills: %d left model a, %d model b, %d a temp file", seen[1], seen[2],
                temps);
    nota_modelfile_free(a);
    nota_modelfile_free(b);
}
