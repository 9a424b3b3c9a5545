/* liblayermerge — export macro and the few types shared by every public
 * header. */
#ifndef LAYERMERGE_API_H
#define LAYERMERGE_API_H

#include <stddef.h>

/* FFI generators that read the preprocessed headers (cffi's cdef, for
 * one) can define LM_API empty first to get plain C declarations:
 *   cc -E -P -DLM_API= layermerge/layermerge.h */
#ifndef LM_API
#if defined(_WIN32) && defined(LM_BUILDING_LIBRARY)
#define LM_API __declspec(dllexport)
#elif defined(_WIN32)
#define LM_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define LM_API __attribute__((visibility("default")))
#else
#define LM_API
#endif
#endif

#ifdef __cplusplus
#define LM_BEGIN_DECLS extern "C" {
#define LM_END_DECLS }
#else
#define LM_BEGIN_DECLS
#define LM_END_DECLS
#endif

LM_BEGIN_DECLS

/** Caller's output stream for the *_write calls: consume `len` bytes at
 * `data`. Return 0 when all were taken, non-zero to fail the write (the
 * call then returns LM_ERR_IO). Called only during the *_write call.
 * Neither FILE nor any other C runtime type crosses the ABI, so the
 * callback works from any language and any C runtime. @since 0.2 */
typedef int (*lm_write_fn)(const void *data, size_t len, void *userdata);

LM_END_DECLS

#endif /* LAYERMERGE_API_H */
