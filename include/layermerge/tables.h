/* liblayermerge — latency and importance tables (SPEC section 5).
 *
 * A table maps entry keys (st, end, kernel, stride, depthwise) to a value:
 * a latency table holds the time of each entry's merged conv in
 * milliseconds and its standard deviation; an importance table holds the
 * raw metric of each entry (accuracy in percent, loss ratio, or a value the
 * caller normalised) and the normalised importance the solver maximises.
 * Records are keyed, never matched by row order; each record also keeps the
 * entry id when it is known (set through an lm_entries, loaded from a file
 * that names it, imported or merged against an lm_entries), else -1.
 *
 * Record order is insertion order: setting a key that is already present
 * replaces its value in place. Loading keeps the file's order, importing
 * keeps the CSV's order, merging writes entry-id order.
 *
 * A table is created for one graph: it carries the graph's fingerprint
 * (lm_graph_fingerprint) and its provenance (device, timer, batch, input
 * size, dtype, repetitions; for importance the metric and a fine-tune
 * description) and, when written by one worker of a sharded run, the range
 * of entry ids [lo, hi) it covers.
 *
 * Identity entries (kernel 0) cost 0 by definition: a latency table answers
 * 0 ms for an identity key it does not hold, and lm_latency_table_missing()
 * never lists them. Their importance must be measured like any other.
 *
 * Segment-level rows of the kim23 CSV files (no kernel) are keyed by the
 * segment's merge-all conv: kernel 1 + sum of (k - 1), the product of the
 * strides, depthwise when every conv is — when an lm_entries is given at
 * import; otherwise by kernel -1, stride -1, depthwise 0, meaning "the whole
 * segment merged, not resolved against a graph". Such unresolved keys are
 * accepted by set/get but never match an entry.
 *
 * Files: YAML (docs/formats.md, "Latency and importance tables"), written
 * atomically (temporary file + rename) with doubles that read back
 * bit-identical; and the authors' CSV files, imported and exported.
 * Tables are independent of the graph and entries they were built with.
 */
#ifndef LAYERMERGE_TABLES_H
#define LAYERMERGE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/entries.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque latency table. @since 0.1 */
typedef struct lm_latency_table lm_latency_table;
/** Opaque importance table. @since 0.1 */
typedef struct lm_importance_table lm_importance_table;

/** What kind of table a file holds (lm_table_probe). @since 0.1 */
typedef enum lm_table_kind {
    LM_TABLE_LATENCY = 1,
    LM_TABLE_IMPORTANCE = 2
} lm_table_kind;

/** What the raw importance metric is, which fixes its normalisation.
 * @since 0.1 */
typedef enum lm_importance_metric {
    /** Top-1 accuracy in percent: I = exp(acc / 100). */
    LM_METRIC_ACCURACY = 1,
    /** Loss of the changed network over the original's: I = exp(-ratio). */
    LM_METRIC_LOSS_RATIO = 2,
    /** The caller normalises; the raw value is kept as given. */
    LM_METRIC_NORMALISED = 3
} lm_importance_metric;

/** Text fields of the provenance; each defaults to "". @since 0.1 */
typedef enum lm_table_text {
    LM_TABLE_DEVICE = 1,   /**< e.g. "RTX 2080 Ti" or "x86-64 1 thread" */
    LM_TABLE_TIMER = 2,    /**< e.g. "cuda events", "clock_gettime" */
    LM_TABLE_DTYPE = 3,    /**< e.g. "float32" */
    LM_TABLE_FINETUNE = 4  /**< importance: how each entry was fine-tuned */
} lm_table_text;

/** Integer fields of the provenance; each defaults to 0 (unknown).
 * @since 0.1 */
typedef enum lm_table_int {
    LM_TABLE_BATCH = 1,
    LM_TABLE_HEIGHT = 2,      /**< input height of the network */
    LM_TABLE_WIDTH = 3,       /**< input width of the network */
    LM_TABLE_REPETITIONS = 4  /**< timed repetitions per entry */
} lm_table_int;

/** The authors' CSV layouts (SPEC 5). @since 0.1 */
typedef enum lm_table_csv_format {
    /** LayerMerge: latency `id,st,end,ker,str,is_dw,time,stdev`; importance
     * `id,st,end,ker,str,is_dw,conv_comb,importance` (an unnamed leading
     * index column is accepted and ignored). */
    LM_TABLE_CSV_LAYERMERGE = 1,
    /** kim23 time table `id,st,end,time,stdev` (latency only). */
    LM_TABLE_CSV_KIM23_TIME = 2,
    /** kim23 optimal-time table `id,st,end,time,stdev,breaks`; the breaks
     * text is kept as the record's note (latency only). */
    LM_TABLE_CSV_KIM23_OPT_TIME = 3
} lm_table_csv_format;

