/* Datasets: named lookup (NOTA_FASHION_MNIST / NOTA_DATA pointed at a temp
 * folder of tiny synthetic gzip IDX files, so the real data is not needed),
 * spec dispatch, label sibling files, filters, and to_f32. */
#define _XOPEN_SOURCE 700 /* nftw, setenv */
#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "nota/data.h"

#define TMPDIR_PREFIX "nota-ds"
#include "tmpdir.h"
static char msg[1024];

static void write_gz_idx(const char *path, uint32_t magic, const uint32_t *dims, int nd,
                         const uint8_t *payload, size_t n) {
    gzFile g = gzopen(path, "wb");
    cr_assert_not_null(g, "%s", path);
    for (int i = -1; i < nd; i++) {
        uint32_t v = i < 0 ? magic : dims[i];
        unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                              (unsigned char)(v >> 8), (unsigned char)v};
        gzwrite(g, b, 4);
    }
    gzwrite(g, payload, (unsigned)n);
    cr_assert_eq(gzclose(g), Z_OK);
}

/* <folder>/<stem>-{images,labels}: n 2x2 images, image i filled with i*10,
 * labels i % 3. */
static void write_split(const char *folder, const char *stem, uint32_t n, uint32_t nlabels) {
    uint8_t px[64 * 4], lab[64];
    for (uint32_t i = 0; i < n; i++) memset(px + 4 * i, (int)(i * 10), 4);
    for (uint32_t i = 0; i < nlabels; i++) lab[i] = (uint8_t)(i % 3);
    char p[256];
    uint32_t d[3] = {n, 2, 2};
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", folder, stem);
    write_gz_idx(p, 0x00000803, d, 3, px, 4 * n);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", folder, stem);
    write_gz_idx(p, 0x00000801, &nlabels, 1, lab, nlabels);
}

static void fake_fashion(void) {
    write_split(dir, "train", 6, 6);
    write_split(dir, "t10k", 3, 3);
    setenv("NOTA_FASHION_MNIST", dir, 1);
}

TestSuite(dataset, .init = setup, .fini = teardown);

Test(dataset, named_fashion_mnist_train_and_test) {
    fake_fashion();
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", NULL, &ds), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert(ds->x->ndim == 4 && ds->x->shape[0] == 6 && ds->x->shape[1] == 1 &&
              ds->x->shape[2] == 2 && ds->x->shape[3] == 2);
    cr_assert_not_null(ds->labels);
    cr_assert_eq(nota_tensor_u8(ds->labels)[4], 1);
    cr_assert_str_eq(ds->name, "fashion-mnist:train");
    nota_dataset_free(ds);
    cr_assert_eq(nota_dataset_open("fashion-mnist:test", NULL, &ds), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_eq(ds->x->shape[0], 3);
    nota_dataset_free(ds);
}

Test(dataset, label_filter_then_limit) {
    fake_fashion();
    nota_dataset *ds;
    nota_data_filter f = {.label = 1, .limit = 1};
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", &f, &ds), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_eq(ds->x->shape[0], 1);
    cr_assert_eq(nota_tensor_u8(ds->x)[0], 10); /* item 1 is the first with label 1 */
    cr_assert_eq(nota_tensor_u8(ds->labels)[0], 1);
    cr_assert_str_eq(ds->name, "fashion-mnist:train[label=1,limit=1]");
    nota_dataset_free(ds);

    f = (nota_data_filter){.label = 2, .limit = 0};
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", &f, &ds), NOTA_OK);
    cr_assert_eq(ds->x->shape[0], 2);
    cr_assert(nota_tensor_u8(ds->x)[0] == 20 && nota_tensor_u8(ds->x)[4] == 50);
    cr_assert_str_eq(ds->name, "fashion-mnist:train[label=2]");
    nota_dataset_free(ds);

    f = (nota_data_filter){.label = -1, .limit = 4};
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", &f, &ds), NOTA_OK);
    cr_assert_eq(ds->x->shape[0], 4);
    cr_assert_eq(ds->labels->shape[0], 4);
    cr_assert_str_eq(ds->name, "fashion-mnist:train[limit=4]");
    nota_dataset_free(ds);
}

Test(dataset, filter_leaving_nothing_refused) {
    fake_fashion();
    nota_dataset *ds = (nota_dataset *)1;
    nota_data_filter f = {.label = 11, .limit = 0};
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", &f, &ds), NOTA_EINVAL);
    cr_assert_null(ds);
    cr_assert_str_eq(nota_last_error(), "no items with label 11 in 'fashion-mnist:train' "
                                        "(labels 0..2)");
    f.label = 300;
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", &f, &ds), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "filter label 300, expected -1 (all) or 0..255");
    f = (nota_data_filter){.label = -1, .limit = -5};
    cr_assert_eq(nota_dataset_open("fashion-mnist:train", &f, &ds), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "filter limit -5, expected >= 0 (0 = all)");
}

