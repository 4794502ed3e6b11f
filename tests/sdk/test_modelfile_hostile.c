/* Hostile model files, crafted with protobuf-c or byte by byte and framed
 * validly where the test is about what lies inside the frame. Each must be
 * refused with its exact status and message (RELIABILITY.md 1–4): framing,
 * checksum, size limit, nesting bombs, allocation bombs, and every content
 * rule of the validator. A last test flips every bit and cuts at every length
 * of a small file to show no corruption slips through or crashes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "modelfile_internal.h"

/* Frame a payload as a valid file image (malloc'd). */
static uint8_t *frame(const uint8_t *payload, size_t n, size_t *out_n) {
    uint8_t *img = malloc(NOTA_MF_HEADER_BYTES + n + 1);
    cr_assert_not_null(img);
    nota_mf_frame_header(img, n, (uint32_t)crc32(0, payload, (uInt)n));
    memcpy(img + NOTA_MF_HEADER_BYTES, payload, n);
    *out_n = NOTA_MF_HEADER_BYTES + n;
    return img;
}

/* Pack and frame a message built by hand. */
static uint8_t *pack_framed(const Nota__Model *m, size_t *out_n) {
    size_t n = nota__model__get_packed_size(m);
    uint8_t *payload = malloc(n + 1);
    nota__model__pack(m, payload);
    uint8_t *img = frame(payload, n, out_n);
    free(payload);
    return img;
}

/* A minimal valid model: format version, plugin "p", ABI version. */
static Nota__Model base_model(void) {
    Nota__Model m = NOTA__MODEL__INIT;
    m.has_format_version = m.has_abi_version = 1;
    m.format_version = NOTA_MODEL_FORMAT_VERSION;
    m.abi_version = 1;
    m.plugin = "p";
    return m;
}

static void expect(uint8_t *img, size_t n, const char *name, const nota_model_limits *lim,
                   nota_status code, const char *msg) {
    nota_modelfile *mf = (nota_modelfile *)1;
    nota_status st = nota_modelfile_load_bytes(img, n, name, lim, &mf);
    cr_assert_eq(st, code, "status %d, message: %s", st, nota_last_error());
    cr_assert_null(mf);
    cr_assert_str_eq(nota_last_error(), msg);
    free(img);
}

/* Pack, frame and load a hand-built model; expect status and message. */
static void expect_model(const Nota__Model *m, const char *name, nota_status code, const char *msg) {
    size_t n;
    uint8_t *img = pack_framed(m, &n);
    expect(img, n, name, NULL, code, msg);
}

/* Load a model holding the given tensors; expect status and message. */
static void expect_tensors(Nota__Tensor **ts, size_t n, nota_status code, const char *msg) {
    Nota__Model m = base_model();
    m.n_tensors = n;
    m.tensors = ts;
    size_t len;
    uint8_t *img = pack_framed(&m, &len);
    expect(img, len, "x.nota", NULL, code, msg);
}

static Nota__Tensor tensor(char *name, uint32_t dtype, size_t ndim, int64_t *shape, size_t nbytes) {
    static uint8_t data[64];
    Nota__Tensor t = NOTA__TENSOR__INIT;
    t.name = name;
    t.has_dtype = t.has_data = 1;
    t.dtype = dtype;
    t.n_shape = ndim;
    t.shape = shape;
    t.data.len = nbytes;
    t.data.data = data;
    return t;
}

static uint8_t *valid_image(size_t *n) {
    int64_t shape[1] = {4};
    Nota__Tensor t = tensor("mean", 1, 1, shape, 16), *tp = &t;
    Nota__Model m = base_model();
    m.n_tensors = 1;
    m.tensors = &tp;
    return pack_framed(&m, n);
}

Test(modelfile_hostile, valid_crafted_file_loads) {
    size_t n;
    uint8_t *img = valid_image(&n);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_load_bytes(img, n, "ok.nota", NULL, &mf), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_str_eq(nota_modelfile_plugin(mf), "p");
    cr_assert_eq(nota_modelfile_tensor_count(mf), 1u);
    nota_modelfile_free(mf);
    free(img);
}

