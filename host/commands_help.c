/* `nota-host help [COMMAND] [--plugin X]` and `--help`: usage of the host's
 * commands and, with --plugin, the plugin's summary and its --set options
 * (type, default, range or choices, help text) read from its option table. */
#include <string.h>

#include "host.h"

typedef struct cmd_help {
    host_cmd cmd;
    const char *usage;
    const char *summary;
    const char *options;
} cmd_help;

static const cmd_help HELP[] = {
    {HOST_CMD_PLUGINS, "nota-host plugins [--plugin NAME|PATH] [--json]",
     "List the plugins found: name, version, family, capabilities, path.",
     "  --plugin NAME|PATH  show only this plugin\n"
     "  --json              one JSON object on stdout\n"},
    {HOST_CMD_INFO, "nota-host info FILE.nota [--json]",
     "Describe a model file: plugin, versions, config, tensors, sub-models, dataset,\n"
     "metrics and training time. Needs no plugin.",
     "  --json              one JSON object on stdout\n"},
    {HOST_CMD_FIT, "nota-host fit --plugin NAME|PATH --data SPEC --out FILE.nota [options]",
     "Fit a new model on a dataset and save it (atomically) to FILE.nota.",
     "  --data SPEC         training data (see 'Data specs' below)\n"
     "  --valid SPEC        held-out data given to the plugin during fit\n"
     "  --label K           keep only items of class K (0..255)\n"
     "  --limit N           keep only the first N items (after --label)\n"
     "  --out FILE.nota     model file to write; its folder must exist\n"
     "  --set KEY=VALUE     plugin option (repeatable; see 'help fit --plugin X')\n"
     "  --seed S            base random seed (default 0)\n"
     "  --threads T         worker threads (default: number of CPUs)\n"
     "  --json              print the result as one JSON object\n"},
    {HOST_CMD_SAMPLE, "nota-host sample MODEL.nota [--n N] [--temperature T] [--out PREFIX]",
     "Draw N samples; writes PREFIX.npy and, for image models, PREFIX.png (a grid).",
     "  --n N               number of samples (1..10000000, default 64)\n"
     "  --temperature T     scale of the base noise (default 1)\n"
     "  --out PREFIX        output prefix (default 'samples')\n"
     "  --seed S            random seed (default 0)\n"
     "  --threads T         worker threads (default: number of CPUs)\n"},
    {HOST_CMD_ENCODE, "nota-host encode MODEL.nota --data SPEC --out CODES.npy",
     "Map data items to codes (images are taken at the centre of each 8-bit level).",
     "  --data SPEC         data to encode\n"
     "  --label K, --limit N  filter the data as for fit\n"
     "  --out CODES.npy     output file\n"
     "  --threads T         worker threads (default: number of CPUs)\n"},
    {HOST_CMD_DECODE, "nota-host decode MODEL.nota --codes CODES.npy --out PREFIX",
     "Map codes back to data; writes PREFIX.npy and, for image models, PREFIX.png.",
     "  --codes CODES.npy   codes, f32 (N, ...)\n"
     "  --out PREFIX        output prefix\n"
     "  --threads T         worker threads (default: number of CPUs)\n"},
    {HOST_CMD_EVAL, "nota-host eval MODEL.nota --data SPEC [--json]",
     "Score a model on a dataset: bits/dim = -mean(log_prob) / (D ln 2) on the data\n"
     "dequantized with a fixed seed (if the plugin has log_prob), plus the plugin's\n"
     "own metrics (if it has eval).",
     "  --data SPEC         held-out data\n"
     "  --label K, --limit N  filter the data as for fit\n"
     "  --threads T         worker threads (default: number of CPUs)\n"
     "  --json              print the metrics as one JSON object\n"},
    {HOST_CMD_ANALYZE, "nota-host analyze FILE.npy|SPEC [--json]",
     "Per-component normality tests (as Angles & Mallat, Table 1): D'Agostino's K^2 and\n"
     "Jarque-Bera on every column of the data flattened to (N, d); prints how many\n"
     "components each test rejects at alpha = 0.05 and 0.01. Images are taken at the\n"
     "centre of each 8-bit level. Constant columns count as rejected. Needs N >= 20.",
     "  --label K, --limit N  filter the data as for fit\n"
     "  --json              one JSON object, with every component's p-values\n"},
    {HOST_CMD_COMPRESS, "nota-host compress --plugin NAME|PATH IMAGE.png --bpp B --out FILE",
     "Compress one PNG image (grey or RGB) at about B bits per pixel with a codec plugin;\n"
     "decodes the result once to report its PSNR. The file is written atomically.",
     "  --bpp B             target bits per pixel, 8 * bytes / (W * H), in (0, 64]\n"
     "  --out FILE          compressed file to write; its folder must exist\n"
     "  --set KEY=VALUE     plugin option (repeatable; see 'help compress --plugin X')\n"
     "  --seed S            base random seed (default 0)\n"
     "  --threads T         worker threads (default: number of CPUs)\n"
     "  --json              print the result as one JSON object\n"},
    {HOST_CMD_DECOMPRESS, "nota-host decompress FILE --out IMAGE.png",
     "Decode a compressed file to a PNG; the plugin is named inside the file.",
     "  --out IMAGE.png     image to write (atomically); its folder must exist\n"
     "  --threads T         worker threads (default: number of CPUs)\n"
     "  --json              print the result as one JSON object\n"},
    {HOST_CMD_TRANSFORM, "nota-host transform --plugin NAME|PATH --data SPEC --out OUT.npy",
     "Apply a plugin's fixed transform (e.g. the scattering transform) to every item;\n"
     "images are taken at the centre of each 8-bit level. Nothing is fitted or saved.",
     "  --data SPEC         input data (IDX, .npy, PNG folder, fashion-mnist:test, ...)\n"
     "  --label K, --limit N  filter the data as for fit\n"
     "  --out OUT.npy       output, f32 (N, ...); its folder must exist\n"
     "  --set KEY=VALUE     plugin option (repeatable; see 'help transform --plugin X')\n"
     "  --threads T         worker threads (default: number of CPUs)\n"},
    {HOST_CMD_COMPOSE, "nota-host compose PRIOR.nota DECODER.nota --out PIPELINE.nota",
     "Make a pipeline model: `sample` draws codes from PRIOR and decodes them with\n"
     "DECODER; other commands use DECODER. The prior's items must have the shape of\n"
     "the decoder's codes. Both are stored inside, as sub-models prior and decoder.",
     "  --out PIPELINE.nota  model file to write; its folder must exist\n"},
    {HOST_CMD_TRAVERSE,
     "nota-host traverse MODEL.nota [--dims A,B] [--values V1,V2,...] --out GRID.png\n"
     "                   [--npy IMAGES.npy] [--base zero|CODES.npy]",
     "Angles & Mallat's Figure 1 for any model that decodes vector codes (scatter,\n"
     "latent, a pipeline's decoder): decode the base code with dimension A set to each\n"
     "value (grid rows, top to bottom) and dimension B to each value (columns, left to\n"
     "right), and write the decoded images as one PNG grid. For whitened PCA codes\n"
     "(scatter, latent gaussian) dimensions 0 and 1 have the greatest variance and the\n"
     "zero code is the training mean.",
     "  --dims A,B          the two code dimensions, 0..k-1 (default 0,1)\n"
     "  --values V1,...     values both take, 1..32 numbers (default -10,-5,5,10)\n"
     "  --base zero|FILE    the other dimensions: 0 (default), or the mean of the\n"
     "                      codes in FILE.npy, f32 (N, k) or (k,) (e.g. from encode)\n"
     "  --out GRID.png      the grid (values^2 tiles); its folder must exist\n"
     "  --npy IMAGES.npy    also (or only) the decoded items, f32 (values^2, ...)\n"
     "  --threads T         worker threads (default: number of CPUs)\n"},
    {HOST_CMD_HELP, "nota-host help [COMMAND] [--plugin NAME|PATH]",
     "Show help for a command; with --plugin, the plugin's options too.", ""},
};

