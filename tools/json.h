/* --json documents of the commands (tools/json.c). */
#ifndef LM_TOOLS_JSON_H
#define LM_TOOLS_JSON_H

#include <jansson.h>

#include "layermerge/layermerge.h"

/* A number, or null for one JSON cannot spell (NaN, infinities). */
json_t *lm_tool_json_number(double v);
/* The fields of `layermerge entries --format yaml`. */
json_t *lm_tool_json_entries(const lm_entries *e);
/* The fields of a result YAML file, with the segments of the summary. */
json_t *lm_tool_json_result(const lm_result *r);
/* The front's points, each with its whole result. */
json_t *lm_tool_json_front(const lm_front *f);
/* `table show` of one file, with every record. */
json_t *lm_tool_json_table(const char *path, const lm_table *t);
/* `graph check` of one valid file. */
json_t *lm_tool_json_graph(const char *path, const lm_graph *g);
/* Print `doc` (consumed; NULL means out of memory) and a newline on
 * standard output: 0, or 1 with a message. */
int lm_tool_json_print(json_t *doc);

#endif