Test(modelfile_hostile, framing_errors) {
    size_t n;
    char msg[256];
    uint8_t *img = valid_image(&n);
    expect(img, 10, "t.nota", NULL, NOTA_EFORMAT,
           "model 't.nota': file is 10 bytes, shorter than the 24-byte header (truncated?)");
    img = valid_image(&n);
    snprintf(msg, sizeof msg,
             "model 't.nota': truncated: the header says %zu payload bytes, the file has %zu",
             n - 24, n - 24 - 7);
    expect(img, n - 7, "t.nota", NULL, NOTA_EFORMAT, msg);
    img = valid_image(&n);
    img = realloc(img, n + 5);
    memcpy(img + n, "trash", 5);
    snprintf(msg, sizeof msg, "model 'g.nota': 5 trailing bytes after the %zu-byte payload", n - 24);
    expect(img, n + 5, "g.nota", NULL, NOTA_EFORMAT, msg);
    img = valid_image(&n);
    img[3] = 'X';
    expect(img, n, "m.nota", NULL, NOTA_EFORMAT,
           "model 'm.nota': not a nota model file (the first 8 bytes are not \"NOTAMDL\\0\")");
    img = valid_image(&n);
    img[8] = 2;
    expect(img, n, "v.nota", NULL, NOTA_ENOTSUP,
           "model 'v.nota': frame version 2 is not supported (expected 1)");
}

Test(modelfile_hostile, flipped_bit_fails_the_checksum) {
    size_t n;
    uint8_t *img = valid_image(&n);
    uint32_t want = (uint32_t)crc32(0, img + 24, (uInt)(n - 24));
    img[30] ^= 0x10;
    uint32_t got = (uint32_t)crc32(0, img + 24, (uInt)(n - 24));
    char msg[256];
    snprintf(msg, sizeof msg,
             "model 'f.nota': payload CRC-32 is 0x%08x, the header says 0x%08x (file corrupted)",
             got, want);
    expect(img, n, "f.nota", NULL, NOTA_ECHECKSUM, msg);
}

Test(modelfile_hostile, size_limit) {
    size_t n;
    uint8_t *img = valid_image(&n);
    nota_model_limits lim = nota_modelfile_default_limits();
    lim.max_file_bytes = 40;
    char msg[256];
    snprintf(msg, sizeof msg,
             "model 's.nota': %zu bytes exceeds the limit of 40 bytes (NOTA_MODEL_MAX_BYTES "
             "raises it)",
             n);
    expect(img, n, "s.nota", &lim, NOTA_ELIMIT, msg);
}

/* Model{submodels: SubModel{model: Model{...}}} nested `levels` times, built
 * from the inside out; *trigger is the byte offset of the field that opens
 * message 65 (the first one past the limit). */
static uint8_t *nested(int levels, size_t *n, size_t *trigger) {
    size_t cap = (size_t)levels * 12 + 16, pos = cap, total_msgs = 2 * (size_t)levels + 1;
    uint8_t *buf = malloc(cap);
    size_t *prefix = calloc(total_msgs + 1, sizeof *prefix);
    for (size_t msg = total_msgs; msg >= 2; msg--) { /* message 1 is the payload itself */
        size_t len = cap - pos;
        uint8_t v[10];
        int k = 0;
        do {
            v[k++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
            len >>= 7;
        } while (len);
        pos -= (size_t)k;
        memcpy(buf + pos, v, (size_t)k);
        /* message `msg` is a SubModel (even) in field 7 of a Model, or a
         * Model (odd) in field 2 of a SubModel */
        buf[--pos] = msg % 2 == 0 ? (7 << 3 | 2) : (2 << 3 | 2);
        prefix[msg] = (size_t)k + 1;
    }
    *trigger = 0;
    for (size_t msg = 2; msg <= 64 && msg <= total_msgs; msg++) *trigger += prefix[msg];
    uint8_t *img = frame(buf + pos, cap - pos, n);
    free(buf);
    free(prefix);
    return img;
}

Test(modelfile_hostile, deep_nesting_is_refused_without_recursion) {
    size_t n, trigger;
    uint8_t *img = nested(10000, &n, &trigger);
    char msg[256];
    snprintf(msg, sizeof msg,
             "model 'deep.nota': messages nested deeper than 64 levels (nota.SubModel.model at "
             "byte offset %zu)",
             trigger);
    clock_t t0 = clock();
    expect(img, n, "deep.nota", NULL, NOTA_ELIMIT, msg);
    cr_assert_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 0.5);
    /* 32 levels of sub-models = 65 messages: just past the limit. */
    img = nested(32, &n, &trigger);
    snprintf(msg, sizeof msg,
             "model 'edge.nota': messages nested deeper than 64 levels (nota.SubModel.model at "
             "byte offset %zu)",
             trigger);
    expect(img, n, "edge.nota", NULL, NOTA_ELIMIT, msg);
    /* A lower limit of the caller's applies too. */
    nota_model_limits lim = nota_modelfile_default_limits();
    lim.max_depth = 3;
    img = nested(2, &n, &trigger);
    expect(img, n, "low.nota", &lim, NOTA_ELIMIT,
           "model 'low.nota': messages nested deeper than 3 levels (nota.Model.submodels at byte "
           "offset 4)");
    /* 31 levels (63 messages) pass the scan; these empty models then fail
     * validation, which shows the scan let them through. */
    img = nested(31, &n, &trigger);
    expect(img, n, "ok.nota", NULL, NOTA_EFORMAT, "model 'ok.nota': format_version is missing");
}

