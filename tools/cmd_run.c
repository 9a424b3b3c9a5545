/* `layermerge run GRAPH [WEIGHTS | --random-weights SEED] --input X.npy
 * -o Y.npy`: the reference engine on a NumPy array, the output written as
 * one. The weights are those `merge` and `verify` use (a file checked
 * against the graph, or lm_weights_init_random on the graph as loaded), so
 * the output is what their engines compute for the same input. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "progress.h"

static void run_usage(FILE *out)
{
    fprintf(out,
"usage: layermerge run GRAPH.yaml (WEIGHTS.safetensors | --random-weights SEED)\n"
"           --input X.npy -o Y.npy [--timesteps T[,T...]] [--size S]\n"
"           [--threads T] [--time [--reps N] [--warmup W]]\n\n"
"Run the network in the library's engine on the float32 array X (NumPy\n"
".npy, C order, N x C x H x W: N images of the graph's input channels and\n"
"size) and write its output, N x C' x H' x W', as Y.npy (atomically).\n\n"
"options:\n"
"  --input FILE        the input array (.npy version 1.0, 2.0 or 3.0,\n"
"                      dtype '<f4', fortran_order False, rank 4)\n"
"  -o, --output FILE   the output array (-o -: standard output)\n"
"  --timesteps T,...   the timestep of each image for a network with a\n"
"                      time embedding (a diffusion denoiser): one number\n"
"                      for every image, or one per image; required there,\n"
"                      refused elsewhere\n"
"  --random-weights S  deterministic random weights (seed S), as for\n"
"                      'merge' and 'verify'\n"
"  --size S            run at an S x S input instead of the graph's own\n"
"  --threads T         OpenBLAS threads (default 1)\n"
"  --time              also time the engine at this batch: W untimed runs,\n"
"                      then N timed runs; prints the median with the fastest\n"
"                      and slowest run (on standard error with -o -)\n"
"  --reps N            timed runs for --time (default 10)\n"
"  --warmup W          untimed runs for --time (default 2)\n"
"  -h, --help          show this help\n\n"
"The engine runs deterministically: the same input, weights and thread\n"
"count give the same output to the last bit.\n"
"Exit status: 0 success, 1 failure (a bad .npy names the file and the\n"
"problem), 2 bad usage.\n");
}

typedef struct run_args {
    const char *graph, *weights, *input, *output, *timesteps;
    size_t size, threads, reps, warmup;
    uint64_t seed;
    int has_seed, has_size, time;
} run_args;

static int run_value(const char *opt, const char *val, void *args)
{
    run_args *a = args;
    size_t n = 0;
    if (!strcmp(opt, "--input")) {
        a->input = val;
        return 0;
    }
    if (!strcmp(opt, "--timesteps")) {
        a->timesteps = val;
        return 0;
    }
    if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
        a->output = val;
        return 0;
    }
    int zero_ok = !strcmp(opt, "--random-weights") || !strcmp(opt, "--warmup");
    if (lm_tool_whole("run", opt, val, zero_ok ? 0 : 1, SIZE_MAX, &n))
        return 2;
    if (!strcmp(opt, "--random-weights"))
        a->seed = n, a->has_seed = 1;
    else if (!strcmp(opt, "--size"))
        a->size = n, a->has_size = 1;
    else if (!strcmp(opt, "--threads"))
        a->threads = n;
    else if (!strcmp(opt, "--reps"))
        a->reps = n;
    else
        a->warmup = n;
    return 0;
}

static int run_flag(const char *opt, void *args)
{
    (void)opt;
    ((run_args *)args)->time = 1;
    return 0;
}

static int run_file(const char *word, void *args)
{
    run_args *a = args;
    if (!a->graph)
        a->graph = word;
    else if (!a->weights)
        a->weights = word;
    else
        return lm_tool_usage_error("run", "too many file arguments");
    return 0;
}

static int parse_args(int argc, char **argv, run_args *a)
{
    static const char *const valued[] = {"--input", "-o", "--output",
                                         "--timesteps",
                                         "--random-weights", "--size",
                                         "--threads", "--reps", "--warmup",
                                         NULL};
    static const char *const flags[] = {"--time", NULL};
    static const lm_tool_opts o = {"run", valued, run_value, run_file, flags,
                                   run_flag};
    *a = (run_args){.threads = 1, .reps = 10, .warmup = 2};
    int rc = lm_tool_parse_argv(&o, argc, argv, 1, a);
    if (rc)
        return rc;
    if (!a->graph)
        return lm_tool_usage_error("run", "missing GRAPH.yaml");
    if (!a->weights == !a->has_seed)
        return lm_tool_usage_error("run", "give WEIGHTS.safetensors or "
                                   "--random-weights SEED");
    if (!a->input)
        return lm_tool_usage_error("run", "missing --input X.npy");
    if (!a->output)
        return lm_tool_usage_error("run", "missing -o Y.npy");
    const char *outs[] = {a->output};
    const char *ins[] = {a->graph, a->weights, a->input};
    return lm_tool_check_outputs("run", outs, 1, ins, 3);
}

/* ---- .npy ---------------------------------------------------------------- */

