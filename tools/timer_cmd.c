/* `--timer-cmd`: ONNX models timed by the user's command (timer_cmd.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "timer_cmd.h"

int lm_tool_timer_open(lm_tool_timer *t, const char *cmd,
                       const lm_graph *graph, size_t threads)
{
    memset(t, 0, sizeof *t);
    t->cmd = cmd;
    t->graph = graph;
    t->threads = threads;
    snprintf(t->text, sizeof t->text, "command: %s", cmd);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (strlen(tmp) > sizeof t->dir - 40) {
        fprintf(stderr, "layermerge: --timer-cmd: TMPDIR is longer than "
                "%zu bytes\n", sizeof t->dir - 40);
        return 1;
    }
    snprintf(t->dir, sizeof t->dir, "%s/layermerge-timer.XXXXXX", tmp);
    if (!mkdtemp(t->dir)) {
        fprintf(stderr, "layermerge: --timer-cmd: cannot create a scratch "
                "directory in %s: %s\n", tmp, strerror(errno));
        t->dir[0] = '\0';
        return 1;
    }
    return 0;
}

void lm_tool_timer_close(lm_tool_timer *t)
{
    if (!t->dir[0])
        return;
    DIR *d = opendir(t->dir);
    struct dirent *de;
    char path[800];
    while (d && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", t->dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(t->dir);
    t->dir[0] = '\0';
}

/* ---- the command ------------------------------------------------------- */

/* Append `s` to buf as one shell word in single quotes. */
static int append_quoted(char *buf, size_t cap, size_t *len, const char *s)
{
    if (*len + 1 >= cap)
        return 0;
    buf[(*len)++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t n = piece ? strlen(piece) : 1;
        if (*len + n + 1 >= cap)
            return 0;
        if (piece)
            memcpy(buf + *len, piece, n);
        else
            buf[*len] = *s;
        *len += n;
    }
    if (*len + 2 >= cap)
        return 0;
    buf[(*len)++] = '\'';
    buf[*len] = '\0';
    return 1;
}

/* CMD with {onnx}, {batch} and {threads} replaced; 0 when too long. */
static int expand(char *buf, size_t cap, const lm_tool_timer *t,
                  const char *onnx, size_t batch)
{
    size_t len = 0;
    for (const char *p = t->cmd; *p;) {
        char num[32];
        const char *word = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{onnx}", 6)) {
            if (!append_quoted(buf, cap, &len, onnx))
                return 0;
            p += 6;
            continue;
        }
        if (!strncmp(p, "{batch}", 7))
            snprintf(num, sizeof num, "%zu", batch), word = num, skip = 7;
        else if (!strncmp(p, "{threads}", 9))
            snprintf(num, sizeof num, "%zu", t->threads), word = num,
                skip = 9;
        size_t n = word ? strlen(word) : 1;
        if (len + n + 1 >= cap)
            return 0;
        memcpy(buf + len, word ? word : p, n);
        len += n;
        p += word ? skip : 1;
    }
    buf[len] = '\0';
    return 1;
}

/* The last `cap - 1` bytes of a file, NUL-terminated. */
static void file_tail(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return;
    long size = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : 0;
    long from = size > (long)cap - 1 ? size - (long)cap + 1 : 0;
    if (fseek(fp, from, SEEK_SET) == 0) {
        size_t n = fread(buf, 1, cap - 1, fp);
        buf[n] = '\0';
    }
    fclose(fp);
}

/* The last non-empty line of `out` as "MEDIAN [STDEV]"; 1 when it is. */
static int parse_last_line(char *out, double *median, double *stdev)
{
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
                 out[n - 1] == ' ' || out[n - 1] == '\t'))
        out[--n] = '\0';
    char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    char *end = NULL;
    errno = 0;
    *median = strtod(line, &end);
    if (end == line || errno || !isfinite(*median) || *median < 0.0)
        return 0;
    *stdev = 0.0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end) {
        char *end2 = NULL;
        *stdev = strtod(end, &end2);
        if (end2 == end || !isfinite(*stdev) || *stdev < 0.0)
            return 0;
        end = end2;
        while (*end == ' ' || *end == '\t')
            end++;
    }
    return *end == '\0';
}

/* The failure in full on stderr (with the tail of CMD's stderr), and as
 * this thread's library message, so that the call that ran the timer
 * reports it with the entry it was timing. */
