/* Validation of a nota.Model tree, after unpacking and before saving.
 *
 * Everything a hostile file could get wrong is checked here with checked
 * arithmetic (RELIABILITY.md 1): presence of the format version, plugin name
 * and ABI version; counts against the NOTA_MODEL_MAX_* limits; names
 * (non-empty, at most NOTA_MODEL_MAX_NAME bytes, valid UTF-8, unique per
 * model — NUL bytes were refused by the scan); dtypes; ndim ≤ 8; dims ≥ 1;
 * byte length = product(shape) × dtype size via nota_shape_size. Save runs the
 * same checks, so nota never writes a file it would refuse to read. Sub-models
 * recurse, bounded: the scan (or add_submodel) already limited the nesting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelfile_internal.h"

size_t nota_mf_utf8_bad(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;      /* no overlong forms */
            if (c == 0xed) hi = 0x9f;      /* no UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;      /* no overlong forms */
            if (c == 0xf4) hi = 0x8f;      /* nothing above U+10FFFF */
        } else {
            return i;
        }
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += len;
    }
    return SIZE_MAX;
}

/* Open-addressing set of borrowed names, so uniqueness costs O(n) even for
 * the 65,536 tensors a file may hold. */
typedef struct nameset {
    const char **slot;
    size_t mask;
} nameset;

static nota_status nameset_init(nameset *s, size_t n, const char *prefix) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    s->mask = cap - 1;
    return s->slot ? NOTA_OK : nota_error(NOTA_ENOMEM, "%s: name table allocation failed", prefix);
}

/* Insert; false if the name was there already. */
static bool nameset_add(nameset *s, const char *name) {
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 1099511628211u;
    for (size_t i = (size_t)h & s->mask;; i = (i + 1) & s->mask) {
        if (!s->slot[i]) {
            s->slot[i] = name;
            return true;
        }
        if (strcmp(s->slot[i], name) == 0) return false;
    }
}

static nota_status check_name(const char *prefix, const char *what, size_t i, const char *name) {
    if (!name || !*name)
        return nota_error(NOTA_EFORMAT, "%s: %s #%zu has an empty name", prefix, what, i);
    size_t n = strlen(name);
    if (n > NOTA_MODEL_MAX_NAME)
        return nota_error(NOTA_EFORMAT, "%s: %s #%zu has a name of %zu bytes, longer than %d",
                          prefix, what, i, n, NOTA_MODEL_MAX_NAME);
    size_t bad = nota_mf_utf8_bad(name, n);
    if (bad != SIZE_MAX)
        return nota_error(NOTA_EFORMAT, "%s: %s #%zu has a name that is not valid UTF-8 (byte %zu)",
                          prefix, what, i, bad);
    return NOTA_OK;
}

static nota_status check_text(const char *prefix, const char *what, const char *s) {
    size_t bad = s ? nota_mf_utf8_bad(s, strlen(s)) : SIZE_MAX;
    if (bad != SIZE_MAX)
        return nota_error(NOTA_EFORMAT, "%s: %s is not valid UTF-8 (byte %zu)", prefix, what, bad);
    return NOTA_OK;
}

static nota_status check_count(const char *prefix, const char *what, size_t n, size_t max) {
    if (n > max)
        return nota_error(NOTA_ELIMIT, "%s: %zu %s, more than the limit of %zu", prefix, n, what,
                          max);
    return NOTA_OK;
}

static nota_status check_tensor(const char *prefix, const Nota__Tensor *t) {
    if (!t->has_dtype || nota_dtype_size((nota_dtype)t->dtype) == 0)
        return nota_error(NOTA_EFORMAT, "%s: tensor '%s' has dtype code %u, expected 1 (f32) or 2 (u8)",
                          prefix, t->name, t->has_dtype ? t->dtype : 0u);
    if (t->n_shape > NOTA_MAX_DIMS)
        return nota_error(NOTA_EFORMAT, "%s: tensor '%s' has %zu dimensions, at most %d", prefix,
                          t->name, t->n_shape, NOTA_MAX_DIMS);
    for (size_t d = 0; d < t->n_shape; d++)
        if (t->shape[d] < 1)
            return nota_error(NOTA_EFORMAT, "%s: tensor '%s' dimension %zu is %lld, expected >= 1",
                              prefix, t->name, d, (long long)t->shape[d]);
    size_t want;
    nota_dtype dt = (nota_dtype)t->dtype;
    nota_status st = nota_shape_size((int)t->n_shape, t->shape, dt, NULL, &want);
    if (st) return nota_error_prefix(st, "%s: tensor '%s': ", prefix, t->name);
    size_t have = t->has_data ? t->data.len : 0;
    if (have != want) {
        char shape[160];
        return nota_error(NOTA_EFORMAT, "%s: tensor '%s' has %zu bytes, expected %zu for %s %s",
                          prefix, t->name, have, want, nota_dtype_name(dt),
                          nota_shape_str((int)t->n_shape, t->shape, shape, sizeof shape));
    }
    return NOTA_OK;
}