/** Flags of lm_latency_table_merge() / lm_importance_table_merge().
 * @since 0.1 */
enum {
    /** Write the merged table even when entries lack a value (the missing
     * ids are still checked for conflicts, just not required). */
    LM_TABLE_MERGE_ALLOW_MISSING = 1u
};

/** Size-versioned view of one record. Set `size = sizeof(lm_table_record)`
 * before the call; the library writes only within `size`. @since 0.1 */
typedef struct lm_table_record {
    size_t size;
    int64_t id;         /**< entry id, -1 when not known */
    size_t st;          /**< segment start position */
    size_t end;         /**< segment end position */
    int64_t kernel;     /**< merged kernel; 0 identity; -1 unresolved */
    int64_t stride;     /**< merged stride; -1 when unresolved */
    int32_t depthwise;  /**< 0 or 1 */
    double value;       /**< latency in ms, or normalised importance */
    double extra;       /**< latency stdev in ms, or raw importance metric */
    /** kim23 opt-time breaks or the authors' conv_comb text; "" if none.
     * Borrowed from the table until it changes or is destroyed. */
    const char *note;
} lm_table_record;

/* ---- latency ---------------------------------------------------------- */

/** Create an empty latency table for the graph with this fingerprint.
 * @param[out] out     the new table, owned by the caller
 * @param fingerprint  lm_graph_fingerprint() of the graph; copied
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_latency_table_create(lm_latency_table **out,
                                         const char *fingerprint);
/** Create an empty latency table for the graph of `entries`.
 * @return as lm_latency_table_create() @since 0.1 */
LM_API lm_status lm_latency_table_create_for(lm_latency_table **out,
                                             const lm_entries *entries);
/** Free a table; NULL is ignored. @since 0.1 */
LM_API void lm_latency_table_destroy(lm_latency_table *table);

/** The graph fingerprint; borrowed for the table's lifetime; "" for NULL.
 * @since 0.1 */
LM_API const char *lm_latency_table_fingerprint(const lm_latency_table *t);
/** Set a provenance text field (copied).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown field), LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_latency_table_set_text(lm_latency_table *t,
                                           lm_table_text field,
                                           const char *value);
/** A provenance text field; borrowed until it is set again; "" when unset
 * or unknown. @since 0.1 */
LM_API const char *lm_latency_table_text(const lm_latency_table *t,
                                         lm_table_text field);
/** Set a provenance integer field.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown field), LM_ERR_VALUE
 *         (negative value) @since 0.1 */
LM_API lm_status lm_latency_table_set_int(lm_latency_table *t,
                                          lm_table_int field, int64_t value);
/** A provenance integer field; 0 when unset or unknown. @since 0.1 */
LM_API int64_t lm_latency_table_int(const lm_latency_table *t,
                                    lm_table_int field);
/** Restrict the table to entry ids [lo, hi) (one shard of a split run).
 * Later lm_latency_table_set_entry() calls outside the range fail.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, lo >= hi, a record already
 *         outside the range) @since 0.1 */
LM_API lm_status lm_latency_table_set_shard(lm_latency_table *t, size_t lo,
                                            size_t hi);
/** 1 and the range when the table is a shard, else 0. @since 0.1 */
LM_API int lm_latency_table_shard(const lm_latency_table *t, size_t *lo,
                                  size_t *hi);

/** Set the latency of a key, replacing any earlier value.
 * @param ms     mean time in milliseconds; finite, >= 0
 * @param stdev  its standard deviation; finite, >= 0
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, st >= end, kernel < -1,
 *         stride < 1 unless the key is unresolved, depthwise not 0/1),
 *         LM_ERR_VALUE (NaN, infinite or negative value; the message names
 *         the key), LM_ERR_NOMEM @since 0.1 */
LM_API lm_status lm_latency_table_set(lm_latency_table *t, size_t st,
                                      size_t end, int64_t kernel,
                                      int64_t stride, int depthwise, double ms,
                                      double stdev);
/** Set the latency of entry `id` of `entries` (its key; the id is kept).
 * @return as lm_latency_table_set(), plus LM_ERR_INVALID_ARG (id out of
 *         range or outside the shard range), LM_ERR_MISMATCH (entries of
 *         another graph); LM_ERR_VALUE names the key and the id @since 0.1 */