static lm_status report_failure(lm_status st, const char *what,
                                const char *cmd, const char *why,
                                const char *err_path)
{
    char tail[1200];
    file_tail(err_path, tail, sizeof tail);
    fprintf(stderr, "layermerge: --timer-cmd: %s: %s\n  command: %s\n", what,
            why, cmd);
    if (tail[0])
        fprintf(stderr, "  its stderr ends:\n%s%s", tail,
                tail[strlen(tail) - 1] == '\n' ? "" : "\n");
    char msg[400];
    snprintf(msg, sizeof msg, "--timer-cmd: %s: %s", what, why);
    return lm_set_error(st, msg);
}

lm_status lm_tool_timer_run(double *median_ms, double *stdev_ms,
                            lm_tool_timer *t, const char *onnx, size_t batch,
                            const char *what)
{
    static char cmd[16384];
    char err_path[600], why[200];
    if (!expand(cmd, sizeof cmd, t, onnx, batch)) {
        fprintf(stderr, "layermerge: --timer-cmd: %s: the command is longer "
                "than %zu bytes once expanded\n", what, sizeof cmd);
        return LM_ERR_INVALID_ARG;
    }
    snprintf(err_path, sizeof err_path, "%s/stderr", t->dir);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fds[2];
    if (err_fd < 0 || pipe(fds) != 0) {
        fprintf(stderr, "layermerge: --timer-cmd: %s: %s\n", what,
                strerror(errno));
        if (err_fd >= 0)
            close(err_fd);
        return LM_ERR_IO;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        close(err_fd);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    close(err_fd);
    if (pid < 0) {
        close(fds[0]);
        fprintf(stderr, "layermerge: --timer-cmd: %s: fork: %s\n", what,
                strerror(errno));
        return LM_ERR_IO;
    }
    /* Keep the last 8 KiB of stdout: only its last line counts. */
    char out[8192];
    size_t len = 0;
    char chunk[4096];
    ssize_t got;
    while ((got = read(fds[0], chunk, sizeof chunk)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t g = (size_t)got; /* < sizeof chunk < sizeof out */
        if (len + g >= sizeof out) {
            size_t drop = len + g - (sizeof out - 1);
            memmove(out, out + drop, len - drop);
            len -= drop;
        }
        memcpy(out + len, chunk, g);
        len += g;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "the command was killed by signal %d",
                     WTERMSIG(status));
        else
            snprintf(why, sizeof why, "the command exited with status %d",
                     WEXITSTATUS(status));
        return report_failure(LM_ERR_IO, what, cmd, why, err_path);
    }
    if (!parse_last_line(out, median_ms, stdev_ms)) {
        char *last = strrchr(out, '\n');
        snprintf(why, sizeof why, "its last line is not \"MEDIAN_MS "
                 "[STDEV_MS]\" but \"%.80s\"", last ? last + 1 : out);
        return report_failure(LM_ERR_PARSE, what, cmd, why, err_path);
    }
    return LM_OK;
}

/* ---- models ------------------------------------------------------------- */

lm_status lm_tool_timer_export(char *path, size_t cap, lm_tool_timer *t,
                               const lm_graph *graph,
                               const lm_weights *weights, size_t batch,
                               const char *name)
{
    snprintf(path, cap, "%s/%s.onnx", t->dir, name);
    lm_onnx_options o = {.size = sizeof o, .batch = batch};
    return lm_graph_save_onnx(graph, weights, &o, path);
}

/* The activation lm_table_measure_latency times an entry with: the end
 * position's, or the graph's nonlinearity when a segment of several
 * positions ends in an identity (docs/method.md section 6). */
static lm_act entry_act(const lm_graph *g, const lm_entry_info *e)
{
    lm_position_info p = {.size = sizeof p};
    lm_act act = lm_graph_position_info(&p, g, e->end) == LM_OK
                     ? p.activation
                     : LM_ACT_IDENTITY;
    return e->end - e->st > 1 && act == LM_ACT_IDENTITY
               ? lm_graph_nonlinearity(g)
               : act;
}

static lm_status entry_model(char *path, size_t cap, lm_tool_timer *t,
                             const lm_entry_info *e, size_t batch)
{
    char name[64];
    snprintf(name, sizeof name, "entry-%zu-b%zu-%lldx%lld", e->id, batch,
             (long long)e->in_height, (long long)e->in_width);
    snprintf(path, cap, "%s/%s.onnx", t->dir, name);
    if (access(path, F_OK) == 0)
        return LM_OK; /* written in an earlier pass */
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_conv_desc conv = {.size = sizeof conv, .name = "conv",
                         .in_channels = e->in_channels,
                         .out_channels = e->out_channels,
                         .kernel = e->kernel, .stride = e->stride,
                         .padding = e->padding,
                         .groups = e->depthwise ? e->in_channels : 1,
                         /* merged convs carry the folded batch norms */
                         .has_bias = 1};
    lm_status st = lm_graph_create(&g, e->in_channels, e->in_height,
                                   e->in_width);
    if (st == LM_OK)
        st = lm_graph_add_conv(g, &conv, entry_act(t->graph, e));
    /* A U-Net block's activation comes with its GroupNorm: timed too. */
    lm_conv_info end = {.size = sizeof end};
    if (st == LM_OK)
        st = lm_graph_conv_info(&end, t->graph, e->end);
    if (st == LM_OK && end.has_groupnorm &&
        entry_act(t->graph, e) != LM_ACT_IDENTITY)
        st = lm_graph_set_conv_groupnorm(g, 1, "norm", end.groupnorm_groups,
                                         end.groupnorm_eps);
    if (st == LM_OK)
        st = lm_graph_validate(g);
    if (st == LM_OK)
        st = lm_weights_create(&w);
    if (st == LM_OK)
        st = lm_weights_init_random(w, g, 1);
    if (st == LM_OK)
        st = lm_tool_timer_export(path, cap, t, g, w, batch, name);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return st;
}

lm_status lm_tool_timer_entry(double *median_ms, double *stdev_ms,
                              const lm_entry_info *entry, size_t batch,
                              void *userdata)
{
    lm_tool_timer *t = userdata;
    char path[800], what[160];
    snprintf(what, sizeof what, "entry %zu (segment %zu..%zu, kernel %lld, "
             "stride %lld)", entry->id, entry->st, entry->end,
             (long long)entry->kernel, (long long)entry->stride);
    lm_status st = entry_model(path, sizeof path, t, entry, batch);
    if (st != LM_OK) {
        fprintf(stderr, "layermerge: --timer-cmd: %s: %s\n", what,
                lm_last_error());
        return st;
    }
    /* On failure the library message says what failed; the measuring
     * call adds the pass and the entry's key. */
    return lm_tool_timer_run(median_ms, stdev_ms, t, path, batch, what);
}

/* ---- tables ------------------------------------------------------------- */

lm_status lm_tool_timer_claim(lm_table *table, const lm_tool_timer *t)
{
    const char *have = lm_table_text(table, LM_TABLE_TIMER);
    if (lm_table_count(table) > 0 && have[0] && strcmp(have, t->text)) {
        fprintf(stderr, "layermerge: the latency table was timed with "
                "\"%s\", this run uses \"%s\": use another -o or the same "
                "timer\n", have, t->text);
        return LM_ERR_MISMATCH;
    }
    lm_status st = lm_table_set_text(table, LM_TABLE_TIMER, t->text);
    if (st == LM_OK)
        st = lm_table_set_text(table, LM_TABLE_DTYPE, "float32");
    return st;
}

/* Rounds of the whole-network timing: every model once per round, the
 * median kept, so one slow run does not make a stage. */
#define NETWORK_ROUNDS 3

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

/* "--timer-cmd: <what>: <the library's message>" as this thread's
 * message. */
static lm_status with_context(lm_status st, const char *what)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "--timer-cmd: %s: %s", what, lm_last_error());
    return lm_set_error(st, msg);
}