static const char *type_name(nota_value_type t) {
    switch (t) {
    case NOTA_VAL_INT:
        return "int";
    case NOTA_VAL_FLOAT:
        return "float";
    case NOTA_VAL_STRING:
        return "string";
    case NOTA_VAL_BOOL:
        return "bool";
    }
    return "?";
}

static void general_help(void) {
    printf("Usage: nota-host [--plugin NAME|PATH] COMMAND [options]\n\n"
           "Commands:\n"
           "  plugins     list the plugins found\n"
           "  info        describe a model file\n"
           "  fit         fit a model on a dataset and save it\n"
           "  sample      draw samples from a model\n"
           "  encode      map data to codes\n"
           "  decode      map codes back to data\n"
           "  eval        score a model on a dataset\n"
           "  analyze     per-component normality tests of a data set\n"
           "  compress    compress an image with a codec plugin\n"
           "  decompress  decode a compressed image\n"
           "  transform   apply a plugin's fixed transform (scattering) to data\n"
           "  compose     pipeline of a prior and a decoder (sample = decode(prior))\n"
           "  traverse    decode a grid of codes varying two dimensions (Figure 1)\n"
           "  help        show help for a command ('help fit --plugin X' lists X's options)\n\n"
           "Options for every command:\n"
           "  --plugin NAME|PATH  a plugin name (NAME.so in the plugin folders) or a file\n"
           "  -v, --verbose       show debug log lines\n"
           "  -h, --help          show help\n\n"
           "Plugin folders, searched in order: $NOTA_PLUGIN_PATH (colon-separated),\n"
           "<nota-host dir>/plugins (build tree), <nota-host dir>/../lib/nota/plugins\n"
           "(installed), then the install folder compiled in.\n\n"
           "Exit codes: 0 ok, 1 error, 2 usage error, 130 interrupted (Ctrl-C).\n");
}

