/* Input-record checks (record.h). */
#include "core/record.h"

#include <string.h>

#include "core/error.h"

lm_status lm_record_check(const void *record, size_t min_size,
                          const char *what)
{
    size_t size = 0;
    if (record)
        memcpy(&size, record, sizeof size);
    if (!record || size < min_size)
        return lm_err(LM_ERR_INVALID_ARG, "%s: %s record%s (size %zu, this "
                      "release needs at least %zu: set size = sizeof the "
                      "record)", what, record ? "too small a" : "NULL",
                      record ? "" : "", size, min_size);
    return LM_OK;
}
