/* graph_entries — load a network graph, list its segments and entries.
 *
 * The first step of every LayerMerge workflow: a graph file describes the
 * trunk convolutions, skips and barriers (docs/formats.md); from it the
 * library enumerates the valid segments and, per segment, one table entry
 * per distinct merged kernel (docs/concepts.md). Each entry is one row of
 * the latency and importance tables that must be filled before solving.
 *
 * usage: graph_entries GRAPH.yaml [--segments N]
 *
 * Uses only the public API: cc graph_entries.c $(pkg-config --cflags --libs layermerge)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <layermerge/layermerge.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: graph_entries GRAPH.yaml [--segments N]\n"
            "\n"
            "Load a graph, print its trunk, skips, barriers and fingerprint,\n"
            "the number of valid segments and table entries, and the entries\n"
            "of the first N segments (default 4).\n");
}

/* Every fallible call returns an lm_status; the details are in
 * lm_last_error(), which names the file, line, layer or entry at fault. */
static int fail(const char *what, lm_status st)
{
    fprintf(stderr, "graph_entries: %s: %s (%s)\n", what, lm_last_error(),
            lm_status_str(st));
    return 1;
}

static void print_graph(const lm_graph *g)
{
    size_t n = lm_graph_conv_count(g);
    printf("graph %s: %zu trunk convs, %zu skips, fingerprint %s\n",
           lm_graph_name(g), n, lm_graph_skip_count(g),
           lm_graph_fingerprint(g));
    printf("barriers:");
    for (size_t p = 0; p <= n; p++) {
        lm_position_info pos = {.size = sizeof pos};
        if (lm_graph_position_info(&pos, g, p) == LM_OK && pos.is_barrier)
            printf(" %zu", p);
    }
    printf("\n");
}

/* One line per entry: its id, key (st, end, K, stride, depthwise) and the
 * convs its representative subset keeps (the others become identity). */
static int print_segment(const lm_entries *e, size_t s)
{
    lm_segment_info seg = {.size = sizeof seg};
    lm_status st = lm_entries_segment_info(&seg, e, s);
    if (st != LM_OK)
        return fail("segment", st);
    printf("segment %zu (%zu, %zu]: %zu entries\n", s, seg.st, seg.end,
           seg.n_entries);
    for (size_t i = 0; i < seg.n_entries; i++) {
        lm_entry_info en = {.size = sizeof en};
        st = lm_entries_entry_info(&en, e, seg.first_entry + i);
        if (st != LM_OK)
            return fail("entry", st);
        printf("  entry %zu: K=%lld stride=%lld dw=%d in=%lldx%lldx%lld "
               "out=%lld keeps {",
               en.id, (long long)en.kernel, (long long)en.stride,
               (int)en.depthwise, (long long)en.in_channels,
               (long long)en.in_height, (long long)en.in_width,
               (long long)en.out_channels);
        for (size_t k = 0; k < en.n_kept; k++)
            printf(k ? ",%zu" : "%zu", en.kept[k]);
        printf("}\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    size_t show = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--segments") && i + 1 < argc) {
            show = strtoul(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }

    lm_graph *g = NULL;
    lm_entries *e = NULL;
    lm_status st = lm_graph_load(&g, path); /* loads and validates */
    if (st != LM_OK)
        return fail("load graph", st);
    print_graph(g);
    st = lm_entries_create(&e, g);
    if (st != LM_OK) {
        lm_graph_destroy(g);
        return fail("entries", st);
    }
    /* The entry list copied what it needs: the graph may go now. */
    lm_graph_destroy(g);

    printf("segments: %zu, entries: %zu\n", lm_entries_segment_count(e),
           lm_entries_count(e));
    int rc = 0;
    for (size_t s = 0; s < show && s < lm_entries_segment_count(e) && !rc; s++)
        rc = print_segment(e, s);
    lm_entries_destroy(e);
    return rc;
}
