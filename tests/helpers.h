/* Shared helpers for the Check test programs. */
#ifndef LM_TESTS_HELPERS_H
#define LM_TESTS_HELPERS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "layermerge/status.h"

/* Path of a file under the source tree ("examples/models/resnet34.yaml"),
 * from LM_SOURCE_ROOT. Returns a static buffer. */
const char *lm_test_source_path(const char *relative);

/* Path of a file under tests/data/ of the source tree (LM_SOURCE_ROOT). */
const char *lm_test_data_path(const char *relative);

/* A fresh temporary directory, removed by lm_test_rmtree. */
char *lm_test_tmpdir(void);
/* Uniform values in [-1, 1) from the xorshift64 state *state (each test
 * program keeps its own state, so its values do not depend on others). */
float lm_test_urand(uint64_t *state);
/* The whole file as a NUL-terminated string (malloc'd; the test fails when
 * it cannot be read); its length in *len when len is not NULL. */
char *lm_test_read_file(const char *path, size_t *len);
void lm_test_rmtree(char *dir);

/* An lm_write_fn collecting the bytes written into `userdata`, an
 * lm_test_collected (zeroed first; free its data), NUL-terminated. */
typedef struct lm_test_collected {
    char *data;
    size_t len;
} lm_test_collected;
int lm_test_collect(const void *data, size_t len, void *userdata);

/* Run a suite and return the process exit code. */
int lm_test_run(Suite *suite);

/* Input records of the public API, positionally, for short test tables:
 * LM_TEST_CONV(name, in, out, kernel, stride, padding, groups, bias),
 * LM_TEST_KEY(st, end, kernel, stride, depthwise),
 * LM_TEST_BN(gamma, beta, mean, var, eps). */
#define LM_TEST_CONV(...)                                                  \
    (&(lm_conv_desc){sizeof(lm_conv_desc), __VA_ARGS__})
#define LM_TEST_KEY(...) (&(lm_entry_key){sizeof(lm_entry_key), __VA_ARGS__})
#define LM_TEST_BN(...) (&(lm_bn_desc){sizeof(lm_bn_desc), __VA_ARGS__})

#define ck_assert_lm_ok(expr)                                              \
    do {                                                                   \
        lm_status lm_st_ = (expr);                                         \
        ck_assert_msg(lm_st_ == LM_OK, "%s returned %d: %s", #expr,        \
                      (int)lm_st_, lm_last_error());                       \
    } while (0)

#define ck_assert_lm_status(expr, want)                                    \
    do {                                                                   \
        lm_status lm_st_ = (expr);                                         \
        ck_assert_msg(lm_st_ == (want), "%s returned %d (%s), want %d",    \
                      #expr, (int)lm_st_, lm_last_error(), (int)(want));   \
    } while (0)

#endif
