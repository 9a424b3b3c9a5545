/* libFuzzer target: any bytes given to the CSV import must give LM_OK or
 * an error status, never a crash, a hang or a leak. The same bytes go
 * through the three imports a user can ask for: a latency table and an
 * importance table in the LayerMerge layout, and a latency table in the
 * kim23 time layout. */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "layermerge/tables.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void import(const char *path, lm_table_kind kind,
                   lm_table_csv_format format, lm_importance_metric metric)
{
    lm_table *t = NULL;
    if (lm_table_import_csv(&t, kind, path, format, metric, NULL) == LM_OK) {
        (void)lm_table_count(t);
        lm_table_destroy(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lm-fuzz-csv-XXXXXX";
    if (lm_fuzz_write(path, data, size) != 0)
        return 0;
    import(path, LM_TABLE_LATENCY, LM_TABLE_CSV_LAYERMERGE, 0);
    import(path, LM_TABLE_IMPORTANCE, LM_TABLE_CSV_LAYERMERGE,
           LM_METRIC_NORMALISED);
    import(path, LM_TABLE_IMPORTANCE, LM_TABLE_CSV_LAYERMERGE,
           LM_METRIC_ACCURACY);
    import(path, LM_TABLE_LATENCY, LM_TABLE_CSV_KIM23_TIME, 0);
    import(path, LM_TABLE_LATENCY, LM_TABLE_CSV_KIM23_OPT_TIME, 0);
    unlink(path);
    return 0;
}
