/* Typed key/value configuration and option parsing (see nota/config.h). */
#include "nota/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct entry {
    char *key;
    nota_value_type type;
    int64_t i;
    double f;
    char *s;
    bool b;
} entry;

struct nota_config {
    entry *e;
    size_t n, cap;
};

nota_status nota_config_new(nota_config **out) {
    *out = calloc(1, sizeof **out);
    return *out ? NOTA_OK : nota_error(NOTA_ENOMEM, "config allocation failed");
}

void nota_config_free(nota_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].s);
    }
    free(c->e);
    free(c);
}

static entry *find(const nota_config *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0) return &c->e[i];
    return NULL;
}

/* Find or append the entry for key, reset to `type`. */
static nota_status slot(nota_config *c, const char *key, nota_value_type type, entry **out) {
    if (!key || !*key) return nota_error(NOTA_EINVAL, "config key is empty");
    entry *e = find(c, key);
    if (!e) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 8;
            entry *ne = realloc(c->e, cap * sizeof *ne);
            if (!ne) return nota_error(NOTA_ENOMEM, "config grow failed");
            c->e = ne;
            c->cap = cap;
        }
        e = &c->e[c->n];
        memset(e, 0, sizeof *e);
        e->key = strdup(key);
        if (!e->key) return nota_error(NOTA_ENOMEM, "config key copy failed");
        c->n++;
    }
    free(e->s);
    e->s = NULL;
    e->type = type;
    *out = e;
    return NOTA_OK;
}

nota_status nota_config_clone(const nota_config *c, nota_config **out) {
    nota_status st = nota_config_new(out);
    for (size_t i = 0; !st && i < c->n; i++) {
        const entry *e = &c->e[i];
        switch (e->type) {
        case NOTA_VAL_INT: st = nota_config_set_int(*out, e->key, e->i); break;
        case NOTA_VAL_FLOAT: st = nota_config_set_float(*out, e->key, e->f); break;
        case NOTA_VAL_STRING: st = nota_config_set_string(*out, e->key, e->s); break;
        case NOTA_VAL_BOOL: st = nota_config_set_bool(*out, e->key, e->b); break;
        }
    }
    if (st) {
        nota_config_free(*out);
        *out = NULL;
    }
    return st;
}

size_t nota_config_count(const nota_config *c) { return c ? c->n : 0; }
const char *nota_config_key(const nota_config *c, size_t i) { return i < c->n ? c->e[i].key : NULL; }
nota_value_type nota_config_type(const nota_config *c, size_t i) {
    return i < c->n ? c->e[i].type : (nota_value_type)0;
}

const char *nota_config_value_str(const nota_config *c, size_t i, char *buf, size_t cap) {
    if (!cap) return buf;
    buf[0] = '\0';
    if (i >= c->n) return buf;
    const entry *e = &c->e[i];
    switch (e->type) {
    case NOTA_VAL_INT: snprintf(buf, cap, "%lld", (long long)e->i); break;
    case NOTA_VAL_FLOAT: snprintf(buf, cap, "%.9g", e->f); break;
    case NOTA_VAL_STRING: snprintf(buf, cap, "%s", e->s); break;
    case NOTA_VAL_BOOL: snprintf(buf, cap, "%s", e->b ? "true" : "false"); break;
    }
    return buf;
}

nota_status nota_config_set_int(nota_config *c, const char *key, int64_t v) {
    entry *e;
    nota_status st = slot(c, key, NOTA_VAL_INT, &e);
    if (!st) e->i = v;
    return st;
}

nota_status nota_config_set_float(nota_config *c, const char *key, double v) {
    entry *e;
    nota_status st = slot(c, key, NOTA_VAL_FLOAT, &e);
    if (!st) e->f = v;
    return st;
}

nota_status nota_config_set_string(nota_config *c, const char *key, const char *v) {
    entry *e;
    nota_status st = slot(c, key, NOTA_VAL_STRING, &e);
    if (st) return st;
    e->s = strdup(v ? v : "");
    return e->s ? NOTA_OK : nota_error(NOTA_ENOMEM, "config value copy failed");
}

nota_status nota_config_set_bool(nota_config *c, const char *key, bool v) {
    entry *e;
    nota_status st = slot(c, key, NOTA_VAL_BOOL, &e);
    if (!st) e->b = v;
    return st;
}

static const char *type_name(nota_value_type t) {
    switch (t) {
    case NOTA_VAL_INT: return "an integer";
    case NOTA_VAL_FLOAT: return "a number";
    case NOTA_VAL_STRING: return "a string";
    case NOTA_VAL_BOOL: return "a boolean";
    }
    return "?";
}

static nota_status get(const nota_config *c, const char *key, nota_value_type t, const entry **e) {
    *e = find(c, key);
    if (!*e) return nota_error(NOTA_ENOTFOUND, "config key '%s' not found", key);
    if ((*e)->type != t && !(t == NOTA_VAL_FLOAT && (*e)->type == NOTA_VAL_INT))
        return nota_error(NOTA_EINVAL, "config key '%s' holds %s, expected %s", key,
                          type_name((*e)->type), type_name(t));
    return NOTA_OK;
}

