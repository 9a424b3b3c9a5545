/* Status strings, the per-thread last error, version, atomic file writes. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "helpers.h"
#include "layermerge/version.h"

START_TEST(status_strings_are_distinct_and_fixed)
{
    ck_assert_str_eq(lm_status_str(LM_OK), "success");
    ck_assert_str_eq(lm_status_str((lm_status)-999), "unknown status");
    for (int a = LM_ERR_INTERNAL; a <= LM_OK; a++)
        for (int b = a + 1; b <= LM_OK; b++)
            ck_assert_str_ne(lm_status_str((lm_status)a), lm_status_str((lm_status)b));
    /* Pinned values: part of the ABI. */
    ck_assert_int_eq(LM_ERR_PARSE, -4);
    ck_assert_int_eq(LM_ERR_INFEASIBLE, -8);
    ck_assert_int_eq(LM_ERR_INTERNAL, -16);
}
END_TEST

static void *other_thread(void *arg)
{
    (void)arg;
    /* A fresh thread sees no error, and its own error stays its own. */
    int clean = lm_last_error()[0] == '\0';
    lm_err(LM_ERR_IO, "thread error");
    return (void *)(size_t)clean;
}

START_TEST(last_error_is_per_thread)
{
    ck_assert_int_eq(lm_err(LM_ERR_PARSE, "f.yaml:%d:%d: bad", 7, 3), LM_ERR_PARSE);
    pthread_t t;
    void *clean = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &clean);
    ck_assert_ptr_eq(clean, (void *)1);
    ck_assert_str_eq(lm_last_error(), "f.yaml:7:3: bad");
    lm_err_prefix(LM_ERR_PARSE, "loading %s: ", "g");
    ck_assert_str_eq(lm_last_error(), "loading g: f.yaml:7:3: bad");
    lm_clear_error();
    ck_assert_str_eq(lm_last_error(), "");
}
END_TEST

