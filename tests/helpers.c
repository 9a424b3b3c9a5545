#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

const char *lm_test_source_path(const char *relative)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", env_or("LM_SOURCE_ROOT", "."), relative);
    return buf;
}

const char *lm_test_data_path(const char *relative)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/tests/data/%s", env_or("LM_SOURCE_ROOT", "."),
             relative);
    return buf;
}

char *lm_test_tmpdir(void)
{
    char tmpl[] = "/tmp/lmtest.XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

void lm_test_rmtree(char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

int lm_test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int lm_test_collect(const void *data, size_t len, void *userdata)
{
    lm_test_collected *c = userdata;
    char *grown = realloc(c->data, c->len + len + 1);
    if (!grown)
        return -1;
    memcpy(grown + c->len, data, len);
    c->len += len;
    grown[c->len] = '\0';
    c->data = grown;
    return 0;
}

char *lm_test_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, fp)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(fp);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

float lm_test_urand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (float)((double)(*state >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}
