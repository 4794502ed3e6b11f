/* The descriptor's growth rule (plugin.h): a plugin built before the newest
 * fields were appended (struct_size down to NOTA_PLUGIN_MIN_SIZE) is read
 * through a zeroed copy, so the fields it lacks are NULL and never read from
 * past its struct; shorter descriptors are refused. host/registry.c is
 * compiled into this test to reach desc_view and check_descriptor. */
#include "../../host/registry.c"

#include <criterion/criterion.h>

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    return NOTA_ENOTSUP;
}
static void destroy(nota_model *m) {}
static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) { return 0; }

/* An old plugin's static descriptor followed by unrelated bytes (0xAB). */
typedef union old_plugin {
    nota_plugin p;
    unsigned char bytes[sizeof(nota_plugin) + 64];
} old_plugin;

static void make_old(old_plugin *o, uint32_t size) {
    memset(o->bytes, 0xAB, sizeof o->bytes);
    nota_plugin base = {.abi_version = NOTA_ABI_VERSION,
                        .struct_size = size,
                        .name = "old",
                        .version = 1,
                        .family = "fixture",
                        .load = load,
                        .destroy = destroy,
                        .data_shape = data_shape};
    memcpy(o->bytes, &base, size);
}

Test(registry_abi, older_descriptor_reads_new_fields_as_null) {
    old_plugin o;
    make_old(&o, (uint32_t)NOTA_PLUGIN_MIN_SIZE);
    nota_plugin copy;
    const nota_plugin *d = desc_view(&o.p, &copy);
    cr_assert_eq(d, &copy);
    cr_assert_null(d->transform);
    cr_assert_str_eq(d->name, "old");
    cr_assert_eq(d->load, load);
    cr_assert_eq(d->data_shape, data_shape);
    cr_assert_eq(check_descriptor(d, "old.so", "old"), NOTA_OK, "%s", nota_last_error());
    /* the bytes past its struct were never copied */
    cr_assert_neq(o.p.transform, NULL);
}

Test(registry_abi, current_descriptor_is_copied_whole) {
    old_plugin o;
    make_old(&o, (uint32_t)sizeof(nota_plugin));
    nota_plugin copy;
    const nota_plugin *d = desc_view(&o.p, &copy);
    cr_assert_eq(memcmp(d, &o.p, sizeof(nota_plugin)), 0);
}

Test(registry_abi, shorter_descriptor_is_refused) {
    old_plugin o;
    make_old(&o, (uint32_t)NOTA_PLUGIN_MIN_SIZE - 8);
    nota_plugin copy;
    const nota_plugin *d = desc_view(&o.p, &copy);
    cr_assert_eq(d, &o.p);
    cr_assert_eq(check_descriptor(d, "old.so", NULL), NOTA_EABI);
    char expect[256];
    snprintf(expect, sizeof expect,
             "plugin file 'old.so' has a descriptor of %u bytes, this host needs at least %zu",
             (unsigned)NOTA_PLUGIN_MIN_SIZE - 8, (size_t)NOTA_PLUGIN_MIN_SIZE);
    cr_assert_str_eq(nota_last_error(), expect);
}