nota_status nota_config_get_int(const nota_config *c, const char *key, int64_t *v) {
    const entry *e;
    nota_status st = get(c, key, NOTA_VAL_INT, &e);
    if (!st) *v = e->i;
    return st;
}

nota_status nota_config_get_float(const nota_config *c, const char *key, double *v) {
    const entry *e;
    nota_status st = get(c, key, NOTA_VAL_FLOAT, &e);
    if (!st) *v = e->type == NOTA_VAL_INT ? (double)e->i : e->f;
    return st;
}

nota_status nota_config_get_string(const nota_config *c, const char *key, const char **v) {
    const entry *e;
    nota_status st = get(c, key, NOTA_VAL_STRING, &e);
    if (!st) *v = e->s;
    return st;
}

nota_status nota_config_get_bool(const nota_config *c, const char *key, bool *v) {
    const entry *e;
    nota_status st = get(c, key, NOTA_VAL_BOOL, &e);
    if (!st) *v = e->b;
    return st;
}

static bool in_choices(const char *choices, const char *s) {
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

static nota_status range_error(const nota_option *o, const char *text) {
    return nota_error(NOTA_EINVAL, "option '%s' must be in [%g, %g], got '%s'", o->name, o->min,
                      o->max, text);
}

nota_status nota_option_parse(const nota_option *o, const char *text, nota_config *into) {
    char *end;
    switch (o->type) {
    case NOTA_VAL_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno)
            return nota_error(NOTA_EINVAL, "option '%s' expects an integer, got '%s'", o->name,
                              text);
        if (o->min < o->max && ((double)v < o->min || (double)v > o->max))
            return range_error(o, text);
        return nota_config_set_int(into, o->name, v);
    }
    case NOTA_VAL_FLOAT: {
        errno = 0;
        double v = strtod(text, &end);
        if (!*text || *end || errno || !isfinite(v))
            return nota_error(NOTA_EINVAL, "option '%s' expects a finite number, got '%s'",
                              o->name, text);
        if (o->min < o->max && (v < o->min || v > o->max)) return range_error(o, text);
        return nota_config_set_float(into, o->name, v);
    }
    case NOTA_VAL_BOOL: {
        bool v;
        if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes") ||
            !strcasecmp(text, "on"))
            v = true;
        else if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no") ||
                 !strcasecmp(text, "off"))
            v = false;
        else
            return nota_error(NOTA_EINVAL, "option '%s' expects true or false, got '%s'", o->name,
                              text);
        return nota_config_set_bool(into, o->name, v);
    }
    case NOTA_VAL_STRING:
        if (o->choices && !in_choices(o->choices, text))
            return nota_error(NOTA_EINVAL, "option '%s' must be one of %s, got '%s'", o->name,
                              o->choices, text);
        return nota_config_set_string(into, o->name, text);
    }
    return nota_error(NOTA_EINVAL, "option '%s' has an unknown type", o->name);
}

nota_status nota_config_from_options(const nota_option *opts, size_t n_opts,
                                     const char *const *sets, size_t n_sets, nota_config **out) {
    nota_config *c;
    nota_status st = nota_config_new(&c);
    if (st) return st;
    for (size_t i = 0; !st && i < n_opts; i++) {
        st = nota_option_parse(&opts[i], opts[i].default_value ? opts[i].default_value : "", c);
        if (st) nota_error_prefix(st, "default of ");
    }
    for (size_t j = 0; !st && j < n_sets; j++) {
        const char *eq = strchr(sets[j], '=');
        if (!eq || eq == sets[j]) {
            st = nota_error(NOTA_EINVAL, "--set expects key=value, got '%s'", sets[j]);
            break;
        }
        size_t klen = (size_t)(eq - sets[j]);
        const nota_option *o = NULL;
        for (size_t i = 0; i < n_opts; i++)
            if (strlen(opts[i].name) == klen && !strncmp(opts[i].name, sets[j], klen)) o = &opts[i];
        if (!o) {
            char keys[512] = "";
            size_t used = 0;
            for (size_t i = 0; i < n_opts && used < sizeof keys; i++)
                used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", i ? ", " : "",
                                         opts[i].name);
            st = nota_error(NOTA_EINVAL, "unknown option '%.*s' (valid: %s)", (int)klen, sets[j],
                            n_opts ? keys : "none");
            break;
        }
        for (size_t k = 0; k < j; k++)
            if (!strncmp(sets[k], sets[j], klen + 1)) {
                st = nota_error(NOTA_EINVAL, "option '%s' is set twice", o->name);
                break;
            }
        if (!st) st = nota_option_parse(o, eq + 1, c);
    }
    if (st) {
        nota_config_free(c);
        c = NULL;
    }
    *out = c;
    return st;
}