Test(modelfile_hostile, allocation_bombs_hit_the_cap) {
    /* 500,000 empty tensors: 1 MB on the wire, ~50 MB unpacked. */
    size_t count = 500000, n;
    uint8_t *payload = malloc(2 * count);
    for (size_t i = 0; i < count; i++) {
        payload[2 * i] = 6 << 3 | 2;
        payload[2 * i + 1] = 0;
    }
    uint8_t *img = frame(payload, 2 * count, &n);
    free(payload);
    char msg[256];
    snprintf(msg, sizeof msg,
             "model 'bomb.nota': unpacking needs more than %zu bytes of memory (the cap for a "
             "%zu-byte file)",
             2 * n + (1u << 20), n);
    expect(img, n, "bomb.nota", NULL, NOTA_ELIMIT, msg);

    /* One tensor whose packed shape holds 1,000,000 one-byte varints: an
     * 8 MB array from 1 MB. */
    size_t dims = 1000000, len = 0;
    payload = malloc(dims + 32);
    payload[len++] = 6 << 3 | 2; /* Model.tensors */
    size_t inner = 1 + 3 + dims;  /* shape tag, 3-byte length, the varints */
    payload[len++] = (uint8_t)(0x80 | (inner & 0x7f));
    payload[len++] = (uint8_t)(0x80 | ((inner >> 7) & 0x7f));
    payload[len++] = (uint8_t)(inner >> 14);
    payload[len++] = 3 << 3 | 2; /* Tensor.shape, packed */
    payload[len++] = (uint8_t)(0x80 | (dims & 0x7f));
    payload[len++] = (uint8_t)(0x80 | ((dims >> 7) & 0x7f));
    payload[len++] = (uint8_t)(dims >> 14);
    memset(payload + len, 1, dims);
    len += dims;
    img = frame(payload, len, &n);
    free(payload);
    snprintf(msg, sizeof msg,
             "model 'shape.nota': unpacking needs more than %zu bytes of memory (the cap for a "
             "%zu-byte file)",
             2 * n + (1u << 20), n);
    expect(img, n, "shape.nota", NULL, NOTA_ELIMIT, msg);
}

Test(modelfile_hostile, tensor_rules) {
    int64_t s4[1] = {4}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, s0[2] = {3, 0};
    int64_t big[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 16};
    Nota__Tensor a = tensor("mean", 1, 1, s4, 12), *pa = &a;
    expect_tensors(&pa, 1, NOTA_EFORMAT,
                   "model 'x.nota': tensor 'mean' has 12 bytes, expected 16 for f32 (4,)");
    Nota__Tensor w1 = tensor("w", 2, 1, s4, 4), w2 = tensor("w", 2, 1, s4, 4);
    Nota__Tensor *dup[2] = {&w1, &w2};
    expect_tensors(dup, 2, NOTA_EFORMAT, "model 'x.nota': tensor name 'w' appears twice");
    Nota__Tensor n9 = tensor("w", 2, 9, s9, 1), *p9 = &n9;
    expect_tensors(&p9, 1, NOTA_EFORMAT, "model 'x.nota': tensor 'w' has 9 dimensions, at most 8");
    Nota__Tensor z = tensor("w", 2, 2, s0, 0), *pz = &z;
    expect_tensors(&pz, 1, NOTA_EFORMAT,
                   "model 'x.nota': tensor 'w' dimension 1 is 0, expected >= 1");
    Nota__Tensor o = tensor("w", 1, 3, big, 4), *po = &o;
    expect_tensors(&po, 1, NOTA_ELIMIT,
                   "model 'x.nota': tensor 'w': element count overflows at dimension 1 "
                   "(1099511627776)");
    Nota__Tensor d = tensor("w", 7, 1, s4, 4), *pd = &d;
    expect_tensors(&pd, 1, NOTA_EFORMAT,
                   "model 'x.nota': tensor 'w' has dtype code 7, expected 1 (f32) or 2 (u8)");
    Nota__Tensor u = tensor("\xc0\xaf", 2, 1, s4, 4), *pu = &u; /* overlong '/' */
    expect_tensors(&pu, 1, NOTA_EFORMAT,
                   "model 'x.nota': tensor #0 has a name that is not valid UTF-8 (byte 0)");
    Nota__Tensor e = tensor("", 2, 1, s4, 4), *pe = &e;
    expect_tensors(&pe, 1, NOTA_EFORMAT, "model 'x.nota': tensor #0 has an empty name");
}

