/* Status strings and the per-thread last error. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LM_ERROR_CAP 1024

/* One buffer per thread: errors on one thread never clobber another's. */
static _Thread_local char last_error[LM_ERROR_CAP];

const char *lm_status_str(lm_status status)
{
    switch (status) {
    case LM_OK: return "success";
    case LM_ERR_NOMEM: return "out of memory";
    case LM_ERR_INVALID_ARG: return "invalid argument";
    case LM_ERR_IO: return "input/output error";
    case LM_ERR_PARSE: return "parse error";
    case LM_ERR_VALIDATION: return "invalid graph";
    case LM_ERR_NOT_FOUND: return "not found";
    case LM_ERR_MISMATCH: return "mismatch";
    case LM_ERR_INFEASIBLE: return "infeasible budget";
    case LM_ERR_DUPLICATE: return "duplicate";
    case LM_ERR_CONFLICT: return "conflicting values";
    case LM_ERR_MISSING: return "missing entries";
    case LM_ERR_VALUE: return "invalid value";
    case LM_ERR_STATE: return "object not ready";
    case LM_ERR_UNSUPPORTED: return "unsupported";
    case LM_ERR_CANCELLED: return "cancelled";
    case LM_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *lm_last_error(void)
{
    return last_error;
}

void lm_clear_error(void)
{
    last_error[0] = '\0';
}

lm_status lm_err(lm_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

lm_status lm_err_prefix(lm_status status, const char *fmt, ...)
{
    char old[LM_ERROR_CAP];
    memcpy(old, last_error, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof last_error)
        snprintf(last_error + n, sizeof last_error - (size_t)n, "%s", old);
    return status;
}

lm_status lm_err_nomem(void)
{
    return lm_err(LM_ERR_NOMEM, "out of memory");
}

lm_status lm_set_error(lm_status status, const char *message)
{
    return lm_err(status, "%s", message ? message : "");
}
