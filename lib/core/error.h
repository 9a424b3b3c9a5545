/* Private: setting the per-thread last error. */
#ifndef LM_CORE_ERROR_H
#define LM_CORE_ERROR_H

#include "core/attr.h"
#include "layermerge/status.h"

/* Record a formatted message for this thread and return `status`, so that
 * error paths read `return lm_err(LM_ERR_PARSE, "%s:%d: ...", ...);`. */
lm_status lm_err(lm_status status, const char *fmt, ...) LM_PRINTF(2, 3);

/* Prefix this thread's current message with a formatted context ("while
 * loading x.yaml: ") and return `status`. */
lm_status lm_err_prefix(lm_status status, const char *fmt, ...) LM_PRINTF(2, 3);

/* Shorthand for the most common failure. */
lm_status lm_err_nomem(void);

#endif
