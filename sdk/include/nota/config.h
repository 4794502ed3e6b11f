/* nota/config.h — typed key/value configuration and plugin option tables.
 *
 * A plugin declares its options as a table of nota_option (name, type,
 * default, help, allowed range or choices). The host turns the user's
 * `--set key=value` strings into a nota_config with nota_config_from_options,
 * which refuses unknown keys and bad values with a message naming the key, the
 * expected type/range and the text given. The same nota_config is stored in
 * the model file, so a loaded model knows how it was made.
 *
 * Ownership: a nota_config owns copies of every key and string value; getters
 * return borrowed pointers valid until the entry is changed or the config freed.
 */
#ifndef NOTA_CONFIG_H
#define NOTA_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "nota/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nota_value_type {
    NOTA_VAL_INT = 1,
    NOTA_VAL_FLOAT = 2,
    NOTA_VAL_STRING = 3,
    NOTA_VAL_BOOL = 4
} nota_value_type;

/* One option a plugin accepts. `choices` ("gaussian|vae|gan") restricts a
 * string; min/max bound an int or float when min < max. */
typedef struct nota_option {
    const char *name;
    nota_value_type type;
    const char *default_value; /* text, parsed like a --set value */
    const char *help;
    double min, max;
    const char *choices;
} nota_option;

typedef struct nota_config nota_config;

nota_status nota_config_new(nota_config **out);
void nota_config_free(nota_config *c);
nota_status nota_config_clone(const nota_config *c, nota_config **out);

size_t nota_config_count(const nota_config *c);
/* Key and type of entry i (0 <= i < count), in insertion order (borrowed). */
const char *nota_config_key(const nota_config *c, size_t i);
nota_value_type nota_config_type(const nota_config *c, size_t i);
/* Entry i's value as text (e.g. "0.7", "true", "gaussian") into buf. */
const char *nota_config_value_str(const nota_config *c, size_t i, char *buf, size_t cap);

/* Set (insert or replace) a typed value. */
nota_status nota_config_set_int(nota_config *c, const char *key, int64_t v);
nota_status nota_config_set_float(nota_config *c, const char *key, double v);
nota_status nota_config_set_string(nota_config *c, const char *key, const char *v);
nota_status nota_config_set_bool(nota_config *c, const char *key, bool v);

/* Typed getters: NOTA_ENOTFOUND if absent, NOTA_EINVAL if of another type
 * (an int is accepted where a float is asked). */
nota_status nota_config_get_int(const nota_config *c, const char *key, int64_t *v);
nota_status nota_config_get_float(const nota_config *c, const char *key, double *v);
nota_status nota_config_get_string(const nota_config *c, const char *key, const char **v);
nota_status nota_config_get_bool(const nota_config *c, const char *key, bool *v);

/* Parse one value of the option's type from text, checking range/choices. */
nota_status nota_option_parse(const nota_option *opt, const char *text, nota_config *into);

/* Build a config holding every option of `opts` at its default, overridden by
 * `sets` ("key=value" strings). Unknown keys, repeated keys and bad values are
 * refused; the message lists the valid keys for an unknown one. */
nota_status nota_config_from_options(const nota_option *opts, size_t n_opts,
                                     const char *const *sets, size_t n_sets, nota_config **out);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_CONFIG_H */
