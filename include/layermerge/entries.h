/* liblayermerge — segments and table entries (docs/method.md sections 3 and 4).
 *
 * A segment (st, end), 0 <= st < end <= N, covers trunk convs
 * c_{st+1} .. c_end; it is valid when no barrier lies strictly inside it and
 * it nests with every skip. Segments are numbered 0.. in order of st, then
 * end.
 *
 * An option of a segment keeps a subset S of its convs (the others become
 * identity). S holds every irreducible conv (in != out channels, or
 * stride > 1); a kept strided conv may be followed, among the kept convs of
 * the segment, only by 1x1 convs; S is non-empty unless the end position
 * allows the identity option, in which case S = {} is the identity entry
 * (kernel 0, stride 1, depthwise 1, latency 0). The merged kernel is
 * K = 1 + sum over S of (k - 1), the merged conv is depthwise iff every kept
 * conv is, its stride is the product of the kept strides and its padding the
 * sum of the kept paddings.
 *
 * Options are deduplicated by (K, depthwise): one entry per segment and
 * distinct (K, depthwise). Entries are numbered 0.. (the id, stable for a
 * given graph) segment by segment; inside a segment by K ascending (so the
 * identity entry, K = 0, comes first), and at equal K the dense entry
 * before the depthwise one. A valid segment in which no subset satisfies
 * the rules (an irreducible conv with k > 1 after a strided conv) is still
 * listed, with no entries.
 *
 * Representative subset: among every subset with the entry's (K, depthwise)
 * — of any number of convs — the one with the largest summed score (the
 * per-conv scores given to lm_entries_create_scored(), e.g. the L1 norms of
 * the weights). Ties, and every choice of lm_entries_create(), which scores
 * all convs 0, go to the subset that keeps the earliest convs: compare two
 * subsets at the first conv where they differ; the one that keeps it wins.
 *
 * An lm_entries copies what it needs from the graph: the graph may be
 * changed or destroyed afterwards.
 *
 * Threads: an lm_entries never changes after creation; any calls may run
 * concurrently on one list.
 */
#ifndef LAYERMERGE_ENTRIES_H
#define LAYERMERGE_ENTRIES_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque list of the valid segments and table entries of a graph.
 * @since 0.2 */
typedef struct lm_entries lm_entries;

/** Enumerate the segments and entries of a validated graph, choosing each
 * entry's representative subset by the earliest-convs rule (header comment).
 * @param[out] out   the new list, owned by the caller (lm_entries_destroy)
 * @param graph      a validated graph (lm_graph_validate); only read
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_STATE (graph
 *         not validated), LM_ERR_UNSUPPORTED (a segment whose merged kernel
 *         table would be too large), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_entries_create(lm_entries **out, const lm_graph *graph);

/** As lm_entries_create(), choosing for each entry the subset with the
 * largest summed score among all subsets with its (K, depthwise).
 * @param conv_scores  score of each trunk conv; conv_scores[i] belongs to
 *                     conv i + 1 (e.g. the L1 norm of its weight); copied
 * @param n_convs      must equal lm_graph_conv_count(graph)
 * @return as lm_entries_create(), plus LM_ERR_INVALID_ARG (NULL scores with
 *         n_convs > 0, or n_convs != N) and LM_ERR_VALUE (a score that is
 *         NaN, infinite or negative; the message names the conv)
 * @since 0.2 */
LM_API lm_status lm_entries_create_scored(lm_entries **out,
                                          const lm_graph *graph,
                                          const double *conv_scores,
                                          size_t n_convs);

/** Free an entry list; NULL is ignored. @since 0.2 */
LM_API void lm_entries_destroy(lm_entries *entries);

/** N, the number of trunk convs of the graph (0 for NULL). @since 0.2 */
LM_API size_t lm_entries_conv_count(const lm_entries *entries);
/** Number of valid segments (0 for NULL). @since 0.2 */
LM_API size_t lm_entries_segment_count(const lm_entries *entries);
/** Number of entries (0 for NULL). @since 0.2 */
LM_API size_t lm_entries_count(const lm_entries *entries);

/** Fingerprint of the graph the list was built from (lm_graph_fingerprint).
 * Borrowed: valid for the lifetime of `entries`; "" for NULL. @since 0.2 */
LM_API const char *lm_entries_fingerprint(const lm_entries *entries);
/** Name of the graph the list was built from; "" when unnamed. Borrowed:
 * valid for the lifetime of `entries`. @since 0.2 */
LM_API const char *lm_entries_graph_name(const lm_entries *entries);

/** Size-versioned record of a segment. Set `size = sizeof(lm_segment_info)`
 * before the call; the library writes only within `size`. @since 0.2 */