Test(dataset, unknown_names_list_the_known_ones) {
    nota_dataset *ds;
    const char *known = "(known: fashion-mnist:train, fashion-mnist:test, mnist:train, "
                        "mnist:test)";
    cr_assert_eq(nota_dataset_open("cifar10:train", NULL, &ds), NOTA_ENOTFOUND);
    snprintf(msg, sizeof msg, "unknown dataset 'cifar10:train' %s", known);
    cr_assert_str_eq(nota_last_error(), msg);
    cr_assert_eq(nota_dataset_open("mnist:validation", NULL, &ds), NOTA_ENOTFOUND);
    snprintf(msg, sizeof msg, "unknown dataset 'mnist:validation' %s", known);
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(dataset, missing_files_named_with_strerror) {
    setenv("NOTA_FASHION_MNIST", dir, 1); /* empty folder */
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open("fashion-mnist:test", NULL, &ds), NOTA_EIO);
    snprintf(msg, sizeof msg,
             "cannot open '%s/t10k-images-idx3-ubyte.gz' (nor without .gz): No such file or "
             "directory",
             dir);
    cr_assert_str_eq(nota_last_error(), msg);
    cr_assert_eq(nota_dataset_open(in_dir("nothing.npy"), NULL, &ds), NOTA_EIO);
    snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory",
             in_dir("nothing.npy"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(dataset, mnist_from_nota_data) {
    char m[128];
    snprintf(m, sizeof m, "%s/mnist", dir);
    cr_assert_eq(mkdir(m, 0755), 0);
    write_split(m, "train", 8, 8);
    write_split(m, "t10k", 2, 2);
    setenv("NOTA_DATA", dir, 1);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open("mnist:test", NULL, &ds), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(ds->x->shape[0], 2);
    cr_assert_eq(ds->labels->shape[0], 2);
    nota_dataset_free(ds);
}

Test(dataset, idx_path_with_sibling_labels) {
    write_split(dir, "my", 5, 5);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(in_dir("my-images-idx3-ubyte.gz"), NULL, &ds), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_eq(ds->x->shape[0], 5);
    cr_assert_not_null(ds->labels);
    cr_assert_str_eq(ds->name, in_dir("my-images-idx3-ubyte.gz"));
    nota_dataset_free(ds);
}

Test(dataset, label_count_mismatch_refused) {
    write_split(dir, "my", 3, 2);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(in_dir("my-images-idx3-ubyte.gz"), NULL, &ds), NOTA_ESHAPE);
    snprintf(msg, sizeof msg, "'%s' holds 3 images but '%s' holds 2 labels",
             in_dir("my-images-idx3-ubyte.gz"), in_dir("my-labels-idx1-ubyte.gz"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(dataset, no_labels_then_label_filter_refused) {
    uint8_t px[8] = {0};
    uint32_t d[3] = {2, 2, 2};
    write_gz_idx(in_dir("pics.idx"), 0x00000803, d, 3, px, 8);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(in_dir("pics.idx"), NULL, &ds), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_null(ds->labels);
    nota_dataset_free(ds);
    nota_data_filter f = {.label = 3, .limit = 0};
    cr_assert_eq(nota_dataset_open(in_dir("pics.idx"), &f, &ds), NOTA_EINVAL);
    snprintf(msg, sizeof msg, "label filter 3 on '%s', which has no labels", in_dir("pics.idx"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(dataset, npy_vectors_and_nan_refused_by_to_f32) {
    int64_t s[2] = {3, 4};
    nota_tensor *t, *y;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &t), NOTA_OK);
    for (int i = 0; i < 12; i++) nota_tensor_f32(t)[i] = (float)i * 0.25f;
    cr_assert_eq(nota_npy_write(in_dir("v.npy"), t), NOTA_OK);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(in_dir("v.npy"), NULL, &ds), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_dataset_to_f32(ds, true, 1, &y), NOTA_OK);
    cr_assert_eq(memcmp(y->data, t->data, 48), 0); /* f32 data is copied as is */
    nota_tensor_free(y);
    nota_dataset_free(ds);

    nota_tensor_f32(t)[6] = NAN; /* item 1, element 2 */
    cr_assert_eq(nota_npy_write(in_dir("v.npy"), t), NOTA_OK);
    cr_assert_eq(nota_dataset_open(in_dir("v.npy"), NULL, &ds), NOTA_OK);
    y = (nota_tensor *)1;
    cr_assert_eq(nota_dataset_to_f32(ds, false, 0, &y), NOTA_ENUMERIC);
    cr_assert_null(y);
    snprintf(msg, sizeof msg, "dataset '%s': item 1, element 2 is NaN (expected finite)",
             in_dir("v.npy"));
    cr_assert_str_eq(nota_last_error(), msg);
    nota_dataset_free(ds);
    nota_tensor_free(t);
}

Test(dataset, u8_npy_and_png_folder_are_images) {
    int64_t s[3] = {2, 3, 3};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 3, s, &t), NOTA_OK);
    cr_assert_eq(nota_npy_write(in_dir("u.npy"), t), NOTA_OK);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(in_dir("u.npy"), NULL, &ds), NOTA_OK, "%s", nota_last_error());
    cr_assert(ds->x->ndim == 4 && ds->x->shape[0] == 2 && ds->x->shape[1] == 1);
    nota_dataset_free(ds);
    /* a folder of PNGs: write two 1-tile grids (5x5 with the border) */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/pngs", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    nota_tensor *one;
    cr_assert_eq(nota_tensor_rows(t, 0, 1, &one), NOTA_OK);
    char p[200];
    snprintf(p, sizeof p, "%s/0.png", sub);
    cr_assert_eq(nota_png_grid_write(p, one, 1, 0, 1), NOTA_OK, "%s", nota_last_error());
    snprintf(p, sizeof p, "%s/1.png", sub);
    cr_assert_eq(nota_png_grid_write(p, one, 1, 0, 1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_dataset_open(sub, NULL, &ds), NOTA_OK, "%s", nota_last_error());
    cr_assert(ds->x->ndim == 4 && ds->x->shape[0] == 2 && ds->x->shape[1] == 1 &&
              ds->x->shape[2] == 5 && ds->x->shape[3] == 5);
    cr_assert_null(ds->labels);
    nota_dataset_free(ds);
    nota_tensor_free(one);
    nota_tensor_free(t);
}

Test(dataset, to_f32_dequantizes_into_unit_cells_reproducibly) {
    uint8_t px[4 * 64];
    for (int i = 0; i < 256; i++) px[i] = (uint8_t)i; /* every value, 255 included */
    uint32_t d[3] = {4, 8, 8};
    write_gz_idx(in_dir("all.idx"), 0x00000803, d, 3, px, sizeof px);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(in_dir("all.idx"), NULL, &ds), NOTA_OK, "%s",
                 nota_last_error());
    nota_tensor *a, *b, *c, *h;
    cr_assert_eq(nota_dataset_to_f32(ds, true, 42, &a), NOTA_OK);
    cr_assert_eq(nota_dataset_to_f32(ds, true, 42, &b), NOTA_OK);
    cr_assert_eq(nota_dataset_to_f32(ds, true, 43, &c), NOTA_OK);
    cr_assert_eq(nota_dataset_to_f32(ds, false, 42, &h), NOTA_OK);
    cr_assert(a->dtype == NOTA_F32 && nota_tensor_same_shape(a, ds->x));
    const float *fa = nota_tensor_f32(a), *fc = nota_tensor_f32(c), *fh = nota_tensor_f32(h);
    int differ = 0;
    double mean_u = 0;
    for (int i = 0; i < 256; i++) {
        cr_assert(fa[i] >= (float)i && fa[i] < (float)i + 1.0f, "%d -> %.9g", i, (double)fa[i]);
        cr_assert(fc[i] >= (float)i && fc[i] < (float)i + 1.0f);
        cr_assert_eq(fh[i], (float)i + 0.5f);
        differ += fa[i] != fc[i];
        mean_u += fa[i] - i;
    }
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0); /* same seed, same noise */
    cr_assert_gt(differ, 200);                            /* another seed, other noise */
    mean_u /= 256;
    cr_assert(mean_u > 0.4 && mean_u < 0.6, "mean of the noise %g", mean_u);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(c);
    nota_tensor_free(h);
    nota_dataset_free(ds);
}

Test(dataset, named_label_count_mismatch_refused) {
    write_split(dir, "t10k", 4, 3);
    setenv("NOTA_FASHION_MNIST", dir, 1);
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open("fashion-mnist:test", NULL, &ds), NOTA_ESHAPE);
    snprintf(msg, sizeof msg, "'%s/t10k-images-idx3-ubyte.gz' holds 4 images but "
             "'%s/t10k-labels-idx1-ubyte.gz' holds 3 labels", dir, dir);
    cr_assert_str_eq(nota_last_error(), msg);
}
