/* liblayermerge — latency and importance tables (docs/method.md section 5).
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
 * One handle type serves both kinds; the calls that read or write values
 * say which kind they take (lm_table_set_latency on an importance table is
 * LM_ERR_INVALID_ARG). In records and lm_table_get, `value` is the latency
 * in ms or the normalised importance, `extra` the latency's standard
 * deviation or the raw importance metric.
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
 * 0 ms for an identity key it does not hold, and lm_table_missing() never
 * lists them for a latency table. Their importance must be measured like any other.
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
 *
 * Threads: calls that only read a table (const lm_table *) may run
 * concurrently on one table; a call that changes it needs exclusive access.
 */
#ifndef LAYERMERGE_TABLES_H
#define LAYERMERGE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/entries.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque table: a latency table or an importance table (its kind, fixed
 * at creation). @since 0.2 */
typedef struct lm_table lm_table;

/** What a table holds. @since 0.2 */
typedef enum lm_table_kind {
    LM_TABLE_LATENCY = 1,
    LM_TABLE_IMPORTANCE = 2
} lm_table_kind;

/** What the raw importance metric is, which fixes its normalisation.
 * @since 0.2 */
typedef enum lm_importance_metric {
    /** Top-1 accuracy in percent: I = exp(acc / 100). */
    LM_METRIC_ACCURACY = 1,
    /** Loss of the changed network over the original's: I = exp(-ratio). */
    LM_METRIC_LOSS_RATIO = 2,
    /** The caller normalises; the raw value is kept as given. */
    LM_METRIC_NORMALISED = 3
} lm_importance_metric;

/** Text fields of the provenance; each defaults to "". @since 0.2 */
typedef enum lm_table_text_field {
    LM_TABLE_DEVICE = 1,   /**< e.g. "RTX 2080 Ti" or "x86-64 1 thread" */
    LM_TABLE_TIMER = 2,    /**< e.g. "cuda events", "clock_gettime" */
    LM_TABLE_DTYPE = 3,    /**< e.g. "float32" */
    LM_TABLE_FINETUNE = 4  /**< importance: how each entry was fine-tuned */
} lm_table_text_field;

/** Integer fields of the provenance; each defaults to 0 (unknown).
 * @since 0.2 */
typedef enum lm_table_int_field {
    LM_TABLE_BATCH = 1,
    LM_TABLE_HEIGHT = 2,      /**< input height of the network */
    LM_TABLE_WIDTH = 3,       /**< input width of the network */
    LM_TABLE_REPETITIONS = 4, /**< timed repetitions per entry and pass */
    /** OpenBLAS threads the measurement ran with (latency tables). */
    LM_TABLE_THREADS = 5,
    /** Passes over the entries, each in its own shuffled order (latency
     * tables measured by lm_table_measure_latency). */
    LM_TABLE_PASSES = 6
} lm_table_int_field;

/** The authors' CSV layouts (docs/method.md section 5). @since 0.2 */
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

/** Flags of lm_table_merge().
 * @since 0.2 */
enum {
    /** Write the merged table even when entries lack a value (the missing
     * ids are still checked for conflicts, just not required). */
    LM_TABLE_MERGE_ALLOW_MISSING = 1u
};


/* ---- life cycle and provenance --------------------------------------- */

/** Create an empty latency table for the graph with this fingerprint.
 * @param[out] out     the new table, owned by the caller (lm_table_destroy)
 * @param fingerprint  lm_graph_fingerprint() of the graph; copied
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_table_create_latency(lm_table **out,
                                         const char *fingerprint);
/** Create an empty latency table for the graph of `entries`.
 * @return as lm_table_create_latency() @since 0.2 */
LM_API lm_status lm_table_create_latency_for(lm_table **out,
                                             const lm_entries *entries);
/** Create an empty importance table whose raw values are `metric` (which
 * fixes their normalisation) for the graph with this fingerprint.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, unknown metric),
 *         LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_table_create_importance(lm_table **out,
                                            const char *fingerprint,
                                            lm_importance_metric metric);
/** Create an empty importance table for the graph of `entries`.
 * @return as lm_table_create_importance() @since 0.2 */