/* Sum of the original single-conv entries of convs st+1..end. */
static lm_status alone_sum(double *sum, const lm_table *table,
                           const lm_entries *entries, size_t st, size_t end)
{
    *sum = 0.0;
    for (size_t c = st + 1; c <= end; c++) {
        size_t id = 0;
        double v = 0.0;
        lm_status rc = lm_entries_find_original(&id, entries, c);
        if (rc == LM_OK)
            rc = lm_table_get_entry(&v, NULL, table, entries, id);
        if (rc != LM_OK) {
            char what[64];
            snprintf(what, sizeof what, "conv %zu's entry", c);
            return with_context(rc, what);
        }
        *sum += v;
    }
    return LM_OK;
}

/* The models timed: the network up to each stage boundary (a prefix with
 * no head), then the whole network. */
typedef struct net_parts {
    size_t n;            /* boundaries: 0, the barriers, N */
    size_t *at;          /* [n] positions */
    char (*path)[800];   /* [n + 1]: the prefixes, then the whole */
    double *ms;          /* [n + 1] medians over the rounds */
} net_parts;

static lm_status export_parts(net_parts *np, lm_tool_timer *t,
                              const lm_graph *graph, size_t batch)
{
    size_t convs = lm_graph_conv_count(graph);
    lm_weights *w = NULL;
    lm_status st = lm_weights_create(&w);
    if (st == LM_OK)
        st = lm_weights_init_random(w, graph, 1);
    for (size_t k = 0; st == LM_OK && k <= np->n; k++) {
        char name[64];
        lm_onnx_options o = {.size = sizeof o, .batch = batch,
                             .prefix = k < np->n, .prefix_end =
                                 k < np->n ? np->at[k] : 0};
        if (k < np->n)
            snprintf(name, sizeof name, "prefix-%zu", np->at[k]);
        else
            snprintf(name, sizeof name, "whole-%zu", convs);
        snprintf(np->path[k], sizeof np->path[k], "%s/%s.onnx", t->dir, name);
        st = lm_graph_save_onnx(graph, w, &o, np->path[k]);
    }
    lm_weights_destroy(w);
    return st == LM_OK ? st : with_context(st, "the original network");
}

