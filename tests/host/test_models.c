/* Model-file handling of nota-host: a model is used only with the plugin
 * that made it, a file naming a path instead of a plugin is refused, `info`
 * shows sub-models as a tree without loading any plugin, and a damaged file
 * is refused naming it. */
#include "host_run.h"

TestSuite(models, .init = use_fixture_plugins);

Test(models, model_made_by_another_plugin_is_refused) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 2);
    char *model = fit_model(dir, data, "m.nota");
    char expect[4096];
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' was made by plugin 'fixture', not 'fixture2'\n", model);
    host_run r = run_host(dir, "sample", model, "--n", "2", "--plugin", "fixture2", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    r = run_host(dir, "--plugin", "fixture2", "eval", model, "--data", data, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    r = run_host(dir, "info", model, "--plugin", "fixture2", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' was made by plugin 'fixture', not 'fixture2' (%s)\n",
             model, NOTA_HOST_FIXTURE_DIR "/fixture2.so");
    r = run_host(dir, "info", model, "--plugin", NOTA_HOST_FIXTURE_DIR "/fixture2.so", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    /* the right plugin given explicitly, by name or by path, is accepted */
    r = run_host(dir, "info", model, "--plugin", "fixture", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/s", dir);
    r = run_host(dir, "sample", model, "--n", "2", "--out", prefix, "--plugin",
                 NOTA_HOST_FIXTURE_DIR "/fixture.so", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    free(model);
    free(data);
    tmpdir_remove(dir);
}

Test(models, model_naming_a_plugin_path_is_refused) {
    char *dir = tmpdir_make();
    char model[512], expect[4096];
    snprintf(model, sizeof model, "%s/evil.nota", dir);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("../evil", 1, &mf), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_save(mf, model), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' names plugin '../evil', which is not a valid plugin "
             "name\n",
             model);
    host_run r = run_host(dir, "sample", model, "--n", "1", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(models, info_shows_sub_models_as_a_tree) {
    char *dir = tmpdir_make();
    char model[512];
    snprintf(model, sizeof model, "%s/pipe.nota", dir);
    nota_modelfile *top, *enc, *prior;
    nota_tensor *t;
    int64_t shape[2] = {2, 3};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, &t), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("pipeline", 2, &top), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("scatter", 1, &enc), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("latent", 3, &prior), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(enc, "pca", t), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(prior, "mean", t), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_submodel(enc, "prior", prior), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_submodel(top, "encoder", enc), NOTA_OK);
    cr_assert_eq(nota_modelfile_save(top, model), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(top);
    nota_tensor_free(t);
    host_run r = run_host(dir, "info", model, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "plugin: pipeline 2 (ABI 1)\n"), "%s", r.out);
    cr_assert(strstr(r.out, "tensors:\nsub-models:\n  encoder: scatter 1\n      pca f32 (2, 3)\n"
                            "    prior: latent 3\n        mean f32 (2, 3)\nmetrics:\n"),
              "%s", r.out);
    host_run_free(&r);
    r = run_host(dir, "info", model, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"submodels\":[{\"name\":\"encoder\",\"model\":{\"plugin\":"
                            "\"scatter\",\"plugin_version\":1,"),
              "%s", r.out);
    cr_assert(strstr(r.out, "\"submodels\":[{\"name\":\"prior\",\"model\":{\"plugin\":"
                            "\"latent\",\"plugin_version\":3,"),
              "%s", r.out);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(models, damaged_model_file_is_refused_naming_it) {
    char *dir = tmpdir_make();
    char model[512];
    snprintf(model, sizeof model, "%s/junk.nota", dir);
    FILE *f = fopen(model, "wb");
    fputs("this is not a model file", f);
    fclose(f);
    host_run r = run_host(dir, "info", model, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_eq(strncmp(r.err, "nota-host: error: ", 18), 0, "%s", r.err);
    cr_assert(strstr(r.err, model), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert_str_eq(r.out, "");
    host_run_free(&r);
    r = run_host(dir, "sample", model, "--n", "1", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert(strstr(r.err, model), "%s", r.err);
    host_run_free(&r);
    tmpdir_remove(dir);
}
