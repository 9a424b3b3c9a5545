/* The model zoo: graph arguments given by name ("resnet34"). */
#ifndef LM_TOOLS_ZOO_H
#define LM_TOOLS_ZOO_H

#include <stdio.h>

#include "layermerge/layermerge.h"

/* lm_graph_load() of a graph argument: a path as given; or, for a bare
 * name (no '/') that names no file, NAME.yaml (or NAME itself when it ends
 * in .yaml) from the first zoo directory that has it: each directory of
 * $LAYERMERGE_MODELS (':'-separated), the installed zoo
 * (DATADIR/layermerge/models), then, for the tool run from its build
 * directory, the source tree's examples/models. A name no directory has
 * is loaded as given, so the library's message names it. */
lm_status lm_tool_graph_load(lm_graph **out, const char *arg);

/* The zoo paragraph of `layermerge --help`. */
void lm_tool_zoo_help(FILE *out);

#endif /* LM_TOOLS_ZOO_H */