static lm_status time_parts(net_parts *np, lm_tool_timer *t, size_t batch)
{
    size_t m = np->n + 1;
    double *runs = calloc(m * NETWORK_ROUNDS, sizeof *runs);
    if (!runs)
        return lm_set_error(LM_ERR_NOMEM, "--timer-cmd: out of memory for "
                            "the network timings");
    lm_status st = LM_OK;
    for (size_t r = 0; st == LM_OK && r < NETWORK_ROUNDS; r++)
        for (size_t j = 0; st == LM_OK && j < m; j++) {
            size_t k = (j + r) % m; /* rotated, as compress's rounds */
            double sd = 0.0;
            char what[160] = "the whole network";
            if (k < np->n)
                snprintf(what, sizeof what, "the network up to position %zu",
                         np->at[k]);
            st = lm_tool_timer_run(&runs[k * NETWORK_ROUNDS + r], &sd, t,
                                   np->path[k], batch, what);
        }
    for (size_t k = 0; st == LM_OK && k < m; k++)
        np->ms[k] = median3(runs[k * NETWORK_ROUNDS],
                            runs[k * NETWORK_ROUNDS + 1],
                            runs[k * NETWORK_ROUNDS + 2]);
    free(runs);
    return st;
}

lm_status lm_tool_timer_network(lm_tool_timer *t, lm_table *table,
                                const lm_graph *graph,
                                const lm_entries *entries, size_t batch)
{
    size_t convs = lm_graph_conv_count(graph);
    net_parts np = {0};
    np.at = calloc(convs + 2, sizeof *np.at);
    np.path = calloc(convs + 3, sizeof *np.path);
    np.ms = calloc(convs + 3, sizeof *np.ms);
    lm_status st = np.at && np.path && np.ms
                       ? LM_OK
                       : lm_set_error(LM_ERR_NOMEM, "--timer-cmd: out of "
                                      "memory for the network's parts");
    for (size_t p = 0; st == LM_OK && p <= convs; p++) {
        lm_position_info info = {.size = sizeof info};
        if (p == 0 || p == convs ||
            (lm_graph_position_info(&info, graph, p) == LM_OK &&
             info.is_barrier))
            np.at[np.n++] = p;
    }
    if (st == LM_OK)
        st = export_parts(&np, t, graph, batch);
    if (st == LM_OK)
        st = time_parts(&np, t, batch);
    /* Each stage: what the network up to its end costs more than the
     * network up to its start, against its convs timed alone. */
    size_t set = 0;
    for (size_t k = 0; st == LM_OK && k + 1 < np.n; k++) {
        lm_table_stage s = {.size = sizeof s, .st = np.at[k],
                            .end = np.at[k + 1],
                            .in_network_ms = np.ms[k + 1] - np.ms[k]};
        st = alone_sum(&s.alone_ms, table, entries, s.st, s.end);
        if (st != LM_OK || s.alone_ms <= 0.0 || s.in_network_ms <= 0.0)
            continue; /* timing noise made the difference meaningless */
        st = lm_table_set_stage(table, &s);
        set += st == LM_OK;
    }
    /* The stem (with the run's own overhead) and the head. */
    double head = np.ms[np.n] - np.ms[np.n - 1];
    double fixed = np.ms[0] + (head > 0.0 ? head : 0.0);
    if (st == LM_OK)
        st = lm_table_set_fixed_cost(table, fixed, 0.0);
    if (st == LM_OK)
        fprintf(stderr, "timer command: whole network %.4g ms; stem %.4g ms, "
                "head %.4g ms: fixed cost %.4g ms; %zu of %zu stages "
                "calibrated in-network\n", np.ms[np.n], np.ms[0], head, fixed,
                set, np.n - 1);
    for (size_t k = 0; k <= np.n && np.path; k++)
        if (np.path[k][0])
            unlink(np.path[k]);
    free(np.at);
    free(np.path);
    free(np.ms);
    return st;
}