static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static void swap32(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char *b = (unsigned char *)&v[i], t;
        t = b[0], b[0] = b[3], b[3] = t;
        t = b[1], b[1] = b[2], b[2] = t;
    }
}

typedef struct npy {
    const char *path;
    int64_t shape[8];
    size_t rank;
    float *data;
    size_t count;
} npy;

static int npy_error(const char *path, const char *what)
{
    fprintf(stderr, "layermerge run: %s: %s\n", path, what);
    return 1;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A Python string literal '...' or "..." (no escapes in these headers). */
static const char *parse_str(const char *p, char *out, size_t cap)
{
    char q = *p;
    if (q != '\'' && q != '"')
        return NULL;
    const char *end = strchr(p + 1, q);
    if (!end || (size_t)(end - p - 1) >= cap)
        return NULL;
    memcpy(out, p + 1, (size_t)(end - p - 1));
    out[end - p - 1] = '\0';
    return end + 1;
}

/* "(a, b, c)" or "(a,)" or "()": non-negative integers. */
static const char *parse_shape(const char *p, npy *n)
{
    if (*p != '(')
        return NULL;
    p = skip_space(p + 1);
    n->rank = 0;
    while (*p != ')') {
        char *end = NULL;
        if (*p < '0' || *p > '9' || n->rank == 8)
            return NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0)
            return NULL;
        n->shape[n->rank++] = v;
        p = skip_space(end);
        if (*p == ',')
            p = skip_space(p + 1);
        else if (*p != ')')
            return NULL;
    }
    return p + 1;
}

/* The header dict: exactly the keys descr, fortran_order and shape. */
static int parse_header(const char *path, const char *h, npy *n)
{
    char key[32], descr[32] = "";
    int seen[3] = {0, 0, 0}, fortran = -1;
    const char *p = skip_space(h);
    if (*p++ != '{')
        return npy_error(path, "the .npy header is not a dictionary");
    for (;;) {
        p = skip_space(p);
        if (*p == '}')
            break;
        if (!(p = parse_str(p, key, sizeof key)))
            return npy_error(path, "the .npy header has a malformed key");
        p = skip_space(p);
        if (*p++ != ':')
            return npy_error(path, "the .npy header lacks a ':' after a key");
        p = skip_space(p);
        int k = !strcmp(key, "descr") ? 0 : !strcmp(key, "fortran_order") ? 1
                : !strcmp(key, "shape") ? 2 : -1;
        if (k < 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "unexpected key '%s' in the .npy "
                     "header", key);
            return npy_error(path, msg);
        }
        if (seen[k]++)
            return npy_error(path, "a key appears twice in the .npy header");
        if (k == 0)
            p = parse_str(p, descr, sizeof descr);
        else if (k == 1) {
            fortran = !strncmp(p, "True", 4) ? 1 : !strncmp(p, "False", 5) ? 0
                                                                            : -1;
            p = fortran < 0 ? NULL : p + (fortran ? 4 : 5);
        } else
            p = parse_shape(p, n);
        if (!p)
            return npy_error(path, k == 0 ? "descr is not a string"
                                   : k == 1 ? "fortran_order is not True or "
                                              "False"
                                            : "shape is not a tuple of whole "
                                              "numbers (at most 8)");
        p = skip_space(p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            return npy_error(path, "the .npy header lacks a ',' between "
                                   "entries");
    }
    p = skip_space(p + 1);
    while (*p == '\n' || *p == ' ')
        p++;
    if (*p)
        return npy_error(path, "text after the .npy header dictionary");
    if (!seen[0] || !seen[1] || !seen[2])
        return npy_error(path, "the .npy header lacks descr, fortran_order "
                               "or shape");
    if (strcmp(descr, "<f4")) {
        char msg[96];
        snprintf(msg, sizeof msg, "dtype '%s' is not little-endian float32 "
                 "'<f4' (numpy: x.astype('<f4'))", descr);
        return npy_error(path, msg);
    }
    if (fortran)
        return npy_error(path, "fortran_order is True: save a C-ordered "
                               "array (numpy.ascontiguousarray)");
    return 0;
}