LM_API lm_status lm_latency_table_set_entry(lm_latency_table *t,
                                            const lm_entries *entries,
                                            size_t id, double ms,
                                            double stdev);
/** 1 when the key holds a value, else 0. @since 0.1 */
LM_API int lm_latency_table_has(const lm_latency_table *t, size_t st,
                                size_t end, int64_t kernel, int64_t stride,
                                int depthwise);
/** Read the latency of a key; an absent identity key (kernel 0) reads 0.
 * @param[out] ms, stdev  may be NULL
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL table), LM_ERR_NOT_FOUND (the
 *         message names the key) @since 0.1 */
LM_API lm_status lm_latency_table_get(const lm_latency_table *t, size_t st,
                                      size_t end, int64_t kernel,
                                      int64_t stride, int depthwise,
                                      double *ms, double *stdev);
/** Read the latency of entry `id` of `entries`.
 * @return as lm_latency_table_get(), plus LM_ERR_INVALID_ARG (id out of
 *         range); LM_ERR_NOT_FOUND names the id and key @since 0.1 */
LM_API lm_status lm_latency_table_get_entry(const lm_latency_table *t,
                                            const lm_entries *entries,
                                            size_t id, double *ms,
                                            double *stdev);
/** Number of records (0 for NULL). @since 0.1 */
LM_API size_t lm_latency_table_count(const lm_latency_table *t);
/** Describe record `index` (0 .. count-1, in record order).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.1 */
LM_API lm_status lm_latency_table_record(const lm_latency_table *t,
                                         size_t index, lm_table_record *rec);

/** Check that the table belongs to the graph of `entries` and that every
 * key is one of its entries.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_MISMATCH (another
 *         graph: both fingerprints named; or a record whose id is not the
 *         id of its key), LM_ERR_NOT_FOUND (the first key that is no
 *         entry) @since 0.1 */
LM_API lm_status lm_latency_table_check(const lm_latency_table *t,
                                        const lm_entries *entries);
/** Which non-identity entries of `entries` have no latency.
 * @param[out] ids        the first min(cap, n) missing ids, ascending; may
 *                        be NULL when cap is 0
 * @param[out] n_missing  how many are missing in total; may be NULL
 * @return LM_OK (none missing), LM_ERR_MISSING (the message lists the first
 *         ids), LM_ERR_MISMATCH (another graph), LM_ERR_INVALID_ARG
 * @since 0.1 */
LM_API lm_status lm_latency_table_missing(const lm_latency_table *t,
                                          const lm_entries *entries,
                                          size_t *ids, size_t cap,
                                          size_t *n_missing);

/** Load a latency table file (YAML, docs/formats.md).
 * @return LM_OK, LM_ERR_IO, LM_ERR_PARSE (unknown key, wrong type, wrong
 *         format), LM_ERR_UNSUPPORTED (version), LM_ERR_DUPLICATE (a key
 *         twice: both lines named), LM_ERR_VALUE (bad number); every
 *         message names file:line:col. LM_ERR_NOMEM @since 0.1 */
LM_API lm_status lm_latency_table_load(lm_latency_table **out,
                                       const char *path);
/** Save as YAML through a temporary file renamed over `path`: `path` holds
 * either its old content or the whole table, never a part.
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_IO, LM_ERR_NOMEM @since 0.1 */
LM_API lm_status lm_latency_table_save(const lm_latency_table *t,
                                       const char *path);
/** Import one of the authors' CSV files. With `entries` (may be NULL) each
 * row is matched to its entry by key and the table gets the graph's
 * fingerprint; without, the fingerprint is "" and ids are -1.
 * @return LM_OK, LM_ERR_IO, LM_ERR_PARSE (missing column, bad cell:
 *         file:line), LM_ERR_NOT_FOUND (a row whose key is no entry:
 *         file:line), LM_ERR_DUPLICATE (a key twice: both lines),
 *         LM_ERR_VALUE, LM_ERR_INVALID_ARG (unknown format), LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_latency_table_import_csv(lm_latency_table **out,
                                             const char *path,
                                             lm_table_csv_format format,
                                             const lm_entries *entries);
/** Export as one of the authors' CSV layouts (written atomically). The id
 * column is the entry id when known, else the row number; kim23 layouts
 * number rows 0.. and need no kernel.
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_UNSUPPORTED (an unresolved key
 *         in the LayerMerge layout), LM_ERR_IO, LM_ERR_NOMEM @since 0.1 */
