/* Private: OpenBLAS's process-wide thread count, read and set in one
 * place. With a BLAS that has no such call the count reads 1 and setting
 * it does nothing. */
#ifndef LM_ENGINE_BLAS_THREADS_H
#define LM_ENGINE_BLAS_THREADS_H

#include <stddef.h>

size_t lm_blas_threads(void);
void lm_blas_set_threads(size_t threads);

#endif