LM_API lm_status lm_table_create_importance_for(lm_table **out,
                                                const lm_entries *entries,
                                                lm_importance_metric metric);
/** Free a table; NULL is ignored. @since 0.2 */
LM_API void lm_table_destroy(lm_table *table);

/** The table's kind; 0 for NULL. (The noun is a type name, hence `get_`.)
 * @since 0.2 */
LM_API lm_table_kind lm_table_get_kind(const lm_table *table);
/** The graph fingerprint; borrowed for the table's lifetime; "" for NULL.
 * @since 0.2 */
LM_API const char *lm_table_fingerprint(const lm_table *table);

/** The metric of an importance table; 0 for NULL or a latency table.
 * @since 0.2 */
LM_API lm_importance_metric lm_table_metric(const lm_table *table);

/** Set a provenance text field (copied).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown field), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_table_set_text(lm_table *table, lm_table_text_field field,
                                   const char *value);
/** A provenance text field; borrowed until it is set again; "" when unset
 * or unknown. @since 0.2 */
LM_API const char *lm_table_text(const lm_table *table,
                                 lm_table_text_field field);
/** Set a provenance integer field.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown field), LM_ERR_VALUE
 *         (negative value) @since 0.2 */
LM_API lm_status lm_table_set_int(lm_table *table, lm_table_int_field field,
                                  int64_t value);
/** A provenance integer field; 0 when unset or unknown. @since 0.2 */
LM_API int64_t lm_table_int(const lm_table *table, lm_table_int_field field);

/** Restrict the table to entry ids [lo, hi) (one shard of a split run).
 * Later *_entry setters outside the range fail.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, lo >= hi, a record already
 *         outside the range) @since 0.2 */
LM_API lm_status lm_table_set_shard(lm_table *table, size_t lo, size_t hi);
/** 1 and the range in *lo, *hi when the table is a shard, else 0.
 * @param[out] lo, hi  may be NULL @since 0.2 */
LM_API int lm_table_shard(size_t *lo, size_t *hi, const lm_table *table);

/* ---- values ------------------------------------------------------------ */

/** Set the latency of a key in a latency table, replacing any earlier
 * value.
 * @param ms     mean time in milliseconds; finite, >= 0
 * @param stdev  its standard deviation; finite, >= 0
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, an importance table, st >= end,
 *         kernel < -1, stride < 1 unless the key is unresolved, depthwise
 *         not 0/1, key size too small), LM_ERR_VALUE (NaN, infinite or
 *         negative value; the message names the key), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_table_set_latency(lm_table *table, const lm_entry_key *key,
                                      double ms, double stdev);
/** Set the latency of entry `id` of `entries` (its key; the id is kept).
 * @return as lm_table_set_latency(), plus LM_ERR_INVALID_ARG (id out of
 *         range or outside the shard range), LM_ERR_MISMATCH (entries of
 *         another graph); LM_ERR_VALUE names the key and the id
 * @since 0.2 */
LM_API lm_status lm_table_set_latency_entry(lm_table *table,
                                            const lm_entries *entries,
                                            size_t id, double ms,
                                            double stdev);
/** Set the raw metric of a key in an importance table; the normalised
 * value follows from the table's metric.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, a latency table, bad key),
 *         LM_ERR_STATE (the metric is LM_METRIC_NORMALISED: use
 *         lm_table_set_importance_normalised), LM_ERR_VALUE (raw or
 *         normalised NaN or infinite; names the key), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_table_set_importance(lm_table *table,
                                         const lm_entry_key *key, double raw);
/** Set the raw metric of entry `id` of `entries`.
 * @return as lm_table_set_importance(), plus LM_ERR_INVALID_ARG (id out of
 *         range or outside the shard range), LM_ERR_MISMATCH (entries of
 *         another graph) @since 0.2 */
LM_API lm_status lm_table_set_importance_entry(lm_table *table,
                                               const lm_entries *entries,
                                               size_t id, double raw);
/** Set both the raw metric and the caller's normalised value of a key.
 * @return as lm_table_set_importance() without LM_ERR_STATE @since 0.2 */