static void shape_text(char *buf, size_t cap, const npy *n)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (size_t i = 0; i < n->rank && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld",
                                 i ? ", " : "", (long long)n->shape[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, n->rank == 1 ? ",)" : ")");
}

/* Read `path` into `n` and check it is N x C x H x W float32 with C, H, W
 * those of `in`. */
static int npy_read(const char *path, const lm_shape *in, npy *n)
{
    memset(n, 0, sizeof *n);
    n->path = path;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "layermerge run: %s: cannot open: %s\n", path,
                strerror(errno));
        return 1;
    }
    unsigned char pre[12];
    char *header = NULL;
    char msg[300], shape[200];
    int rc = 0;
    size_t got = fread(pre, 1, 10, fp);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6)) {
        rc = npy_error(path, "not a NumPy .npy file (no \\x93NUMPY magic)");
        goto out;
    }
    if ((pre[6] < 1 || pre[6] > 3) || pre[7] != 0) {
        snprintf(msg, sizeof msg, "unsupported .npy version %u.%u (1.0, 2.0 "
                 "or 3.0)", pre[6], pre[7]);
        rc = npy_error(path, msg);
        goto out;
    }
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (pre[6] > 1) {
        if (fread(pre + 10, 1, 2, fp) != 2) {
            rc = npy_error(path, "truncated .npy header");
            goto out;
        }
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    /* Real headers are a few hundred bytes; this bounds the allocation. */
    if (hlen == 0 || hlen > (1u << 20)) {
        snprintf(msg, sizeof msg, ".npy header length %zu is out of range "
                 "1..1048576", hlen);
        rc = npy_error(path, msg);
        goto out;
    }
    header = malloc(hlen + 1);
    if (!header || fread(header, 1, hlen, fp) != hlen) {
        rc = npy_error(path, header ? "truncated .npy header" : "out of memory");
        goto out;
    }
    header[hlen] = '\0';
    if (strlen(header) != hlen || header[hlen - 1] != '\n') {
        rc = npy_error(path, "the .npy header holds a NUL byte or does not "
                             "end with a newline");
        goto out;
    }
    if ((rc = parse_header(path, header, n)) != 0)
        goto out;
    shape_text(shape, sizeof shape, n);
    if (n->rank != 4) {
        snprintf(msg, sizeof msg, "shape %s has rank %zu; expected 4 (N x C "
                 "x H x W)", shape, n->rank);
        rc = npy_error(path, msg);
        goto out;
    }
    if (n->shape[0] < 1) {
        snprintf(msg, sizeof msg, "shape %s holds no image (N is 0)", shape);
        rc = npy_error(path, msg);
        goto out;
    }
    if (n->shape[1] != in->channels || n->shape[2] != in->height ||
        n->shape[3] != in->width) {
        snprintf(msg, sizeof msg, "shape %s does not match the network "
                 "input N x %lld x %lld x %lld%s", shape,
                 (long long)in->channels, (long long)in->height,
                 (long long)in->width,
                 n->shape[1] == in->channels ? " (--size S runs at S x S)"
                                             : "");
        rc = npy_error(path, msg);
        goto out;
    }
    /* Each factor is checked against what the engine accepts before the
     * product is formed. */
    if (n->shape[0] > INT32_MAX) {
        rc = npy_error(path, "batch above 2147483647");
        goto out;
    }
    n->count = (size_t)n->shape[0] * (size_t)(in->channels * in->height *
                                               in->width);
    if (n->count / (size_t)n->shape[0] !=
        (size_t)(in->channels * in->height * in->width) ||
        n->count > SIZE_MAX / sizeof(float)) {
        rc = npy_error(path, "the array is too large");
        goto out;
    }
    long here = ftell(fp);
    if (fseek(fp, 0, SEEK_END) != 0 || here < 0) {
        rc = npy_error(path, "cannot seek");
        goto out;
    }
    long size = ftell(fp);
    size_t have = size >= here ? (size_t)(size - here) : 0;
    if (have != n->count * sizeof(float)) {
        snprintf(msg, sizeof msg, "holds %zu bytes of data; shape %s of "
                 "float32 needs %zu", have, shape, n->count * sizeof(float));
        rc = npy_error(path, msg);
        goto out;
    }
    n->data = malloc(n->count * sizeof(float));
    if (!n->data || fseek(fp, here, SEEK_SET) != 0 ||
        fread(n->data, sizeof(float), n->count, fp) != n->count) {
        rc = npy_error(path, n->data ? "read error" : "out of memory for the "
                                                      "array");
        goto out;
    }
    if (!little_endian())
        swap32(n->data, n->count);
out:
    free(header);
    fclose(fp);
    if (rc) {
        free(n->data);
        n->data = NULL;
    }
    return rc;
}

