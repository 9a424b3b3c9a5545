/* Private: the public *_write calls hand bytes to a caller's lm_write_fn
 * (api.h) instead of taking a FILE *. The library's writers keep writing
 * to a FILE *: this runs one into memory and passes the bytes on. */
#ifndef LM_CORE_STREAM_H
#define LM_CORE_STREAM_H

#include "core/atomic_file.h"
#include "core/attr.h"
#include "layermerge/api.h"
#include "layermerge/status.h"

/* Run `writer` on `obj` into a memory stream, then pass the bytes to
 * `write`. LM_ERR_IO when the callback refuses them ("writing <what>: the
 * write callback failed"), LM_ERR_NOMEM when the buffer cannot grow, or
 * the writer's own status. */
LM_NODISCARD
lm_status lm_stream_to_callback(lm_write_fn write, void *userdata,
                                lm_atomic_write_fn writer, const void *obj,
                                const char *what);

#endif