LM_API lm_status lm_table_set_importance_normalised(lm_table *table,
                                                    const lm_entry_key *key,
                                                    double raw,
                                                    double normalised);
/** Set raw and normalised values of entry `id` of `entries`.
 * @return as lm_table_set_importance_entry() without LM_ERR_STATE
 * @since 0.2 */
LM_API lm_status lm_table_set_importance_entry_normalised(
    lm_table *table, const lm_entries *entries, size_t id, double raw,
    double normalised);

/** 1 when the key holds a value, else 0 (also for NULL). @since 0.2 */
LM_API int lm_table_has(const lm_table *table, const lm_entry_key *key);
/** Read the value of a key; in a latency table an absent identity key
 * (kernel 0) reads 0.
 * @param[out] value  latency in ms, or normalised importance; may be NULL
 * @param[out] extra  latency stdev, or raw metric; may be NULL
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL table or key), LM_ERR_NOT_FOUND
 *         (the message names the key) @since 0.2 */
LM_API lm_status lm_table_get(double *value, double *extra,
                              const lm_table *table, const lm_entry_key *key);
/** Read the value of entry `id` of `entries`.
 * @return as lm_table_get(), plus LM_ERR_INVALID_ARG (id out of range);
 *         LM_ERR_NOT_FOUND names the id and key @since 0.2 */
LM_API lm_status lm_table_get_entry(double *value, double *extra,
                                    const lm_table *table,
                                    const lm_entries *entries, size_t id);

/** Size-versioned view of one record. Set `size = sizeof(lm_table_record)`
 * before the call; the library writes only within `size`. @since 0.2 */
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
    /** Latency measured in passes (lm_table_measure_latency): how many
     * passes timed the entry (0 for a value set directly), the spread of
     * their medians, (max - min) / value leaving out the slowest pass from
     * three passes on, and 1 when that spread stayed above the
     * measurement's noise limit after re-measuring. */
    size_t passes;
    double spread;
    int32_t noisy;
    /** The kept-conv subset the record was measured with (1-based conv
     * indices, ascending; borrowed from the table), when recorded: set
     * through an lm_entries, loaded with `convs:`, or imported from the
     * authors' `conv_comb` column. has_convs 0: not recorded. */
    int32_t has_convs;
    size_t n_convs;
    const size_t *convs;
} lm_table_record;

/** Number of records (0 for NULL). @since 0.2 */
LM_API size_t lm_table_count(const lm_table *table);
/** Describe record `index` (0 .. count-1, in record order).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_table_record_info(lm_table_record *record,
                                      const lm_table *table, size_t index);

/** Check that the table belongs to the graph of `entries` and that every
 * key is one of its entries.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_MISMATCH (another
 *         graph: both fingerprints named; or a record whose id is not the
 *         id of its key), LM_ERR_NOT_FOUND (the first key that is no
 *         entry) @since 0.2 */
LM_API lm_status lm_table_check(const lm_table *table,
                                const lm_entries *entries);
/** Which entries of `entries` have no value: every entry for an
 * importance table, the non-identity entries for a latency table.
 * @param[out] n_missing  how many are missing in total; may be NULL
 * @param[out] ids        the first min(cap, n) missing ids, ascending; may
 *                        be NULL when cap is 0
 * @return LM_OK (none missing), LM_ERR_MISSING (the message lists the first
 *         ids), LM_ERR_MISMATCH (another graph), LM_ERR_INVALID_ARG
 * @since 0.2 */
LM_API lm_status lm_table_missing(size_t *n_missing, size_t *ids, size_t cap,
                                  const lm_table *table,
                                  const lm_entries *entries);

/** The entries of `graph` whose representative subsets are the ones
 * `table` was measured with: every record with a recorded subset
 * (lm_table_record.convs) gives its entry that subset; the others follow
 * lm_entries_create()'s rule. This is how solve, plan and merge build the
 * network whose importance was measured (docs/method.md section 4).
 * (Declared here rather than in entries.h because it reads a table.)
 * @param[out] out  owned by the caller (lm_entries_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_STATE (graph not
 *         validated), LM_ERR_MISMATCH (a table of another graph; a
 *         recorded subset that is no option of its entry's key, naming the
 *         record and why), LM_ERR_NOT_FOUND (a record whose key is no
 *         entry), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_entries_create_from_table(lm_entries **out,
                                              const lm_graph *graph,
                                              const lm_table *table);

/* ---- the whole network ------------------------------------------------ */

