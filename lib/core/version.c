#include "layermerge/version.h"

unsigned lm_version_number(void)
{
    return LM_VERSION_NUMBER;
}

const char *lm_version(void)
{
    return LM_VERSION_STRING;
}