/* Names of one kind must be valid and unique within the model. */
#define CHECK_NAMES(prefix, what, arr, n, NAME)                                         \
    do {                                                                              \
        nameset set_;                                                                 \
        nota_status st_ = nameset_init(&set_, (n), (prefix));                         \
        for (size_t i_ = 0; !st_ && i_ < (n); i_++) {                                 \
            st_ = check_name((prefix), (what), i_, (arr)[i_]->NAME);                  \
            if (!st_ && !nameset_add(&set_, (arr)[i_]->NAME))                         \
                st_ = nota_error(NOTA_EFORMAT, "%s: %s name '%s' appears twice", (prefix), \
                                 (what), (arr)[i_]->NAME);                            \
        }                                                                             \
        free(set_.slot);                                                              \
        if (st_) return st_;                                                          \
    } while (0)

static nota_status validate_model(const Nota__Model *m, const char *prefix) {
    nota_status st;
    if (!m->has_format_version)
        return nota_error(NOTA_EFORMAT, "%s: format_version is missing", prefix);
    if (m->format_version != NOTA_MODEL_FORMAT_VERSION)
        return nota_error(NOTA_ENOTSUP, "%s: format version %u is not supported (this build reads %d)",
                          prefix, m->format_version, NOTA_MODEL_FORMAT_VERSION);
    if (!m->plugin || !*m->plugin)
        return nota_error(NOTA_EFORMAT, "%s: plugin name is missing", prefix);
    if ((st = check_name(prefix, "plugin", 0, m->plugin))) return st;
    if (!m->has_abi_version) return nota_error(NOTA_EFORMAT, "%s: abi_version is missing", prefix);
    if ((st = check_count(prefix, "tensors", m->n_tensors, NOTA_MODEL_MAX_TENSORS)) ||
        (st = check_count(prefix, "submodels", m->n_submodels, NOTA_MODEL_MAX_SUBMODELS)) ||
        (st = check_count(prefix, "config entries", m->n_config, NOTA_MODEL_MAX_CONFIG)))
        return st;

    CHECK_NAMES(prefix, "config key", m->config, m->n_config, key);
    for (size_t i = 0; i < m->n_config; i++) {
        const Nota__ConfigEntry *e = m->config[i];
        if (e->value_case == NOTA__CONFIG_ENTRY__VALUE__NOT_SET)
            return nota_error(NOTA_EFORMAT, "%s: config key '%s' has no value", prefix, e->key);
        size_t bad = e->value_case == NOTA__CONFIG_ENTRY__VALUE_STRING_VALUE && e->string_value
                         ? nota_mf_utf8_bad(e->string_value, strlen(e->string_value))
                         : SIZE_MAX;
        if (bad != SIZE_MAX)
            return nota_error(NOTA_EFORMAT,
                              "%s: config key '%s' has a string value that is not valid UTF-8 "
                              "(byte %zu)",
                              prefix, e->key, bad);
    }

    CHECK_NAMES(prefix, "tensor", m->tensors, m->n_tensors, name);
    for (size_t i = 0; i < m->n_tensors; i++)
        if ((st = check_tensor(prefix, m->tensors[i]))) return st;

    if (m->meta) {
        const Nota__Metadata *md = m->meta;
        if ((st = check_text(prefix, "the dataset name", md->dataset)) ||
            (st = check_count(prefix, "metrics", md->n_metrics, NOTA_MODEL_MAX_METRICS)))
            return st;
        CHECK_NAMES(prefix, "metric", md->metrics, md->n_metrics, name);
        for (size_t i = 0; i < md->n_metrics; i++)
            if (!md->metrics[i]->has_value)
                return nota_error(NOTA_EFORMAT, "%s: metric '%s' has no value", prefix,
                                  md->metrics[i]->name);
    }

    CHECK_NAMES(prefix, "submodel", m->submodels, m->n_submodels, name);
    for (size_t i = 0; i < m->n_submodels; i++) {
        const Nota__SubModel *s = m->submodels[i];
        if (!s->model)
            return nota_error(NOTA_EFORMAT, "%s: submodel '%s' has no model", prefix, s->name);
        char sub[512];
        snprintf(sub, sizeof sub, "%s: submodel '%s'", prefix, s->name);
        if ((st = validate_model(s->model, sub))) return st;
    }
    return NOTA_OK;
}

nota_status nota_mf_validate(const Nota__Model *m, const char *prefix) {
    return validate_model(m, prefix);
}