Test(modelfile_hostile, nul_inside_a_name) {
    /* Model{format_version 1, plugin "p", abi 1, tensors {name "a\0b"}} */
    const uint8_t payload[] = {0x08, 1, 0x12, 1, 'p', 0x20, 1, 0x32, 5, 0x0a, 3, 'a', 0, 'b'};
    size_t n;
    uint8_t *img = frame(payload, sizeof payload, &n);
    expect(img, n, "z.nota", NULL, NOTA_EFORMAT,
           "model 'z.nota': text field nota.Tensor.name at byte offset 9 contains a NUL byte");
}

Test(modelfile_hostile, model_fields) {
    Nota__Model m = base_model();
    m.plugin = NULL;
    expect_model(&m, "p.nota", NOTA_EFORMAT,
           "model 'p.nota': plugin name is missing");
    m = base_model();
    m.has_abi_version = 0;
    expect_model(&m, "a.nota", NOTA_EFORMAT,
           "model 'a.nota': abi_version is missing");
    m = base_model();
    m.format_version = 2;
    expect_model(&m, "v.nota", NOTA_ENOTSUP,
           "model 'v.nota': format version 2 is not supported (this build reads 1)");
    m = base_model();
    m.has_format_version = 0;
    expect_model(&m, "v.nota", NOTA_EFORMAT,
           "model 'v.nota': format_version is missing");

    Nota__ConfigEntry c1 = NOTA__CONFIG_ENTRY__INIT, c2 = NOTA__CONFIG_ENTRY__INIT;
    Nota__ConfigEntry *cs[2] = {&c1, &c2};
    c1.key = c2.key = "lr";
    c1.value_case = c2.value_case = NOTA__CONFIG_ENTRY__VALUE_FLOAT_VALUE;
    m = base_model();
    m.n_config = 2;
    m.config = cs;
    expect_model(&m, "c.nota", NOTA_EFORMAT,
           "model 'c.nota': config key name 'lr' appears twice");
    c2.key = "prior";
    c2.value_case = NOTA__CONFIG_ENTRY__VALUE_STRING_VALUE;
    c2.string_value = "ga\xe2\x82"; /* a 3-byte sequence cut short */
    expect_model(&m, "c.nota", NOTA_EFORMAT,
                 "model 'c.nota': config key 'prior' has a string value that is not valid UTF-8 "
                 "(byte 2)");
    c2.key = "steps";
    c2.value_case = NOTA__CONFIG_ENTRY__VALUE__NOT_SET;
    expect_model(&m, "c.nota", NOTA_EFORMAT,
           "model 'c.nota': config key 'steps' has no value");
}

Test(modelfile_hostile, submodel_errors_name_the_path) {
    int64_t s4[1] = {4};
    Nota__Tensor t = tensor("mean", 1, 1, s4, 12), *pt = &t;
    Nota__Model inner = base_model(), outer = base_model();
    inner.n_tensors = 1;
    inner.tensors = &pt;
    Nota__SubModel sub = NOTA__SUB_MODEL__INIT, *ps = &sub;
    sub.name = "prior";
    sub.model = &inner;
    outer.n_submodels = 1;
    outer.submodels = &ps;
    expect_model(&outer, "x.nota", NOTA_EFORMAT,
           "model 'x.nota': submodel 'prior': tensor 'mean' has 12 bytes, expected 16 for f32 (4,)");
    sub.model = NULL;
    expect_model(&outer, "x.nota", NOTA_EFORMAT,
           "model 'x.nota': submodel 'prior' has no model");
}

