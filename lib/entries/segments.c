/* Valid segments (docs/method.md section 3). */
#include "entries/entries_private.h"

/* A segment and a skip must nest: one contains the other or they are
 * disjoint; a partial overlap would cut the skip's addition in two. */
static int nests(size_t st, size_t end, const lm_span *k)
{
    return (st <= k->s && k->t <= end) || (k->s <= st && end <= k->t) ||
           end <= k->s || k->t <= st;
}

int lm_segment_is_valid(size_t st, size_t end, const unsigned char *barrier,
                        const lm_span *skips, size_t n_skips)
{
    for (size_t b = st + 1; b < end; b++)
        if (barrier[b])
            return 0;
    for (size_t i = 0; i < n_skips; i++)
        if (!nests(st, end, &skips[i]))
            return 0;
    return 1;
}