typedef struct lm_segment_info {
    size_t size;
    size_t st;          /**< start position */
    size_t end;         /**< end position; convs st+1 .. end */
    size_t first_entry; /**< id of the segment's first entry */
    size_t n_entries;   /**< entries first_entry .. first_entry+n-1; may be 0 */
} lm_segment_info;

/** Describe segment `segment` (0-based).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small to
 *         hold `size`) @since 0.2 */
LM_API lm_status lm_entries_segment_info(lm_segment_info *info,
                                         const lm_entries *entries,
                                         size_t segment);

/** Size-versioned record of an entry. Set `size = sizeof(lm_entry_info)`
 * before the call; the library writes only within `size`. @since 0.2 */
typedef struct lm_entry_info {
    size_t size;
    size_t id;            /**< the entry id (its index) */
    size_t segment;       /**< index of its segment */
    size_t st;            /**< segment start position */
    size_t end;           /**< segment end position */
    int64_t kernel;       /**< merged kernel K; 0 for the identity entry */
    int64_t stride;       /**< product of the kept strides */
    int64_t padding;      /**< sum of the kept paddings */
    int32_t depthwise;    /**< 1 when every kept conv is depthwise */
    int32_t identity;     /**< 1 for the identity entry (nothing kept) */
    int64_t in_channels;  /**< channels at position st */
    int64_t out_channels; /**< channels at position end */
    int64_t in_height;    /**< height of the input (position st, as the
                               segment's first conv reads it: after its
                               LM_SITE_PRE layers) */
    int64_t in_width;     /**< width of that input */
    size_t n_kept;        /**< number of kept convs */
    /** The representative subset: n_kept 1-based trunk conv indices,
     * ascending. Borrowed from `entries`, valid for its lifetime; NULL when
     * n_kept is 0. */
    const size_t *kept;
} lm_entry_info;

/** Describe entry `id`.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, id out of range, size too small
 *         to hold `size`) @since 0.2 */
LM_API lm_status lm_entries_entry_info(lm_entry_info *info,
                                       const lm_entries *entries, size_t id);

/** Size-versioned key of a table entry (an input record): the segment
 * (st, end] and the merged conv's kernel, stride and depthwise flag. The
 * identity entry has kernel 0, stride 1, depthwise 1. Tables use kernel
 * -1, stride -1 for a kim23 segment row not resolved against a graph
 * (tables.h). Set `size = sizeof(lm_entry_key)`. @since 0.2 */
typedef struct lm_entry_key {
    size_t size;
    size_t st;
    size_t end;
    int64_t kernel;
    int64_t stride;
    int32_t depthwise;
} lm_entry_key;

/** The key of entry `id`.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, id out of range, size too
 *         small) @since 0.2 */
LM_API lm_status lm_entries_entry_key(lm_entry_key *key,
                                      const lm_entries *entries, size_t id);

/** Find an entry by its key.
 * @param[out] id  the entry id
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, size too small),
 *         LM_ERR_NOT_FOUND (no such entry; the message names the key)
 * @since 0.2 */
LM_API lm_status lm_entries_find(size_t *id, const lm_entries *entries,
                                 const lm_entry_key *key);

/** Find the original network's entry for trunk conv `conv` (1..N): the
 * segment (conv-1, conv) keeping that conv. Summing the latencies of these
 * N entries gives the latency of the uncompressed trunk.
 * @param[out] id  the entry id
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, conv out of range) @since 0.2 */
LM_API lm_status lm_entries_find_original(size_t *id,
                                          const lm_entries *entries,
                                          size_t conv);

/** File formats of an entry list. @since 0.2 */
typedef enum lm_entries_format {
    /** Header `id,st,end,ker,str,is_dw,in_ch,out_ch,in_h,in_w,pad,convs`,
     * one row per entry; is_dw is 0/1; convs holds the kept 1-based conv
     * indices separated by spaces (empty for the identity entry). */
    LM_ENTRIES_CSV = 1,
    /** `format: layermerge-entries`, version, graph name, fingerprint,
     * segments and entries (docs/entries.md). */
    LM_ENTRIES_YAML = 2
} lm_entries_format;

/** Write the list through the caller's stream `write` (api.h).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown format), LM_ERR_IO
 *         (the callback failed), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_entries_write(const lm_entries *entries,
                                  lm_entries_format format, lm_write_fn write,
                                  void *userdata);

/** Write the list to `path`: written to a temporary file beside it, then
 * renamed, so `path` is never left half-written.
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_IO (message names the path),
 *         LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_entries_save(const lm_entries *entries, const char *path,
                                 lm_entries_format format);

LM_END_DECLS

#endif /* LAYERMERGE_ENTRIES_H */
