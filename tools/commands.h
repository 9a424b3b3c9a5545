/* The `layermerge` command: one file per subcommand, public API only. */
#ifndef LM_TOOLS_COMMANDS_H
#define LM_TOOLS_COMMANDS_H

/* A subcommand gets argv starting at its own name and returns the exit
 * code: 0 success, 1 failure of the work, 2 bad usage. */
typedef struct lm_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} lm_command;

/* Report a failed library call as "layermerge: <what>: <last error>" and
 * return 1. */
int lm_tool_fail(const char *what);

/* Print "layermerge <cmd>: <msg>" and a hint to --help; return 2. */
int lm_tool_usage_error(const char *cmd, const char *msg);

/* 1 when argv holds -h or --help. */
int lm_tool_wants_help(int argc, char **argv);

int lm_cmd_graph(int argc, char **argv);
int lm_cmd_entries(int argc, char **argv);
int lm_cmd_solve(int argc, char **argv);
int lm_cmd_front(int argc, char **argv);
int lm_cmd_table(int argc, char **argv);
int lm_cmd_plan(int argc, char **argv);
int lm_cmd_merge(int argc, char **argv);
int lm_cmd_verify(int argc, char **argv);
int lm_cmd_latency(int argc, char **argv);
int lm_cmd_importance(int argc, char **argv);

#include <stddef.h>
#include <stdint.h>

#include "layermerge/entries.h"

/* Shared by the measuring commands (cmd_latency.c). The progress bar on
 * stderr: \r redraws on a terminal, a line every 5% otherwise; `already`
 * entries were present before the run (for the time estimate). Its
 * callback cancels after SIGINT/SIGTERM once lm_tool_catch_interrupt()
 * was called. */
typedef struct lm_tool_bar {
    size_t already;
    int tty;
    double next_pct;
} lm_tool_bar;
void lm_tool_bar_init(lm_tool_bar *bar, size_t already);
int lm_tool_progress(size_t done, size_t total, size_t entry_id,
                     double elapsed_s, void *userdata);
void lm_tool_catch_interrupt(void);
/* Parse a non-negative integer / "A:B" with A < B; 1 on success. */
int lm_tool_parse_size(const char *s, size_t *out);
int lm_tool_parse_range(const char *s, size_t *lo, size_t *hi);
/* Entries of [lo, hi) for which has(table, key) is non-zero. */
size_t lm_tool_count_present(const lm_entries *entries, size_t lo, size_t hi,
                             int (*has)(const void *table, size_t st,
                                        size_t end, int64_t kernel,
                                        int64_t stride, int dw),
                             const void *table);

#endif