/** What a latency table knows of the network beyond its entries. The
 * predicted latency of a network is fixed_ms + the sum of its entries
 * (docs/measure.md, "The whole-network model"). Set
 * `size = sizeof(lm_table_network)` before the call. @since 0.2 */
typedef struct lm_table_network {
    size_t size;
    /** Time of everything outside the trunk entries: stem, head, skip
     * projections and additions, the fixed layers at positions (VGG's
     * pools), measured inside the running network; 0 when unknown. */
    double fixed_ms;
    double fixed_stdev;
    /** The original network timed whole, at the table's shape, batch and
     * threads (0 when unknown). */
    double measured_ms;
    /** Stages (runs between barriers) with an in-network calibration. */
    size_t stage_count;
} lm_table_network;

/** One stage's in-network calibration: the original convs of positions
 * st+1..end timed inside the running network against the sum of their
 * single-conv entries timed alone. @since 0.2 */
typedef struct lm_table_stage {
    size_t size;
    size_t st;
    size_t end;
    double alone_ms;       /**< sum of the stage's original entries */
    double in_network_ms;  /**< the same convs inside the network */
    double ratio;          /**< in_network_ms / alone_ms */
} lm_table_stage;

/** The whole-network figures of a latency table.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, size too small, an importance
 *         table) @since 0.2 */
LM_API lm_status lm_table_network_info(lm_table_network *info,
                                       const lm_table *table);
/** Describe calibrated stage `index`.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_table_stage_info(lm_table_stage *info,
                                     const lm_table *table, size_t index);
/** A copy of a latency table with every entry scaled by its stage's
 * in-network ratio (lm_table_stage.ratio): what its conv costs inside the
 * running network rather than alone. The copy has no stages (it cannot
 * be calibrated twice) and its timer text says "(calibrated in-network)".
 * @param[out] out  the calibrated table, owned by the caller
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, an importance table),
 *         LM_ERR_STATE (the table has no calibration), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_table_create_calibrated(lm_table **out,
                                            const lm_table *table);
/** Set the fixed cost of a latency table measured by the caller's own
 * means (another runtime's timer); lm_table_measure_latency sets it
 * itself with the built-in timer.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, an importance table),
 *         LM_ERR_VALUE (NaN, infinite or negative) @since 0.2 */
LM_API lm_status lm_table_set_fixed_cost(lm_table *table, double ms,
                                         double stdev);
/** Set the in-network calibration of one stage of a latency table measured
 * by the caller's own means (lm_table_measure_latency sets them itself with
 * the built-in timer): `stage` (an input record here; its `ratio` is not
 * read) gives the stage's positions st < end, the sum of its original
 * entries timed alone and the same convs' time inside the running network.
 * A stage with the same st and end is replaced; others are kept.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, an importance table, a short
 *         record, st >= end), LM_ERR_VALUE (a time not finite, alone_ms <=
 *         0 or in_network_ms < 0), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_table_set_stage(lm_table *table,
                                    const lm_table_stage *stage);

/* ---- files ------------------------------------------------------------- */

/** Load a table file (YAML, docs/formats.md) of either kind; its `format`
 * key says which (lm_table_get_kind).
 * @return LM_OK, LM_ERR_IO, LM_ERR_PARSE (not a table file, unknown key,
 *         wrong type), LM_ERR_UNSUPPORTED (version), LM_ERR_DUPLICATE (a
 *         key twice: both lines named), LM_ERR_VALUE (bad number); every
 *         message names file:line:col. LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_table_load(lm_table **out, const char *path);
/** Load a table file that must hold `kind`.
 * @return as lm_table_load(), plus LM_ERR_INVALID_ARG (unknown kind);
 *         a file of the other kind is LM_ERR_PARSE naming both formats
 * @since 0.2 */
