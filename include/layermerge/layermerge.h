/* liblayermerge — umbrella header: LayerMerge depth compression for CNNs
 * (Kim et al., ICML 2024). Include this or the per-concept headers. */
#ifndef LAYERMERGE_LAYERMERGE_H
#define LAYERMERGE_LAYERMERGE_H

#include "layermerge/api.h"
#include "layermerge/status.h"
#include "layermerge/version.h"
#include "layermerge/graph.h"
#include "layermerge/weights.h"
#include "layermerge/entries.h"
#include "layermerge/plan.h"
#include "layermerge/tables.h"
#include "layermerge/solver.h"
#include "layermerge/merge.h"
#include "layermerge/engine.h"
#include "layermerge/netmerge.h"
#include "layermerge/measure.h"
#include "layermerge/export.h"

#endif /* LAYERMERGE_LAYERMERGE_H */
