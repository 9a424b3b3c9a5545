/* The model zoo (tools/zoo.h). */
#include "zoo.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by tools/meson.build: where `meson install` puts examples/models,
 * the source tree's copy, and this tool's build directory. */
#ifndef LM_ZOO_DIR
#error "LM_ZOO_DIR must be defined (tools/meson.build)"
#endif

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

/* 1 when the running executable lives in the directory it was built in:
 * only then is the source tree's zoo the one that belongs to it. */
static int run_from_build_dir(void)
{
#if defined(LM_TOOL_BUILD_DIR) && defined(LM_ZOO_SOURCE_DIR)
    char exe[PATH_MAX], build[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || !realpath(LM_TOOL_BUILD_DIR, build))
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    return strcmp(exe, build) == 0;
#else
    return 0;
#endif
}

/* NAME.yaml (or NAME when it has the suffix) in `dir`, written to `path`;
 * 1 when that file exists. */
static int in_dir(char *path, size_t cap, const char *dir, size_t dir_len,
                  const char *name)
{
    size_t len = strlen(name);
    const char *suffix = len > 5 && !strcmp(name + len - 5, ".yaml") ? "" : ".yaml";
    int n = snprintf(path, cap, "%.*s/%s%s", (int)dir_len, dir, name, suffix);
    return n > 0 && (size_t)n < cap && is_file(path);
}

static int zoo_find(char *path, size_t cap, const char *name)
{
    const char *env = getenv("LAYERMERGE_MODELS");
    while (env && *env) {
        size_t len = strcspn(env, ":");
        if (len && in_dir(path, cap, env, len, name))
            return 1;
        env += len + (env[len] == ':');
    }
    if (in_dir(path, cap, LM_ZOO_DIR, strlen(LM_ZOO_DIR), name))
        return 1;
#ifdef LM_ZOO_SOURCE_DIR
    if (run_from_build_dir() &&
        in_dir(path, cap, LM_ZOO_SOURCE_DIR, strlen(LM_ZOO_SOURCE_DIR), name))
        return 1;
#endif
    return 0;
}

lm_status lm_tool_graph_load(lm_graph **out, const char *arg)
{
    char path[PATH_MAX];
    if (arg && *arg && !strchr(arg, '/') && !is_file(arg) &&
        zoo_find(path, sizeof path, arg))
        return lm_graph_load(out, path);
    return lm_graph_load(out, arg);
}

void lm_tool_zoo_help(FILE *out)
{
    fprintf(out,
            "\nModel zoo: a GRAPH given as a bare name that names no file "
            "(e.g. resnet34)\nis NAME.yaml from the directories of "
            "$LAYERMERGE_MODELS, else from\n%s,\nelse (the tool run from "
            "its build directory) from the source tree's\nexamples/models.\n",
            LM_ZOO_DIR);
}
