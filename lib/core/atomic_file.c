#define _POSIX_C_SOURCE 200809L
#include "core/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"

/* The temporary file is "<target>.tmp.<pid>.<6 letters or digits>": the
 * pid says which process owns it, so that a later writer of the same
 * target can tell an orphan (its writer was killed) from a file another
 * process is still writing (docs/formats.md, "Atomic writes"). */
#define LM_TMP_TAG ".tmp."
#define LM_TMP_RANDOM 6
/* An orphan must also have been left alone this long. */
#define LM_TMP_STALE_SECONDS 10

static const char tmp_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* xorshift64*: only needs to avoid collisions between writers, and
 * O_EXCL catches the rest. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Create "<path>.tmp.<pid>.XXXXXX" with open(O_EXCL) and mode 0666, so the
 * kernel applies the umask (and a default ACL) as for any new file; the
 * process-wide umask is never read or changed. */
static int create_tmp(char *tmp, size_t n, const char *path, const void *salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^
                    ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)salt;
    seed |= 1;
    int len = snprintf(tmp, n, "%s" LM_TMP_TAG "%ld.", path, (long)getpid());
    if (len < 0 || (size_t)len + LM_TMP_RANDOM + 1 > n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r = next_random(&seed);
        for (int i = 0; i < LM_TMP_RANDOM; i++) {
            tmp[len + i] = tmp_alphabet[r % (sizeof tmp_alphabet - 1)];
            r /= sizeof tmp_alphabet - 1;
        }
        tmp[len + LM_TMP_RANDOM] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* A replaced file keeps its permission bits; a new one has 0666 & ~umask
 * from create_tmp. */
static int keep_mode(int fd, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    return fchmod(fd, sb.st_mode & 0777);
}

/* Why the temporary file beside `path` could not be made: a missing
 * directory is named as such (the usual cause: a typo in -o). */
static lm_status no_tmp(const char *path, int e)
{
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    if (slash == path)
        dlen = 1; /* "/name": the root */
    struct stat sb;
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", dlen, dir);
    if (e == ENOENT && stat(buf, &sb) != 0)
        return lm_err(LM_ERR_IO, "%s: cannot write: the directory '%s' does "
                      "not exist", path, buf);
    if ((e == ENOTDIR || e == ENOENT) && stat(buf, &sb) == 0 &&
        !S_ISDIR(sb.st_mode))
        return lm_err(LM_ERR_IO, "%s: cannot write: '%s' is not a directory",
                      path, buf);
    if (e == ENOTDIR)
        return lm_err(LM_ERR_IO, "%s: cannot write: a component of '%s' is "
                      "not a directory", path, buf);
    return lm_err(LM_ERR_IO, "%s: cannot create temporary file in '%s': %s",
                  path, buf, strerror(e));
}

lm_status lm_atomic_open(lm_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return lm_err(LM_ERR_INVALID_ARG, "no output path given");
    size_t n = strlen(path);
    size_t cap = n + sizeof LM_TMP_TAG + 24 + LM_TMP_RANDOM + 2;
    af->path = lm_strdup(path);
    af->tmp_path = malloc(cap);
    if (!af->path || !af->tmp_path) {
        lm_atomic_abort(af);
        return lm_err_nomem();
    }
    /* The temporary file sits beside the target so rename() stays atomic
     * (same file system). */
    int fd = create_tmp(af->tmp_path, cap, path, af);
    if (fd < 0) {
        int e = errno;
        free(af->tmp_path);
        af->tmp_path = NULL;
        lm_atomic_abort(af);
        return no_tmp(path, e);
    }
    if (keep_mode(fd, path) != 0) {
        int e = errno;
        close(fd);
        lm_atomic_abort(af);
        return lm_err(LM_ERR_IO, "%s: cannot keep the file's mode: %s", path,
                      strerror(e));
    }
    af->fp = fdopen(fd, "w");
    if (!af->fp) {
        int e = errno;
        close(fd);
        lm_atomic_abort(af);
        return lm_err(LM_ERR_IO, "%s: %s", path, strerror(e));
    }
    return LM_OK;
}

/* "<base>.tmp.<pid>.<6 of tmp_alphabet>" exactly; *pid gets the pid. */
static int is_our_tmp(const char *name, const char *base, long *pid)
{
    size_t nb = strlen(base), nt = sizeof LM_TMP_TAG - 1;
    if (strncmp(name, base, nb) || strncmp(name + nb, LM_TMP_TAG, nt))
        return 0;
    const char *p = name + nb + nt;
    long v = 0;
    const char *digits = p;
    while (*p >= '0' && *p <= '9' && p - digits < 9)
        v = v * 10 + (*p++ - '0');
    if (p == digits || *digits == '0' || *p != '.')
        return 0;
    p++;
    for (int i = 0; i < LM_TMP_RANDOM; i++)
        if (!p[i] || !strchr(tmp_alphabet, p[i]))
            return 0;
    if (p[LM_TMP_RANDOM] != '\0')
        return 0;
    *pid = v;
    return 1;
}

/* An orphan: ours by name, a regular file of this user, its writer gone
 * (no such process on this machine) and untouched for a while. */
static int is_stale(int dfd, const char *name, long pid, time_t now)
{
    struct stat sb;
    if (pid == (long)getpid() || pid <= 0)
        return 0;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        return 0;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(sb.st_mode) || sb.st_uid != geteuid())
        return 0;
    return now - sb.st_mtime >= LM_TMP_STALE_SECONDS;
}

void lm_atomic_remove_orphans(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return;
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
    if (slash && !dir)
        return;
    if (dir) {
        size_t dn = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, dn);
        dir[dn] = '\0';
    }
    DIR *d = opendir(dir ? dir : ".");
    free(dir);
    if (!d)
        return;
    int dfd = dirfd(d);
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long pid = 0;
        if (is_our_tmp(de->d_name, base, &pid) &&
            is_stale(dfd, de->d_name, pid, now))
            unlinkat(dfd, de->d_name, 0);
    }
    closedir(d);
}

lm_status lm_atomic_commit(lm_atomic_file *af)
{
    lm_status st = LM_OK;
    int failed = ferror(af->fp) || fflush(af->fp) != 0 ||
                 fsync(fileno(af->fp)) != 0;
    int e = errno;
    if (fclose(af->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    af->fp = NULL;
    if (failed) {
        st = lm_err(LM_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
    } else if (rename(af->tmp_path, af->path) != 0) {
        st = lm_err(LM_ERR_IO, "%s: cannot rename temporary file: %s",
                    af->path, strerror(errno));
    } else {
        free(af->tmp_path);
        af->tmp_path = NULL;
        /* The write succeeded: orphans of earlier, killed writers of this
         * target can go. A failure here changes nothing written. */
        lm_atomic_remove_orphans(af->path);
    }
    lm_atomic_abort(af);
    return st;
}

void lm_atomic_abort(lm_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

lm_status lm_atomic_save(const char *path, const char *what,
                         lm_atomic_write_fn write, const void *obj)
{
    lm_atomic_file af;
    lm_status st = lm_atomic_open(&af, path);
    if (st != LM_OK)
        return lm_err_prefix(st, "saving %s: ", what);
    st = write(af.fp, obj);
    if (st != LM_OK) {
        lm_atomic_abort(&af);
        return lm_err_prefix(st, "saving %s to %s: ", what, path);
    }
    st = lm_atomic_commit(&af);
    return st != LM_OK ? lm_err_prefix(st, "saving %s: ", what) : LM_OK;
}