START_TEST(version_matches_headers)
{
    ck_assert_uint_eq(lm_version_number(), LM_VERSION_NUMBER);
    ck_assert_str_eq(lm_version(), LM_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", LM_VERSION_MAJOR, LM_VERSION_MINOR,
             LM_VERSION_PATCH);
    ck_assert_str_eq(lm_version(), buf);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_entries(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(atomic_file_replaces_whole_or_nothing)
{
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/table.yaml", dir);

    lm_atomic_file af;
    ck_assert_lm_ok(lm_atomic_open(&af, path));
    fputs("first\n", af.fp);
    ck_assert_lm_ok(lm_atomic_commit(&af));
    char *s = slurp(path);
    ck_assert_str_eq(s, "first\n");
    free(s);

    /* An aborted write leaves the old content and no temporary file. */
    ck_assert_lm_ok(lm_atomic_open(&af, path));
    fputs("half", af.fp);
    lm_atomic_abort(&af);
    s = slurp(path);
    ck_assert_str_eq(s, "first\n");
    free(s);
    ck_assert_int_eq(count_entries(dir), 1);

    /* A directory that does not exist is an I/O error naming the path. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/x.yaml", dir);
    ck_assert_lm_status(lm_atomic_open(&af, bad), LM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "missing/x.yaml"));
    lm_test_rmtree(dir);
}
END_TEST

static void write_atomic(const char *path, const char *text)
{
    lm_atomic_file af;
    ck_assert_lm_ok(lm_atomic_open(&af, path));
    fputs(text, af.fp);
    ck_assert_lm_ok(lm_atomic_commit(&af));
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_mode & 07777;
}

/* A new file gets 0666 & ~umask like any other program's; a replaced one
 * keeps its own mode (not mkstemp's 0600). */
START_TEST(atomic_file_mode_follows_umask_and_is_kept)
{
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/new.yaml", dir);
    mode_t old = umask(022);
    write_atomic(path, "one\n");
    ck_assert_uint_eq(mode_of(path), 0644);
    umask(027);
    snprintf(path, sizeof path, "%s/other.yaml", dir);
    write_atomic(path, "one\n");
    ck_assert_uint_eq(mode_of(path), 0640);

    /* Replacing keeps the file's mode, whatever the umask. */
    umask(077);
    ck_assert_int_eq(chmod(path, 0664), 0);
    write_atomic(path, "two\n");
    ck_assert_uint_eq(mode_of(path), 0664);
    ck_assert_int_eq(chmod(path, 0640), 0);
    write_atomic(path, "three\n");
    ck_assert_uint_eq(mode_of(path), 0640);
    char *s = slurp(path);
    ck_assert_str_eq(s, "three\n");
    free(s);
    umask(old);
    lm_test_rmtree(dir);
}
END_TEST

/* A pid that no process has: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return (long)pid;
}

static void touch(const char *dir, const char *name, time_t age)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("half", fp);
    fclose(fp);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age;
    t[1] = t[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

static int exists(const char *dir, const char *name)
{
    char path[1024];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

/* The next successful write of a target removes the orphans of killed
 * writers of that target, and nothing else. */
START_TEST(atomic_file_removes_only_stale_orphans)
{
    char *dir = lm_test_tmpdir();
    char path[512], name[7][128];
    snprintf(path, sizeof path, "%s/t.yaml", dir);
    long dead = dead_pid();
    /* Removed: ours by name, writer gone, old. */
    snprintf(name[0], sizeof name[0], "t.yaml.tmp.%ld.Ab3dEf", dead);
    /* Kept: writer gone but touched recently (it may be another pid
     * namespace's live writer). */
    snprintf(name[1], sizeof name[1], "t.yaml.tmp.%ld.Zz9yXw", dead);
    /* Kept: the writer is alive (our parent, or init). */
    snprintf(name[2], sizeof name[2], "t.yaml.tmp.%ld.Ab3dEf",
             (long)getppid());
    /* Kept: not our exact pattern, or another target's. */
    snprintf(name[3], sizeof name[3], "t.yaml.tmp.%ld.Ab3dE", dead);
    snprintf(name[4], sizeof name[4], "t.yaml.tmp.Ab3dEf");
    snprintf(name[5], sizeof name[5], "u.yaml.tmp.%ld.Ab3dEf", dead);
    snprintf(name[6], sizeof name[6], "t.yaml.tmp.%ld.Ab3dEf.x", dead);
    for (int i = 0; i < 7; i++)
        touch(dir, name[i], i == 1 ? 0 : 3600);
    write_atomic(path, "whole\n");
    ck_assert_msg(!exists(dir, name[0]), "%s was not removed", name[0]);
    for (int i = 1; i < 7; i++)
        ck_assert_msg(exists(dir, name[i]), "%s was removed", name[i]);
    /* A failed write removes nothing. */
    snprintf(name[0], sizeof name[0], "t.yaml.tmp.%ld.Qq1234", dead);
    touch(dir, name[0], 3600);
    lm_atomic_file af;
    ck_assert_lm_ok(lm_atomic_open(&af, path));
    lm_atomic_abort(&af);
    ck_assert(exists(dir, name[0]));
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(grow_doubles_capacity)
{
    int *a = NULL;
    size_t cap = 0;
    ck_assert_lm_ok(LM_GROW(a, cap, 3));
    ck_assert_uint_ge(cap, 3);
    ck_assert_lm_ok(LM_GROW(a, cap, 100));
    ck_assert_uint_ge(cap, 100);
    a[99] = 1;
    free(a);
    ck_assert_ptr_null(lm_strdup(NULL));
}
END_TEST

/* A record as the library knows it, and the shapes a caller may hold. */
typedef struct rec_v2 {
    size_t size;
    int a;
    double b;
    const char *c;
} rec_v2;

typedef struct rec_v1 {
    size_t size;
    int a;
} rec_v1;

typedef struct rec_v3 {
    rec_v2 v2;
    long d;
} rec_v3;

START_TEST(sized_copy_writes_only_within_the_callers_size)
{
    const rec_v2 full = {.size = sizeof full, .a = 7, .b = 2.5, .c = "x"};
    /* Same version: every field, the size as the caller set it. */
    rec_v2 same = {.size = sizeof same};
    ck_assert_lm_ok(lm_sized_copy(&same, &full, sizeof full, "rec"));
    ck_assert_uint_eq(same.size, sizeof same);
    ck_assert_int_eq(same.a, 7);
    ck_assert_double_eq(same.b, 2.5);
    ck_assert_str_eq(same.c, "x");

    /* An older, smaller record inside a larger block: nothing past its
     * size is written. */
    unsigned char buf[sizeof(rec_v2) + 16];
    memset(buf, 0xAB, sizeof buf);
    size_t small = sizeof(rec_v1);
    memcpy(buf, &small, sizeof small);
    ck_assert_lm_ok(lm_sized_copy(buf, &full, sizeof full, "rec"));
    rec_v1 old;
    memcpy(&old, buf, sizeof old);
    ck_assert_uint_eq(old.size, sizeof(rec_v1));
    ck_assert_int_eq(old.a, 7);
    for (size_t i = sizeof(rec_v1); i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xAB);

    /* A size field alone: valid, nothing but the size is there. */
    size_t only = sizeof(size_t);
    ck_assert_lm_ok(lm_sized_copy(&only, &full, sizeof full, "rec"));
    ck_assert_uint_eq(only, sizeof(size_t));

    /* A newer, larger record: our fields, its own extra left alone. */
    rec_v3 newer = {.v2 = {.size = sizeof newer}, .d = 42};
    ck_assert_lm_ok(lm_sized_copy(&newer, &full, sizeof full, "rec"));
    ck_assert_uint_eq(newer.v2.size, sizeof newer);
    ck_assert_int_eq(newer.v2.a, 7);
    ck_assert_int_eq(newer.d, 42);
}
END_TEST

START_TEST(sized_copy_refuses_an_unset_size)
{
    const rec_v2 full = {.size = sizeof full, .a = 7};
    rec_v2 r = {.size = 3, .a = -1};
    ck_assert_lm_status(lm_sized_copy(&r, &full, sizeof full, "lm_thing_info"),
                        LM_ERR_INVALID_ARG);
    ck_assert_str_eq(lm_last_error(), "lm_thing_info: record size 3 is too "
                     "small (set size = sizeof the record before the call)");
    ck_assert_int_eq(r.a, -1);
    r.size = 0;
    ck_assert_lm_status(lm_sized_copy(&r, &full, sizeof full, "rec"),
                        LM_ERR_INVALID_ARG);
    r.size = LM_RECORD_SIZE_MAX + 1;
    ck_assert_lm_status(lm_sized_copy(&r, &full, sizeof full, "rec"),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "larger than any record"));
    ck_assert_int_eq(r.a, -1);
    r.size = LM_RECORD_SIZE_MAX;
    ck_assert_lm_ok(lm_sized_copy(&r, &full, sizeof full, "rec"));
    ck_assert_int_eq(r.a, 7);
    ck_assert_lm_status(lm_sized_copy(NULL, &full, sizeof full, "rec"),
                        LM_ERR_INVALID_ARG);
    ck_assert_str_eq(lm_last_error(), "rec: NULL record");
    /* The check alone says the same, and writes nothing. */
    r.size = 0;
    ck_assert_lm_status(lm_sized_check(&r, "rec"), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_sized_check(NULL, "rec"), LM_ERR_INVALID_ARG);
    r.size = sizeof r;
    ck_assert_lm_ok(lm_sized_check(&r, "rec"));
}
END_TEST

START_TEST(strbuf_grows_without_truncating)
{
    lm_strbuf b = LM_STRBUF_INIT("tensor name");
    ck_assert_str_eq(lm_strbuf_str(&b), "");
    ck_assert_lm_ok(lm_strbuf_status(&b));
    lm_strbuf_append(&b, "layer1.0");
    lm_strbuf_appendc(&b, '.');
    lm_strbuf_appendn(&b, "weightXYZ", 6);
    ck_assert_lm_ok(lm_strbuf_status(&b));
    ck_assert_str_eq(lm_strbuf_str(&b), "layer1.0.weight");
    ck_assert_uint_eq(b.len, strlen("layer1.0.weight"));

    /* A module name longer than any fixed buffer the library had. */
    char module[5000];
    memset(module, 'm', sizeof module - 1);
    module[sizeof module - 1] = '\0';
    ck_assert_lm_ok(lm_strbuf_setf(&b, "%s.%s", module, "running_mean"));
    ck_assert_uint_eq(b.len, sizeof module - 1 + strlen(".running_mean"));
    ck_assert_str_eq(lm_strbuf_str(&b) + sizeof module - 1, ".running_mean");
    ck_assert_int_eq(strncmp(lm_strbuf_str(&b), module, sizeof module - 1), 0);

    /* setf replaces; appendf adds; the storage is reused. */
    size_t cap = b.cap;
    ck_assert_lm_ok(lm_strbuf_setf(&b, "conv%d", 3));
    lm_strbuf_appendf(&b, ".%s", "bias");
    ck_assert_str_eq(lm_strbuf_str(&b), "conv3.bias");
    ck_assert_uint_eq(b.cap, cap);
    lm_strbuf_reset(&b);
    ck_assert_str_eq(lm_strbuf_str(&b), "");

    /* Many small appends across several growths. */
    for (int i = 0; i < 1000; i++)
        lm_strbuf_appendf(&b, "%d,", i % 10);
    ck_assert_lm_ok(lm_strbuf_status(&b));
    ck_assert_uint_eq(b.len, 2000);
    ck_assert_int_eq(strncmp(lm_strbuf_str(&b), "0,1,2,", 6), 0);
    lm_strbuf_free(&b);
    ck_assert_str_eq(lm_strbuf_str(&b), "");
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(strbuf_failure_is_sticky_and_named)
{
    lm_strbuf b = LM_STRBUF_INIT("tensor name");
    lm_strbuf_append(&b, "ok");
    /* An append that cannot be satisfied fails and keeps the text. */
    lm_strbuf_appendn(&b, "x", SIZE_MAX - 1);
    lm_strbuf_append(&b, "more");
    ck_assert_str_eq(lm_strbuf_str(&b), "ok");
    ck_assert_lm_status(lm_strbuf_status(&b), LM_ERR_NOMEM);
    ck_assert_str_eq(lm_last_error(), "building tensor name: out of memory");
    /* A reset (or setf) starts afresh. */
    ck_assert_lm_ok(lm_strbuf_setf(&b, "%s", "again"));
    ck_assert_str_eq(lm_strbuf_str(&b), "again");
    lm_strbuf_free(&b);
    lm_strbuf unnamed = LM_STRBUF_INIT(NULL);
    lm_strbuf_appendn(&unnamed, "x", SIZE_MAX);
    ck_assert_lm_status(lm_strbuf_status(&unnamed), LM_ERR_NOMEM);
    ck_assert_str_eq(lm_last_error(), "building a string: out of memory");
    lm_strbuf_free(&unnamed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_strings_are_distinct_and_fixed);
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, version_matches_headers);
    tcase_add_test(tc, atomic_file_replaces_whole_or_nothing);
    tcase_add_test(tc, atomic_file_mode_follows_umask_and_is_kept);
    tcase_add_test(tc, atomic_file_removes_only_stale_orphans);
    tcase_add_test(tc, grow_doubles_capacity);
    tcase_add_test(tc, sized_copy_writes_only_within_the_callers_size);
    tcase_add_test(tc, sized_copy_refuses_an_unset_size);
    tcase_add_test(tc, strbuf_grows_without_truncating);
    tcase_add_test(tc, strbuf_failure_is_sticky_and_named);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
