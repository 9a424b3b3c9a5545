/* Private: checks for the size-versioned input records of the public API
 * (lm_conv_desc, lm_entry_key, lm_bn_desc). A record starts with its
 * `size`; the caller sets it to the sizeof the record it was built with. */
#ifndef LM_CORE_RECORD_H
#define LM_CORE_RECORD_H

#include <stddef.h>

#include "core/attr.h"
#include "layermerge/status.h"

/* LM_OK when `record` is not NULL and its size field holds at least
 * `min_size` (the bytes up to the record's last field in this release);
 * else LM_ERR_INVALID_ARG naming `what` and both sizes. */
LM_NODISCARD
lm_status lm_record_check(const void *record, size_t min_size,
                          const char *what);

#endif
