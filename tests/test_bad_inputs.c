/* The bad-input catalogue: every file under tests/data/bad/ that has a
 * NAME.expect beside it is loaded by the loader the .expect names, and must
 * fail with exactly the status it names and a message holding its
 * fragment (a hang is caught by the suite's timeout). A .expect reads
 *
 *   load: graph | table | result | weights | csv-latency | csv-importance
 *         | csv-kim23-time
 *   file: NAME.yaml              (the input, in tests/data/bad/)
 *   status: LM_ERR_PARSE
 *   message: line 3              (a fragment of lm_last_error())
 *   why: one line saying what the case guards against
 *
 * Cases the command line must refuse (output onto an input, a batch that
 * overflows) are in tests/cli/bad_inputs.sh with the same files. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/layermerge.h"

typedef struct expect {
    char load[32], file[256], status[64], message[512];
} expect;

static void field(char *dst, size_t cap, const char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) || line[k] != ':')
        return;
    const char *v = line + k + 1;
    while (*v == ' ')
        v++;
    snprintf(dst, cap, "%s", v);
    size_t n = strlen(dst);
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == '\r'))
        dst[--n] = '\0';
}

static int read_expect(const char *path, expect *e)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char line[1024];
    memset(e, 0, sizeof *e);
    while (fgets(line, sizeof line, fp)) {
        field(e->load, sizeof e->load, line, "load");
        field(e->file, sizeof e->file, line, "file");
        field(e->status, sizeof e->status, line, "status");
        field(e->message, sizeof e->message, line, "message");
    }
    fclose(fp);
    return e->load[0] && e->file[0] && e->status[0];
}

static const struct {
    const char *name;
    lm_status status;
} statuses[] = {
    {"LM_ERR_NOMEM", LM_ERR_NOMEM}, {"LM_ERR_INVALID_ARG", LM_ERR_INVALID_ARG},
    {"LM_ERR_IO", LM_ERR_IO}, {"LM_ERR_PARSE", LM_ERR_PARSE},
    {"LM_ERR_VALIDATION", LM_ERR_VALIDATION},
    {"LM_ERR_NOT_FOUND", LM_ERR_NOT_FOUND},
    {"LM_ERR_MISMATCH", LM_ERR_MISMATCH},
    {"LM_ERR_DUPLICATE", LM_ERR_DUPLICATE},
    {"LM_ERR_CONFLICT", LM_ERR_CONFLICT}, {"LM_ERR_MISSING", LM_ERR_MISSING},
    {"LM_ERR_VALUE", LM_ERR_VALUE}, {"LM_ERR_STATE", LM_ERR_STATE},
    {"LM_ERR_UNSUPPORTED", LM_ERR_UNSUPPORTED},
};

static int status_of(const char *name, lm_status *out)
{
    for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++)
        if (!strcmp(name, statuses[i].name)) {
            *out = statuses[i].status;
            return 1;
        }
    return 0;
}

/* Load `path` the way the case says; the status comes back. */
static lm_status load(const char *how, const char *path)
{
    lm_status st = LM_ERR_INTERNAL;
    if (!strcmp(how, "graph")) {
        lm_graph *g = NULL;
        st = lm_graph_load(&g, path);
        lm_graph_destroy(g);
    } else if (!strcmp(how, "table")) {
        lm_table *t = NULL;
        st = lm_table_load(&t, path);
        lm_table_destroy(t);
    } else if (!strcmp(how, "result")) {
        lm_result *r = NULL;
        st = lm_result_load(&r, path);
        lm_result_destroy(r);
    } else if (!strcmp(how, "weights")) {
        lm_weights *w = NULL;
        st = lm_weights_load(&w, path);
        lm_weights_destroy(w);
    } else if (!strncmp(how, "csv-", 4)) {
        lm_table *t = NULL;
        int imp = !strcmp(how, "csv-importance");
        lm_table_csv_format f = !strcmp(how, "csv-kim23-time")
                                    ? LM_TABLE_CSV_KIM23_TIME
                                    : LM_TABLE_CSV_LAYERMERGE;
        st = lm_table_import_csv(&t, imp ? LM_TABLE_IMPORTANCE
                                         : LM_TABLE_LATENCY,
                                 path, f, imp ? LM_METRIC_NORMALISED : 0,
                                 NULL);
        lm_table_destroy(t);
    }
    return st;
}

START_TEST(every_case_fails_as_expected)
{
    const char *dir = lm_test_data_path("bad");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    DIR *d = opendir(dirbuf);
    ck_assert_ptr_nonnull(d);
    size_t cases = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 8 || strcmp(de->d_name + n - 7, ".expect"))
            continue;
        char path[8192], input[8192];
        snprintf(path, sizeof path, "%s/%s", dirbuf, de->d_name);
        expect e;
        if (!read_expect(path, &e))
            continue; /* a command-line case (tests/cli/bad_inputs.sh) */
        lm_status want;
        ck_assert_msg(status_of(e.status, &want), "%s: unknown status %s",
                      de->d_name, e.status);
        snprintf(input, sizeof input, "%s/%s", dirbuf, e.file);
        lm_status got = load(e.load, input);
        ck_assert_msg(got == want, "%s: %s %s returned %d (%s), want %s",
                      de->d_name, e.load, e.file, (int)got, lm_last_error(),
                      e.status);
        ck_assert_msg(strstr(lm_last_error(), e.message), "%s: message "
                      "\"%s\" lacks \"%s\"", de->d_name, lm_last_error(),
                      e.message);
        cases++;
    }
    closedir(d);
    printf("bad-input catalogue: %zu library cases\n", cases);
    ck_assert_uint_gt(cases, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bad_inputs");
    TCase *tc = tcase_create("catalogue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_case_fails_as_expected);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
