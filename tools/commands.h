/* The `layermerge` command: one file per subcommand, public API only. */
#ifndef LM_TOOLS_COMMANDS_H
#define LM_TOOLS_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "layermerge/layermerge.h"
#include "zoo.h"

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

/* An lm_write_fn for the library's *_write calls: `userdata` is the
 * FILE * to write to. */
int lm_tool_write_file(const void *data, size_t len, void *userdata);

/* The entries every command builds by one rule (docs/method.md section 4):
 * an importance table that records the subsets it was measured with gives
 * those; else, with weights, each entry keeps the subset with the largest
 * summed L1 norm of its convs' weights; else the earliest convs. `weights`
 * and `importance` may be NULL. */
lm_status lm_tool_entries(lm_entries **out, const lm_graph *graph,
                          const lm_weights *weights,
                          const lm_table *importance);

/* `graph` as a validated copy at an S x S input (`size` 0: at its own),
 * as every command that measures, runs or exports at --size needs it. */
lm_status lm_tool_graph_at_size(lm_graph **out, const lm_graph *graph,
                                size_t size);

/* The weights of a command: the file `path`, checked against `graph`, or,
 * when `path` is NULL, deterministic random weights from `seed`. */
lm_status lm_tool_weights(lm_weights **out, const char *path,
                          const lm_graph *graph, uint64_t seed);

/* --calibrate on|off|auto as 1, 0, -1; -2 for anything else. */
int lm_tool_calibrate_mode(const char *val);
/* Whether to solve on the calibrated copy of latency table `t`: mode 1
 * or 0 as given, auto (-1) when the table has a calibration. */
int lm_tool_calibrates(const lm_table *t, int mode);

/* Refuse an output whose directory does not exist ("layermerge <cmd>:
 * output OUT: the directory 'D' does not exist", 2), and refuse to write
 * an input: 0 when none of the `n_outs` output paths is
 * the same file as one of the `n_ins` input paths, compared by device and
 * inode (stat), so "./g.yaml", "g.yaml", "dir/../g.yaml" and links to it
 * are one file; an output that does not exist yet is never an input. NULL
 * paths are skipped. Otherwise print "layermerge <cmd>: output OUT is the
 * input IN (the same file); refusing to overwrite it" and return 2 (bad
 * usage), before any work is done. */
int lm_tool_check_outputs(const char *cmd, const char *const *outs,
                          size_t n_outs, const char *const *ins,
                          size_t n_ins);

/* 1 when `path` is "-": the output goes to standard output. */
int lm_tool_is_stdout(const char *path);

/* 0 unless `path` is "-"; then "layermerge <cmd>: <opt> - (standard
 * output) is not possible here: <why>" and 2. */
int lm_tool_refuse_stdout(const char *cmd, const char *opt, const char *path,
                          const char *why);

/* An output that may be "-": lm_tool_out_begin() gives in o->path the path
 * to hand to a library save call (the target itself, or for "-" a file in
 * a fresh private directory); lm_tool_out_end() copies that file to
 * standard output when `ok` and removes it. Both return 0 or 1 (printed). */
typedef struct lm_tool_out {
    const char *target;
    const char *path;
    char dir[4200];
    char buf[4300];
} lm_tool_out;
int lm_tool_out_begin(lm_tool_out *o, const char *target);
int lm_tool_out_end(lm_tool_out *o, int ok);

/* "layermerge: PATH: cannot write: ..." for an fopen failure `e`,
 * naming a missing directory as such. */
void lm_tool_open_error(const char *path, int e);

/* Write `path` through emit() (0 on success) into "<path>.tmp.<pid>" and
 * rename it over `path`, or straight to standard output for "-". 0, or 1
 * with a message (no file left behind). */
int lm_tool_write_atomic(const char *path, int (*emit)(FILE *, void *),
                         void *userdata);

/* 1 when argv holds -h or --help (before any "--"). */
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
int lm_cmd_compress(int argc, char **argv);
int lm_cmd_export(int argc, char **argv);
int lm_cmd_run(int argc, char **argv);

#endif