static void plugin_help(const nota_plugin *d, const char *path, bool options) {
    char caps[160];
    printf("Plugin %s %u (family %s): %s\n", d->name, (unsigned)d->version, d->family,
           d->description ? d->description : "");
    printf("File: %s\n", path);
    printf("Capabilities: %s\n", host_caps_str(d->caps, caps, sizeof caps));
    if (!options) return;
    printf("\nOptions (--set KEY=VALUE):\n");
    if (d->n_options == 0) printf("  (none)\n");
    for (size_t i = 0; i < d->n_options; i++) {
        const nota_option *o = &d->options[i];
        char range[160] = "";
        if (o->type == NOTA_VAL_STRING && o->choices)
            snprintf(range, sizeof range, "one of %s", o->choices);
        else if ((o->type == NOTA_VAL_INT || o->type == NOTA_VAL_FLOAT) && o->min < o->max)
            snprintf(range, sizeof range, "range [%g, %g]", o->min, o->max);
        printf("  %-16s %-6s default %-10s %-24s %s\n", o->name, type_name(o->type),
               o->default_value ? o->default_value : "", range, o->help ? o->help : "");
    }
}

int host_cmd_help(host_ctx *c) {
    host_cmd topic =
        c->args.cmd == HOST_CMD_HELP
            ? (c->args.positional ? host_cmd_from_name(c->args.positional) : HOST_CMD_NONE)
            : c->args.cmd;
    if (topic == HOST_CMD_NONE) general_help();
    for (size_t i = 0; i < sizeof HELP / sizeof HELP[0]; i++) {
        if (HELP[i].cmd != topic) continue;
        printf("Usage: %s\n\n%s\n", HELP[i].usage, HELP[i].summary);
        if (HELP[i].options[0]) printf("\nOptions:\n%s", HELP[i].options);
        printf("  -v, --verbose       show debug log lines\n");
        if (topic == HOST_CMD_FIT || topic == HOST_CMD_ENCODE || topic == HOST_CMD_EVAL ||
            topic == HOST_CMD_ANALYZE || topic == HOST_CMD_TRANSFORM)
            printf("\nData specs: fashion-mnist:train|test, mnist:train|test, FILE.npy,\n"
                   "an IDX file (optionally .gz), or a folder of PNG files.\n");
    }
    if (!c->args.plugin) return HOST_EXIT_OK;
    host_plugin *p;
    nota_status st = host_plugin_open(&c->registry, c->args.plugin, &p);
    if (st) return host_fail(st);
    printf("\n");
    plugin_help(p->desc, p->path,
                topic == HOST_CMD_FIT || topic == HOST_CMD_COMPRESS || topic == HOST_CMD_TRANSFORM ||
                    topic == HOST_CMD_NONE);
    host_plugin_close(p);
    return HOST_EXIT_OK;
}
