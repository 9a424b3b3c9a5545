/* Private: the public key record of an entry described by its info record,
 * for the rooms that hold an lm_entry_info and look the entry up in a
 * table. */
#ifndef LM_ENTRIES_ENTRY_KEY_H
#define LM_ENTRIES_ENTRY_KEY_H

#include "layermerge/entries.h"

static inline lm_entry_key lm_entry_key_of(const lm_entry_info *info)
{
    return (lm_entry_key){.size = sizeof(lm_entry_key),
                          .st = info->st,
                          .end = info->end,
                          .kernel = info->kernel,
                          .stride = info->stride,
                          .depthwise = info->depthwise};
}

#endif