Test(modelfile_hostile, created_time_is_kept_on_resave) {
    Nota__Metadata md = NOTA__METADATA__INIT;
    md.has_created_unix = 1;
    md.created_unix = 12345;
    Nota__Model m = base_model();
    m.meta = &md;
    size_t n;
    uint8_t *img = pack_framed(&m, &n);
    nota_modelfile *mf, *back;
    cr_assert_eq(nota_modelfile_load_bytes(img, n, "c.nota", NULL, &mf), NOTA_OK);
    free(img);
    cr_assert_eq(nota_modelfile_created_unix(mf), 12345);
    char dir[] = "/tmp/nota_mfh_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.nota", dir);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK);
    cr_assert_eq(nota_modelfile_created_unix(back), 12345);
    unlink(path);
    rmdir(dir);
    nota_modelfile_free(mf);
    nota_modelfile_free(back);
}

Test(modelfile_hostile, every_bit_flip_and_cut_is_refused) {
    size_t n;
    uint8_t *img = valid_image(&n);
    nota_modelfile *mf;
    for (size_t cut = 0; cut < n; cut++) {
        nota_status st = nota_modelfile_load_bytes(img, cut, "cut.nota", NULL, &mf);
        cr_assert_eq(st, NOTA_EFORMAT, "cut at %zu: %s", cut, nota_last_error());
    }
    for (size_t bit = 0; bit < 8 * n; bit++) {
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        nota_status st = nota_modelfile_load_bytes(img, n, "flip.nota", NULL, &mf);
        cr_assert_neq(st, NOTA_OK, "flipping bit %zu was not noticed", bit);
        cr_assert_null(mf);
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(img);
}

Test(modelfile_hostile, utf8_rules) {
    struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"plain", SIZE_MAX},
        {"\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", SIZE_MAX}, /* ü € 😀 */
        {"\xf4\x8f\xbf\xbf", SIZE_MAX},                     /* U+10FFFF */
        {"a\x80", 1},                                      /* lone continuation */
        {"\xc1\xbf", 0},                                   /* overlong 2-byte */
        {"\xe0\x9f\xbf", 0},                               /* overlong 3-byte */
        {"\xf0\x8f\xbf\xbf", 0},                           /* overlong 4-byte */
        {"ab\xed\xa0\x80", 2},                             /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0},                           /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0},
        {"x\xe2\x28\xa1", 1},                              /* bad third byte */
        {"\xc3", 0},                                       /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(nota_mf_utf8_bad(cases[i].s, strlen(cases[i].s)), cases[i].bad, "case %zu", i);
}

static void expect_payload(const uint8_t *payload, size_t len, const nota_model_limits *lim,
                           nota_status code, const char *msg) {
    size_t n;
    uint8_t *img = frame(payload, len, &n);
    expect(img, n, "w.nota", lim, code, msg);
}

Test(modelfile_hostile, wire_errors) {
    expect_payload((const uint8_t[]){0x00}, 1, NULL, NOTA_EFORMAT,
                   "model 'w.nota': bad field tag in nota.Model at byte offset 0");
    expect_payload((const uint8_t[]){0x08}, 1, NULL, NOTA_EFORMAT,
                   "model 'w.nota': bad varint in nota.Model at byte offset 0");
    expect_payload((const uint8_t[]){0x12, 5, 'p'}, 3, NULL, NOTA_EFORMAT,
                   "model 'w.nota': field at byte offset 0 of nota.Model runs past its end (5 "
                   "bytes, 1 left)");
    expect_payload((const uint8_t[]){0x0b}, 1, NULL, NOTA_EFORMAT,
                   "model 'w.nota': unsupported wire type 3 in nota.Model at byte offset 0");
    expect_payload((const uint8_t[]){0x0a, 0}, 2, NULL, NOTA_EFORMAT,
                   "model 'w.nota': field nota.Model.format_version at byte offset 0 has wire "
                   "type 2, expected 0");
    /* A packed shape holding a cut varint passes the scan (it does not look
     * inside scalars) and protobuf-c refuses it. */
    expect_payload((const uint8_t[]){0x32, 3, 0x1a, 1, 0x80}, 5, NULL, NOTA_EFORMAT,
                   "model 'w.nota': payload is not a valid nota.Model message");
    nota_model_limits lim = nota_modelfile_default_limits();
    lim.max_depth = 65;
    expect_payload((const uint8_t[]){0x08, 1}, 2, &lim, NOTA_EINVAL,
                   "model 'w.nota': max_depth 65 outside 1..64");
}
