/* Run the engine on a graph, a safetensors file and a raw float32 input,
 * through the public API only (tests/torch_crosscheck.py drives it).
 *
 *   engine_driver GRAPH.yaml WEIGHTS.safetensors INPUT.f32 BATCH OUTPUT.f32
 *                 [TIMESTEPS.f32]
 *
 * INPUT holds BATCH x C x H x W host-order floats; OUTPUT receives the
 * network's output for the batch; TIMESTEPS, for a network with a time
 * embedding, BATCH floats. Exit status 0 on success, 1 on any
 * failure (the message on stderr). */
#include <stdio.h>
#include <stdlib.h>

#include "layermerge/layermerge.h"

static int fail(const char *what, lm_status st)
{
    fprintf(stderr, "engine_driver: %s: %s: %s\n", what, lm_status_str(st),
            lm_last_error());
    return 1;
}

static int read_floats(const char *path, float *dst, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t got = fread(dst, sizeof *dst, n, fp);
    int extra = fgetc(fp) != EOF;
    fclose(fp);
    return got == n && !extra;
}

static int write_floats(const char *path, const float *src, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    size_t put = fwrite(src, sizeof *src, n, fp);
    return (fclose(fp) == 0) & (put == n);
}

static int set_timesteps(lm_engine *e, const char *path)
{
    size_t n = lm_engine_batch(e);
    float *t = malloc(n * sizeof *t);
    int rc = 1;
    lm_status st;
    if (!t)
        fprintf(stderr, "engine_driver: out of memory\n");
    else if (!read_floats(path, t, n))
        fprintf(stderr, "engine_driver: %s: need exactly %zu floats\n", path,
                n);
    else if ((st = lm_engine_set_timesteps(e, t, n)) != LM_OK)
        fail("timesteps", st);
    else
        rc = 0;
    free(t);
    return rc;
}

static int run(lm_engine *e, const char *in_path, const char *out_path,
               const char *t_path)
{
    size_t n_in = lm_engine_input_size(e), n_out = lm_engine_output_size(e);
    float *in = malloc(n_in * sizeof *in), *out = malloc(n_out * sizeof *out);
    int rc = 1;
    lm_status st;
    if (!in || !out)
        fprintf(stderr, "engine_driver: out of memory\n");
    else if (t_path && set_timesteps(e, t_path) != 0)
        ;
    else if (!read_floats(in_path, in, n_in))
        fprintf(stderr, "engine_driver: %s: need exactly %zu floats\n",
                in_path, n_in);
    else if ((st = lm_engine_run(out, n_out, e, in, n_in)) != LM_OK)
        fail("run", st);
    else if (!write_floats(out_path, out, n_out))
        fprintf(stderr, "engine_driver: cannot write %s\n", out_path);
    else
        rc = 0;
    free(in);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: engine_driver GRAPH WEIGHTS INPUT BATCH "
                        "OUTPUT [TIMESTEPS]\n");
        return 2;
    }
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_engine *e = NULL;
    int rc = 1;
    lm_status st = lm_graph_load(&g, argv[1]);
    if (st != LM_OK)
        rc = fail(argv[1], st);
    else if ((st = lm_weights_load(&w, argv[2])) != LM_OK)
        rc = fail(argv[2], st);
    else if ((st = lm_engine_create(&e, g, w, strtoul(argv[4], NULL, 10))) !=
             LM_OK)
        rc = fail("create", st);
    else
        rc = run(e, argv[3], argv[5], argc == 7 ? argv[6] : NULL);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return rc;
}