typedef struct npy_out {
    int64_t shape[4];
    float *data;
    size_t count;
} npy_out;

/* Version 1.0, the header padded so the data starts at a multiple of 64. */
static int npy_emit(FILE *fp, void *userdata)
{
    npy_out *o = userdata;
    char dict[200];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': "
                       "False, 'shape': (%lld, %lld, %lld, %lld), }",
                       (long long)o->shape[0], (long long)o->shape[1],
                       (long long)o->shape[2], (long long)o->shape[3]);
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)len + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, 10, fp) != 10 || fputs(dict, fp) == EOF)
        return -1;
    for (size_t i = 0; i < pad; i++)
        if (fputc(' ', fp) == EOF)
            return -1;
    if (fputc('\n', fp) == EOF)
        return -1;
    if (!little_endian())
        swap32(o->data, o->count);
    size_t wrote = fwrite(o->data, sizeof(float), o->count, fp);
    if (!little_endian())
        swap32(o->data, o->count);
    return wrote == o->count ? 0 : -1;
}

/* ---- run ----------------------------------------------------------------- */

static int report_time(const run_args *a, lm_engine *e, size_t batch)
{
    lm_timing tm = {.size = sizeof tm};
    if (lm_engine_time(&tm, e, a->warmup, a->reps) != LM_OK)
        return lm_tool_fail("timing");
    FILE *fp = lm_tool_is_stdout(a->output) ? stderr : stdout;
    /* For people: 4 significant digits (the runs spread more than that). */
    fprintf(fp, "time: %.4g ms median (%.4g-%.4g ms) over %zu runs after %zu "
            "warm-up, batch %zu, %zu thread%s\n", tm.median_ms, tm.min_ms,
            tm.max_ms, tm.runs, a->warmup, batch, tm.threads,
            tm.threads == 1 ? "" : "s");
    return 0;
}

/* --timesteps: one number for every image or one per image, each
 * finite; set on the engine. */