LM_API lm_status lm_table_load_kind(lm_table **out, const char *path,
                                    lm_table_kind kind);
/** Save as YAML through a temporary file renamed over `path`: `path` holds
 * either its old content or the whole table, never a part.
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_IO, LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_table_save(const lm_table *table, const char *path);

/** Import one of the authors' CSV files as a table of `kind`. With
 * `entries` (may be NULL) each row is matched to its entry by key and the
 * table gets the graph's fingerprint; without, the fingerprint is "" and
 * ids are -1. For an importance table (LM_TABLE_CSV_LAYERMERGE only) the
 * `importance` column holds the raw `metric` (for LM_METRIC_NORMALISED the
 * normalised value, kept as raw too) and conv_comb is kept as the record's
 * note; `metric` is ignored for a latency table.
 * @return LM_OK, LM_ERR_IO, LM_ERR_PARSE (missing column, bad cell:
 *         file:line), LM_ERR_NOT_FOUND (a row whose key is no entry:
 *         file:line), LM_ERR_DUPLICATE (a key twice: both lines),
 *         LM_ERR_VALUE, LM_ERR_INVALID_ARG (unknown kind, format or
 *         metric; a kim23 layout for an importance table), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_table_import_csv(lm_table **out, lm_table_kind kind,
                                     const char *path,
                                     lm_table_csv_format format,
                                     lm_importance_metric metric,
                                     const lm_entries *entries);
/** Export as one of the authors' CSV layouts (written atomically). The id
 * column is the entry id when known, else the row number; kim23 layouts
 * number rows 0.. and need no kernel. An importance table is exported in
 * the LayerMerge layout with the raw metric in the `importance` column, so
 * importing it with the same metric gives the same table.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, a kim23 layout for an
 *         importance table), LM_ERR_UNSUPPORTED (an unresolved key in the
 *         LayerMerge layout), LM_ERR_IO, LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_table_export_csv(const lm_table *table, const char *path,
                                     lm_table_csv_format format);
/** Combine shards written by separate workers into one table in entry-id
 * order. Every shard must be of one kind, belong to the graph of `entries`
 * and have the same provenance and metric (shard ranges aside); a record
 * outside its shard's range is LM_ERR_MISMATCH. A key found in two shards
 * with bit-identical values is kept once; with different values it is
 * LM_ERR_CONFLICT naming the id, both values and both shard indices.
 * Entries that no shard covers are LM_ERR_MISSING listing the first ids,
 * unless `flags` holds LM_TABLE_MERGE_ALLOW_MISSING.
 * @param[out] out  the merged table (NULL on failure), owned by the caller
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, n = 0), LM_ERR_MISMATCH,
 *         LM_ERR_NOT_FOUND, LM_ERR_CONFLICT, LM_ERR_MISSING, LM_ERR_NOMEM;
 *         messages name the shard index @since 0.2 */
LM_API lm_status lm_table_merge(lm_table **out, const lm_entries *entries,
                                const lm_table *const *shards, size_t n,
                                uint32_t flags);

/* ---- importance metrics ------------------------------------------------ */

/** Normalise a raw metric (docs/method.md section 5): accuracy ->
 * exp(acc/100), loss ratio -> exp(-ratio), normalised -> unchanged.
 * @param[out] normalised  the normalised importance
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out, unknown metric),
 *         LM_ERR_VALUE (raw or result NaN or infinite) @since 0.2 */
LM_API lm_status lm_importance_metric_normalise(double *normalised,
                                                lm_importance_metric metric,
                                                double raw);
/** "accuracy", "loss_ratio", "normalised"; "unknown" otherwise.
 * @since 0.2 */
LM_API const char *lm_importance_metric_name(lm_importance_metric metric);
/** Parse a metric name. @return LM_OK, LM_ERR_INVALID_ARG @since 0.2 */
LM_API lm_status lm_importance_metric_from_name(lm_importance_metric *out,
                                                const char *name);

/** Name of a table kind ("latency", "importance"); NULL for an unknown
 * value. @since 0.2 */
LM_API const char *lm_table_kind_name(lm_table_kind kind);

LM_END_DECLS

#endif /* LAYERMERGE_TABLES_H */
