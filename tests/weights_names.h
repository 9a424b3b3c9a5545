/* Tensor names and dtypes by index for the weights tests, through the
 * public lm_weights_tensor_info record; NULL when the index is out of
 * range (the call's error is then checked by the tests that want it). */
#ifndef LM_TESTS_WEIGHTS_NAMES_H
#define LM_TESTS_WEIGHTS_NAMES_H

#include "layermerge/weights.h"

static inline const char *lm_test_tensor_name(const lm_weights *w, size_t i)
{
    lm_tensor_info t = {.size = sizeof t};
    return lm_weights_tensor_info(&t, w, i) == LM_OK ? t.name : NULL;
}

static inline const char *lm_test_tensor_dtype(const lm_weights *w, size_t i)
{
    lm_tensor_info t = {.size = sizeof t};
    return lm_weights_tensor_info(&t, w, i) == LM_OK ? t.dtype : NULL;
}

#endif