static int set_timesteps(const run_args *a, const lm_graph *g, lm_engine *e,
                         size_t batch)
{
    lm_time_embedding_info te = {.size = sizeof te};
    if (lm_graph_time_embedding(&te, g) != LM_OK)
        return lm_tool_fail(a->graph);
    if (!te.has_time_embedding && a->timesteps)
        return lm_tool_usage_error("run", "--timesteps: the network has no "
                                   "time embedding");
    if (!te.has_time_embedding)
        return 0;
    if (!a->timesteps) {
        fprintf(stderr, "layermerge run: %s takes a timestep per image (a "
                "diffusion denoiser): give --timesteps\n", a->graph);
        return 1;
    }
    float *t = malloc(batch * sizeof *t);
    if (!t)
        return npy_error(a->input, "out of memory for the timesteps");
    size_t n = 0;
    int rc = 0;
    for (const char *s = a->timesteps; rc == 0; n++) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char word[64];
        double v = 0.0;
        if (len >= sizeof word)
            len = sizeof word - 1;
        memcpy(word, s, len);
        word[len] = '\0';
        if (lm_tool_real("run", "--timesteps", word, 0, -1e30, 1e30, &v))
            rc = 2;
        else if (n < batch)
            t[n] = (float)v;
        if (!comma)
            break;
        s = comma + 1;
    }
    n++;
    if (rc == 0 && n == 1)
        for (size_t i = 1; i < batch; i++)
            t[i] = t[0];
    else if (rc == 0 && n != batch) {
        fprintf(stderr, "layermerge run: --timesteps: %zu numbers for %zu "
                "images: give one, or one per image\n", n, batch);
        rc = 2;
    }
    if (rc == 0 && lm_engine_set_timesteps(e, t, batch) != LM_OK)
        rc = lm_tool_fail("timesteps");
    free(t);
    return rc;
}

static int run_network(const run_args *a, const lm_graph *g,
                       const lm_weights *w)
{
    lm_shape in = {.size = sizeof in}, out = {.size = sizeof out};
    lm_graph_input_shape(&in, g);
    lm_graph_output_shape(&out, g);
    npy x;
    if (npy_read(a->input, &in, &x) != 0)
        return 1;
    size_t batch = (size_t)x.shape[0];
    lm_engine *e = NULL;
    npy_out y = {{(int64_t)batch, out.channels, out.height, out.width}, NULL, 0};
    int rc = 0;
    if (lm_engine_create(&e, g, w, batch) != LM_OK ||
        lm_engine_set_threads(e, a->threads) != LM_OK)
        rc = lm_tool_fail("engine");
    if (rc == 0)
        rc = set_timesteps(a, g, e, batch);
    if (rc == 0) {
        y.count = lm_engine_output_size(e);
        if (y.count != batch * (size_t)(out.channels * out.height * out.width))
            rc = npy_error(a->graph, "the engine's output size is not the "
                                     "graph's output shape");
    }
    if (rc == 0) {
        y.data = malloc((y.count ? y.count : 1) * sizeof *y.data);
        if (!y.data)
            rc = npy_error(a->output, "out of memory for the output");
    }
    if (rc == 0 &&
        lm_engine_run(y.data, y.count, e, x.data, x.count) != LM_OK)
        rc = lm_tool_fail("run");
    if (rc == 0)
        rc = lm_tool_write_atomic(a->output, npy_emit, &y);
    if (rc == 0 && !lm_tool_is_stdout(a->output))
        printf("wrote %s: %lld x %lld x %lld x %lld float32 from %s\n",
               a->output, (long long)y.shape[0], (long long)y.shape[1],
               (long long)y.shape[2], (long long)y.shape[3], a->input);
    if (rc == 0 && a->time)
        rc = report_time(a, e, batch);
    free(y.data);
    free(x.data);
    lm_engine_destroy(e);
    return rc;
}

int lm_cmd_run(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        run_usage(stdout);
        return 0;
    }
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    lm_graph *g = NULL, *sized = NULL;
    lm_weights *w = NULL;
    if (lm_tool_graph_load(&g, a.graph) != LM_OK)
        return lm_tool_fail(a.graph);
    /* Random weights come from the graph as loaded, as in merge and
     * verify; they do not depend on the input size. */
    if (lm_tool_weights(&w, a.weights, g, a.seed) != LM_OK)
        rc = lm_tool_fail(a.weights ? a.weights : "random weights");
    else if (lm_tool_graph_at_size(&sized, g, a.has_size ? a.size : 0) !=
             LM_OK)
        rc = lm_tool_fail(a.graph);
    else
        rc = run_network(&a, sized, w);
    lm_graph_destroy(sized);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return rc;
}
