/* OpenBLAS thread count (blas_threads.h). */
#include "engine/blas_threads.h"

#ifdef LM_HAVE_OPENBLAS_THREADS
#include <cblas.h>

size_t lm_blas_threads(void)
{
    int n = openblas_get_num_threads();
    return n > 0 ? (size_t)n : 1;
}

void lm_blas_set_threads(size_t threads)
{
    if (threads && lm_blas_threads() != threads)
        openblas_set_num_threads((int)threads);
}
#else
size_t lm_blas_threads(void)
{
    return 1;
}

void lm_blas_set_threads(size_t threads)
{
    (void)threads;
}
#endif
