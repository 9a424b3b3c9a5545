/* liblayermerge — status codes and the per-thread last error.
 *
 * Every fallible call returns an lm_status: LM_OK (0) on success, a negative
 * LM_ERR_* value on failure. The numbers are part of the ABI: they are never
 * changed or reused. On failure, lm_last_error() gives this thread's message,
 * which names the file, line and column, layer, skip or entry at fault.
 */
#ifndef LAYERMERGE_STATUS_H
#define LAYERMERGE_STATUS_H

#include "layermerge/api.h"

LM_BEGIN_DECLS

/** Result of every fallible call. Values are pinned forever. @since 0.2 */
typedef enum lm_status {
    LM_OK = 0,
    LM_ERR_NOMEM = -1,       /**< an allocation failed */
    LM_ERR_INVALID_ARG = -2, /**< NULL handle, index out of range, bad option */
    LM_ERR_IO = -3,          /**< a file could not be opened, read or written */
    LM_ERR_PARSE = -4,       /**< a file is malformed (message: file:line:col) */
    LM_ERR_VALIDATION = -5,  /**< a graph is inconsistent (message: layer/skip) */
    LM_ERR_NOT_FOUND = -6,   /**< a named item (entry, tensor, key) is absent */
    LM_ERR_MISMATCH = -7,    /**< data belongs to another graph or shape */
    LM_ERR_INFEASIBLE = -8,  /**< no solution within the budget */
    LM_ERR_DUPLICATE = -9,   /**< the same key appears twice */
    LM_ERR_CONFLICT = -10,   /**< the same key has two different values */
    LM_ERR_MISSING = -11,    /**< required entries have no value */
    LM_ERR_VALUE = -12,      /**< a number is NaN, infinite or out of its domain */
    LM_ERR_STATE = -13,      /**< the object is not ready for this call */
    LM_ERR_UNSUPPORTED = -14,/**< a valid request this version cannot serve */
    LM_ERR_CANCELLED = -15,  /**< a caller callback asked to stop */
    LM_ERR_INTERNAL = -16    /**< a bug in liblayermerge; please report it */
} lm_status;

/** Fixed English text for a status ("out of memory", ...); never NULL.
 * Unknown values give "unknown status". @since 0.2 */
LM_API const char *lm_status_str(lm_status status);

/** This thread's message for the last failed call; never NULL ("" when no
 * call has failed on this thread). Borrowed: valid until the next
 * liblayermerge call on this thread. @since 0.2 */
LM_API const char *lm_last_error(void);

/** Forget this thread's last error message. @since 0.2 */
LM_API void lm_clear_error(void);

/** For the caller's callbacks (lm_timer_fn, lm_tensor_fn, lm_progress_fn):
 * set this thread's message (copied; cut at 1023 bytes, as every message) before returning a
 * failing status, so that the call that invoked the callback reports it,
 * prefixed with where it happened (the entry, the tensor).
 * @return `status` @since 0.2 */
LM_API lm_status lm_set_error(lm_status status, const char *message);

LM_END_DECLS

#endif /* LAYERMERGE_STATUS_H */