LM_API lm_status lm_latency_table_export_csv(const lm_latency_table *t,
                                             const char *path,
                                             lm_table_csv_format format);
/** Combine shards written by separate workers into one table in entry-id
 * order. Every shard must belong to the graph of `entries` and have the
 * same provenance (shard ranges aside); a record outside its shard's range
 * is LM_ERR_MISMATCH. A key found in two shards with bit-identical values
 * is kept once; with different values it is LM_ERR_CONFLICT naming the id,
 * both values and both shard indices. Entries that no shard covers are
 * LM_ERR_MISSING listing the first ids, unless `flags` holds
 * LM_TABLE_MERGE_ALLOW_MISSING.
 * @param[out] out  the merged table (NULL on failure), owned by the caller
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, n = 0), LM_ERR_MISMATCH,
 *         LM_ERR_NOT_FOUND, LM_ERR_CONFLICT, LM_ERR_MISSING, LM_ERR_NOMEM;
 *         messages name the shard index @since 0.1 */
LM_API lm_status lm_latency_table_merge(lm_latency_table **out,
                                        const lm_entries *entries,
                                        const lm_latency_table *const *shards,
                                        size_t n, uint32_t flags);

/* ---- importance ------------------------------------------------------- */

/** Normalise a raw metric (SPEC 5): accuracy -> exp(acc/100), loss ratio
 * -> exp(-ratio), normalised -> unchanged.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out, unknown metric),
 *         LM_ERR_VALUE (raw or result NaN or infinite) @since 0.1 */
LM_API lm_status lm_importance_normalise(lm_importance_metric metric,
                                         double raw, double *out);
/** "accuracy", "loss_ratio", "normalised"; "unknown" otherwise.
 * @since 0.1 */
LM_API const char *lm_importance_metric_name(lm_importance_metric metric);
/** Parse a metric name. @return LM_OK, LM_ERR_INVALID_ARG @since 0.1 */
LM_API lm_status lm_importance_metric_from_name(lm_importance_metric *out,
                                                const char *name);

/** Create an empty importance table for the graph with this fingerprint.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown metric), LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_importance_table_create(lm_importance_table **out,
                                            const char *fingerprint,
                                            lm_importance_metric metric);
/** Create an empty importance table for the graph of `entries`.
 * @return as lm_importance_table_create() @since 0.1 */
LM_API lm_status lm_importance_table_create_for(lm_importance_table **out,
                                                const lm_entries *entries,
                                                lm_importance_metric metric);
/** Free a table; NULL is ignored. @since 0.1 */
LM_API void lm_importance_table_destroy(lm_importance_table *table);
/** The metric of the raw values (0 for NULL). @since 0.1 */
LM_API lm_importance_metric
lm_importance_table_metric(const lm_importance_table *t);
/** As the lm_latency_table_ functions of the same name. @since 0.1 */
LM_API const char *
lm_importance_table_fingerprint(const lm_importance_table *t);
/** As lm_latency_table_set_text(). @since 0.1 */
LM_API lm_status lm_importance_table_set_text(lm_importance_table *t,
                                              lm_table_text field,
                                              const char *value);
/** As lm_latency_table_text(). @since 0.1 */
LM_API const char *lm_importance_table_text(const lm_importance_table *t,
                                            lm_table_text field);
/** As lm_latency_table_set_int(). @since 0.1 */
LM_API lm_status lm_importance_table_set_int(lm_importance_table *t,
                                             lm_table_int field,
                                             int64_t value);
/** As lm_latency_table_int(). @since 0.1 */
LM_API int64_t lm_importance_table_int(const lm_importance_table *t,
                                       lm_table_int field);
/** As lm_latency_table_set_shard(). @since 0.1 */
LM_API lm_status lm_importance_table_set_shard(lm_importance_table *t,
                                               size_t lo, size_t hi);
/** As lm_latency_table_shard(). @since 0.1 */
LM_API int lm_importance_table_shard(const lm_importance_table *t,
                                     size_t *lo, size_t *hi);

/** Set the raw metric of a key; the normalised value follows from the
 * table's metric.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, bad key), LM_ERR_STATE (the
 *         metric is LM_METRIC_NORMALISED: use ..._set_normalised),
 *         LM_ERR_VALUE (raw or normalised NaN or infinite; names the key),
 *         LM_ERR_NOMEM @since 0.1 */
LM_API lm_status lm_importance_table_set(lm_importance_table *t, size_t st,
                                         size_t end, int64_t kernel,
                                         int64_t stride, int depthwise,
                                         double raw);
