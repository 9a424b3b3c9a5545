/* The CLI's shared pieces below the commands (tools/progress.c): the
 * option parser's conventions, the work of an entry and the weighted time
 * estimate, on tests/data/bad/tiny_graph.yaml.
 *   progress_check SOURCE_ROOT
 * Prints one line per failed check and exits 1 when any failed. */
#include <stdio.h>
#include <string.h>

#include "../../tools/commands.h"
#include "../../tools/progress.h"

static int failed;

static void expect(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        failed++;
    }
}

/* progress.c reports through these (tools/main.c in the command). */
int lm_tool_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "layermerge %s: %s\n", cmd, msg);
    return 2;
}

int lm_tool_fail(const char *what)
{
    fprintf(stderr, "layermerge: %s: %s\n", what, lm_last_error());
    return 1;
}

typedef struct seen {
    char opts[8][32], vals[8][32], files[8][32];
    int n_opts, n_files, flags;
} seen;

static int on_value(const char *opt, const char *val, void *args)
{
    seen *s = args;
    snprintf(s->opts[s->n_opts], 32, "%s", opt);
    snprintf(s->vals[s->n_opts++], 32, "%s", val);
    return 0;
}

static int on_file(const char *word, void *args)
{
    seen *s = args;
    snprintf(s->files[s->n_files++], 32, "%s", word);
    return 0;
}

static int on_flag(const char *opt, void *args)
{
    (void)opt;
    ((seen *)args)->flags++;
    return 0;
}

static int parse(seen *s, int argc, char **argv)
{
    static const char *const valued[] = {"-o", "--ratio", NULL};
    static const char *const flags[] = {"--json", NULL};
    static const lm_tool_opts o = {"test", valued, on_value, on_file, flags,
                                   on_flag};
    memset(s, 0, sizeof *s);
    return lm_tool_parse_argv(&o, argc, argv, 1, s);
}

static void check_parser(void)
{
    seen s;
    char *a1[] = {"x", "--ratio=0.5", "g.yaml", "-o", "-", "--json", "--",
                  "-odd", "--json"};
    expect(parse(&s, 9, a1) == 0, "a valid command line parses");
    expect(s.n_opts == 2 && !strcmp(s.opts[0], "--ratio") &&
               !strcmp(s.vals[0], "0.5") && !strcmp(s.opts[1], "-o") &&
               !strcmp(s.vals[1], "-"),
           "--ratio=0.5 and -o - are values");
    expect(s.flags == 1, "--json is a flag; after '--' it is a file");
    expect(s.n_files == 3 && !strcmp(s.files[0], "g.yaml") &&
               !strcmp(s.files[1], "-odd") && !strcmp(s.files[2], "--json"),
           "every word after '--' is a file");
    char *a2[] = {"x", "--bogus=1"};
    expect(parse(&s, 2, a2) == 2, "an unknown --x=1 is a usage error");
    char *a3[] = {"x", "--ratio"};
    expect(parse(&s, 2, a3) == 2, "a trailing valued option wants a value");
    char *a4[] = {"x", "--json=yes"};
    expect(parse(&s, 2, a4) == 2, "a flag takes no value");
    char *a5[] = {"x", "--ratio="};
    expect(parse(&s, 2, a5) == 0 && s.n_opts == 1 && !s.vals[0][0],
           "--ratio= hands the empty value on (the option judges it)");
    size_t n = 0;
    double r = 0;
    expect(lm_tool_whole("t", "--reps", "abc", 1, (size_t)-1, &n) == 2,
           "a whole number refuses abc");
    expect(lm_tool_whole("t", "--reps", "7", 1, (size_t)-1, &n) == 0 && n == 7,
           "a whole number takes 7");
    expect(lm_tool_real("t", "--ratio", "1.5", 1, 0.0, 1.0, &r) == 2 &&
               lm_tool_real("t", "--ratio", "0", 1, 0.0, 1.0, &r) == 2 &&
               lm_tool_real("t", "--ratio", "nan", 1, 0.0, 1.0, &r) == 2 &&
               lm_tool_real("t", "--ratio", "1", 1, 0.0, 1.0, &r) == 0 &&
               r == 1.0,
           "a ratio is in (0, 1]");
}

static void check_work(const char *root)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/bad/tiny_graph.yaml", root);
    lm_graph *g = NULL;
    lm_entries *e = NULL;
    if (lm_graph_load(&g, path) != LM_OK || lm_entries_create(&e, g) != LM_OK) {
        expect(0, lm_last_error());
        lm_graph_destroy(g);
        return;
    }
    /* Entry 0: dense 3x3, 8 -> 8 channels at 16x16, padding 1; entry 2 the
     * depthwise 3x3; entry 4 the 1x1 to 16 channels (docs: entries CSV). */
    expect(lm_tool_entry_work(e, 0) == 16.0 * 16 * 8 * (9 * 8 + 1),
           "work of a dense 3x3: output elements x (K*K*C_in + 1)");
    expect(lm_tool_entry_work(e, 2) == 16.0 * 16 * 8 * (9 + 1),
           "work of a depthwise 3x3: output elements x (K*K + 1)");
    expect(lm_tool_entry_work(e, 4) == 16.0 * 16 * 16 * (8 + 1),
           "work of a 1x1 widening conv");
    expect(lm_tool_entry_work(e, 99) == 0.0, "an unknown entry has no work");

    lm_tool_bar heavy, light, plain;
    lm_tool_bar_init(&heavy, 0);
    lm_tool_bar_init(&light, 0);
    lm_tool_bar_init(&plain, 0);
    size_t count = lm_entries_count(e);
    lm_tool_bar_weigh(&heavy, e, 0, count);
    lm_tool_bar_weigh(&light, e, 0, count);
    /* One second for the first timing: a heavy entry leaves less time
     * for the rest than a light one; unweighted, both the same. */
    heavy.done_work = lm_tool_entry_work(e, 0);
    light.done_work = lm_tool_entry_work(e, 2);
    plain.done_work = 1.0;
    double lh = lm_tool_bar_left(&heavy, 1, count, 1.0);
    double ll = lm_tool_bar_left(&light, 1, count, 1.0);
    double lp = lm_tool_bar_left(&plain, 1, count, 1.0);
    expect(lh < ll && lh > 0.0, "after a heavy entry less time is left "
                                "than after a light one");
    expect(lp == (double)(count - 1), "unweighted: one second per entry");
    double mean = 0.0;
    for (size_t id = 0; id < count; id++)
        mean += lm_tool_entry_work(e, id);
    mean /= (double)count; /* tiny_graph has no identity entry */
    expect(lh == 1.0 / heavy.done_work * ((double)(count - 1) * mean),
           "left = owed timings x mean work / rate");
    expect(lm_tool_bar_left(&heavy, count, count, 5.0) == 0.0,
           "nothing is left at the end");
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: progress_check SOURCE_ROOT\n");
        return 2;
    }
    check_parser();
    check_work(argv[1]);
    printf("%s\n", failed ? "progress_check: failures" : "progress_check: ok");
    return failed != 0;
}
