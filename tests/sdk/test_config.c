#include <criterion/criterion.h>
#include "nota/config.h"

static const nota_option opts[] = {
    {"kind", NOTA_VAL_STRING, "gaussian", "model kind", 0, 0, "gaussian|vae|gan"},
    {"k", NOTA_VAL_INT, "0", "components", 0, 100000, NULL},
    {"floor", NOTA_VAL_FLOAT, "1e-3", "variance floor", 0, 1, NULL},
    {"whiten", NOTA_VAL_BOOL, "true", "whiten codes", 0, 0, NULL},
};

Test(config, defaults_and_overrides) {
    const char *sets[] = {"k=64", "whiten=off"};
    nota_config *c;
    cr_assert_eq(nota_config_from_options(opts, 4, sets, 2, &c), NOTA_OK);
    int64_t k;
    double f;
    bool w;
    const char *s;
    cr_assert_eq(nota_config_get_int(c, "k", &k), NOTA_OK);
    cr_assert_eq(k, 64);
    cr_assert_eq(nota_config_get_float(c, "floor", &f), NOTA_OK);
    cr_assert_float_eq(f, 1e-3, 1e-12);
    cr_assert_eq(nota_config_get_bool(c, "whiten", &w), NOTA_OK);
    cr_assert(!w);
    cr_assert_eq(nota_config_get_string(c, "kind", &s), NOTA_OK);
    cr_assert_str_eq(s, "gaussian");
    cr_assert_eq(nota_config_count(c), 4u);
    nota_config_free(c);
}

Test(config, unknown_key_lists_valid_keys) {
    const char *sets[] = {"depth=3"};
    nota_config *c;
    cr_assert_eq(nota_config_from_options(opts, 4, sets, 1, &c), NOTA_EINVAL);
    cr_assert_null(c);
    cr_assert_str_eq(nota_last_error(), "unknown option 'depth' (valid: kind, k, floor, whiten)");
}

Test(config, bad_values_are_refused) {
    nota_config *c;
    const char *a[] = {"k=12x"};
    cr_assert_eq(nota_config_from_options(opts, 4, a, 1, &c), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "option 'k' expects an integer, got '12x'");
    const char *b[] = {"floor=2"};
    cr_assert_eq(nota_config_from_options(opts, 4, b, 1, &c), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "option 'floor' must be in [0, 1], got '2'");
    const char *d[] = {"kind=flow"};
    cr_assert_eq(nota_config_from_options(opts, 4, d, 1, &c), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "option 'kind' must be one of gaussian|vae|gan, got 'flow'");
    const char *e[] = {"floor=nan"};
    cr_assert_eq(nota_config_from_options(opts, 4, e, 1, &c), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "option 'floor' expects a finite number, got 'nan'");
    const char *g[] = {"k=1", "k=2"};
    cr_assert_eq(nota_config_from_options(opts, 4, g, 2, &c), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "option 'k' is set twice");
    const char *h[] = {"k"};
    cr_assert_eq(nota_config_from_options(opts, 4, h, 1, &c), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "--set expects key=value, got 'k'");
}

Test(config, wrong_type_get) {
    nota_config *c;
    cr_assert_eq(nota_config_new(&c), NOTA_OK);
    cr_assert_eq(nota_config_set_string(c, "a", "x"), NOTA_OK);
    int64_t v;
    cr_assert_eq(nota_config_get_int(c, "a", &v), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "config key 'a' holds a string, expected an integer");
    cr_assert_eq(nota_config_get_int(c, "b", &v), NOTA_ENOTFOUND);
    nota_config_free(c);
}