/** Set both the raw metric and the caller's normalised value of a key.
 * @return as lm_importance_table_set() without LM_ERR_STATE @since 0.1 */
LM_API lm_status lm_importance_table_set_normalised(
    lm_importance_table *t, size_t st, size_t end, int64_t kernel,
    int64_t stride, int depthwise, double raw, double normalised);
/** Set the raw metric of entry `id` of `entries`.
 * @return as lm_importance_table_set(), plus LM_ERR_INVALID_ARG (id out of
 *         range or outside the shard range), LM_ERR_MISMATCH (entries of
 *         another graph) @since 0.1 */
LM_API lm_status lm_importance_table_set_entry(lm_importance_table *t,
                                               const lm_entries *entries,
                                               size_t id, double raw);
/** Set raw and normalised values of entry `id` of `entries`.
 * @return as lm_importance_table_set_entry() without LM_ERR_STATE
 * @since 0.1 */
LM_API lm_status lm_importance_table_set_entry_normalised(
    lm_importance_table *t, const lm_entries *entries, size_t id, double raw,
    double normalised);
/** 1 when the key holds a value, else 0. @since 0.1 */
LM_API int lm_importance_table_has(const lm_importance_table *t, size_t st,
                                   size_t end, int64_t kernel, int64_t stride,
                                   int depthwise);
/** Read the importance of a key.
 * @param[out] value  normalised importance; may be NULL
 * @param[out] raw    raw metric; may be NULL
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_NOT_FOUND (names the key)
 * @since 0.1 */
LM_API lm_status lm_importance_table_get(const lm_importance_table *t,
                                         size_t st, size_t end, int64_t kernel,
                                         int64_t stride, int depthwise,
                                         double *value, double *raw);
/** Read the importance of entry `id` of `entries`.
 * @return as lm_importance_table_get(), plus LM_ERR_INVALID_ARG (id out of
 *         range) @since 0.1 */
LM_API lm_status lm_importance_table_get_entry(const lm_importance_table *t,
                                               const lm_entries *entries,
                                               size_t id, double *value,
                                               double *raw);
/** Number of records (0 for NULL). @since 0.1 */
LM_API size_t lm_importance_table_count(const lm_importance_table *t);
/** As lm_latency_table_record(); value is normalised, extra is raw.
 * @since 0.1 */
LM_API lm_status lm_importance_table_record(const lm_importance_table *t,
                                            size_t index,
                                            lm_table_record *rec);
/** As lm_latency_table_check(). @since 0.1 */
LM_API lm_status lm_importance_table_check(const lm_importance_table *t,
                                           const lm_entries *entries);
/** Which entries of `entries` (identity entries included) have no
 * importance; as lm_latency_table_missing(). @since 0.1 */
LM_API lm_status lm_importance_table_missing(const lm_importance_table *t,
                                             const lm_entries *entries,
                                             size_t *ids, size_t cap,
                                             size_t *n_missing);
/** As lm_latency_table_load(). @since 0.1 */
LM_API lm_status lm_importance_table_load(lm_importance_table **out,
                                          const char *path);
/** As lm_latency_table_save(). @since 0.1 */
LM_API lm_status lm_importance_table_save(const lm_importance_table *t,
                                          const char *path);
/** Import the authors' LayerMerge importance CSV. The `importance` column
 * holds the raw `metric` (for LM_METRIC_NORMALISED: the normalised value,
 * kept as raw too); conv_comb is kept as the record's note.
 * @return as lm_latency_table_import_csv() @since 0.1 */
LM_API lm_status lm_importance_table_import_csv(lm_importance_table **out,
                                                const char *path,
                                                lm_importance_metric metric,
                                                const lm_entries *entries);
/** Export in the LayerMerge importance layout; the `importance` column
 * holds the raw metric, so importing with the same metric gives the same
 * table. @return as lm_latency_table_export_csv() @since 0.1 */
LM_API lm_status lm_importance_table_export_csv(const lm_importance_table *t,
                                                const char *path);
/** As lm_latency_table_merge(); shards must also share the metric.
 * @since 0.1 */
LM_API lm_status lm_importance_table_merge(
    lm_importance_table **out, const lm_entries *entries,
    const lm_importance_table *const *shards, size_t n, uint32_t flags);

/** Read which kind of table a YAML file holds (its `format` key).
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_IO, LM_ERR_PARSE (not a table
 *         file: file:line:col) @since 0.1 */
LM_API lm_status lm_table_probe(const char *path, lm_table_kind *kind);

LM_END_DECLS

#endif /* LAYERMERGE_TABLES_H */
