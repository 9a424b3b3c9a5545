/* --json: one JSON document on standard output per command, built from the
 * public accessors with the same fields as the command's YAML file or
 * summary, numbers at full precision (jansson writes the shortest text
 * that reads back to the same double). */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static json_t *size_array(const size_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

json_t *lm_tool_json_number(double v)
{
    return v == v && v - v == 0.0 ? json_real(v) : json_null();
}

#define number lm_tool_json_number

json_t *lm_tool_json_entries(const lm_entries *e)
{
    json_t *segs = json_array(), *ents = json_array();
    for (size_t s = 0; s < lm_entries_segment_count(e); s++) {
        lm_segment_info si = {.size = sizeof si};
        if (lm_entries_segment_info(&si, e, s) != LM_OK)
            continue;
        json_array_append_new(segs, json_pack("{s:I,s:I,s:I,s:I}",
            "st", (json_int_t)si.st, "end", (json_int_t)si.end,
            "first_entry", (json_int_t)si.first_entry,
            "entries", (json_int_t)si.n_entries));
    }
    for (size_t id = 0; id < lm_entries_count(e); id++) {
        lm_entry_info ei = {.size = sizeof ei};
        if (lm_entries_entry_info(&ei, e, id) != LM_OK)
            continue;
        json_array_append_new(ents, json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:o}",
            "id", (json_int_t)ei.id, "st", (json_int_t)ei.st,
            "end", (json_int_t)ei.end, "kernel", (json_int_t)ei.kernel,
            "stride", (json_int_t)ei.stride,
            "padding", (json_int_t)ei.padding, "depthwise", (int)ei.depthwise,
            "identity", (int)ei.identity,
            "in_channels", (json_int_t)ei.in_channels,
            "out_channels", (json_int_t)ei.out_channels,
            "in_height", (json_int_t)ei.in_height,
            "in_width", (json_int_t)ei.in_width,
            "convs", size_array(ei.kept, ei.n_kept)));
    }
    return json_pack("{s:s,s:i,s:s,s:s,s:I,s:o,s:o}", "format",
                     "layermerge-entries", "version", 1, "graph",
                     str(lm_entries_graph_name(e)), "fingerprint",
                     str(lm_entries_fingerprint(e)), "convs",
                     (json_int_t)lm_entries_conv_count(e), "segments", segs,
                     "entries", ents);
}

static json_t *result_segments(const lm_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment s = {.size = sizeof s};
        if (lm_result_segment_info(&s, r, i) != LM_OK)
            continue;
        /* The YAML file's keys (ker, str, is_dw), and identity. */
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:i,s:b,s:o,s:o,s:o}",
            "st", (json_int_t)s.st, "end", (json_int_t)s.end,
            "ker", (json_int_t)s.kernel, "str", (json_int_t)s.stride,
            "is_dw", (int)s.depthwise, "identity", (int)s.identity,
            "latency", number(s.latency), "importance", number(s.importance),
            "convs", size_array(s.kept, s.n_kept));
        json_object_set_new(o, "entry", s.entry == SIZE_MAX
                                            ? json_null()
                                            : json_integer((json_int_t)s.entry));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *lm_tool_json_result(const lm_result *r)
{
    size_t n = lm_result_conv_count(r);
    json_t *acts = json_array(), *kept = json_array(), *pruned = json_array();
    json_t *merges = json_array();
    for (size_t p = 1; p <= n; p++) {
        lm_result_position pi = {.size = sizeof pi};
        lm_result_conv ci = {.size = sizeof ci};
        int have = lm_result_position_info(&pi, r, p) == LM_OK;
        if (have && pi.activation_kept)
            json_array_append_new(acts, json_integer((json_int_t)p));
        if (have && pi.is_boundary)
            json_array_append_new(merges, json_integer((json_int_t)p));
        if (lm_result_conv_info(&ci, r, p) == LM_OK)
            json_array_append_new(ci.kept ? kept : pruned,
                                  json_integer((json_int_t)p));
    }
    return json_pack(
        "{s:s,s:i,s:s,s:s,s:I,s:o,s:I,s:o,s:s,s:o,s:o,s:o,s:I,s:o,s:o,s:o,"
        "s:o,s:o}",
        "format", "layermerge-result", "version", 1, "method",
        lm_method_name(lm_result_method(r)), "fingerprint",
        str(lm_result_fingerprint(r)), "conv_count", (json_int_t)n, "budget",
        number(lm_result_budget(r)), "budget_units",
        (json_int_t)lm_result_budget_units(r), "precision",
        number(lm_result_precision(r)), "rounding",
        lm_result_rounding(r) == LM_ROUNDING_FLOOR ? "floor" : "ceil",
        "importance", number(lm_result_importance(r)), "latency",
        number(lm_result_latency(r)), "fixed_latency",
        number(lm_result_fixed_latency(r)), "latency_discrete",
        (json_int_t)lm_result_latency_units(r), "activations", acts, "convs",
        kept, "merges", merges, "pruned", pruned, "segments",
        result_segments(r));
}

json_t *lm_tool_json_front(const lm_front *f)
{
    json_t *pts = json_array();
    for (size_t i = 0; i < lm_front_count(f); i++) {
        const lm_result *r = lm_front_get(f, i);
        size_t pruned = 0;
        for (size_t c = 1; c <= lm_result_conv_count(r); c++) {
            lm_result_conv ci = {.size = sizeof ci};
            pruned += lm_result_conv_info(&ci, r, c) == LM_OK && !ci.kept;
        }
        json_array_append_new(pts, json_pack(
            "{s:I,s:o,s:I,s:o,s:I,s:I,s:o}", "point", (json_int_t)i,
            "latency_ms", number(lm_result_latency(r)), "units",
            (json_int_t)lm_result_latency_units(r), "importance",
            number(lm_result_importance(r)), "segments",
            (json_int_t)lm_result_segment_count(r), "pruned",
            (json_int_t)pruned, "result", lm_tool_json_result(r)));
    }
    return json_pack("{s:s,s:o}", "format", "layermerge-front", "points",
                     pts);
}

static json_t *table_network(const lm_table *t)
{
    lm_table_network net = {.size = sizeof net};
    if (lm_table_network_info(&net, t) != LM_OK)
        return json_null();
    json_t *stages = json_array();
    for (size_t i = 0; i < net.stage_count; i++) {
        lm_table_stage s = {.size = sizeof s};
        if (lm_table_stage_info(&s, t, i) == LM_OK)
            json_array_append_new(stages, json_pack(
                "{s:I,s:I,s:o,s:o,s:o}", "st", (json_int_t)s.st, "end",
                (json_int_t)s.end, "alone_ms", number(s.alone_ms),
                "in_network_ms", number(s.in_network_ms), "ratio",
                number(s.ratio)));
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "fixed_ms", number(net.fixed_ms),
                     "fixed_stdev", number(net.fixed_stdev), "measured_ms",
                     number(net.measured_ms), "stages", stages);
}

json_t *lm_tool_json_table(const char *path, const lm_table *t)
{
    int lat = lm_table_get_kind(t) == LM_TABLE_LATENCY;
    json_t *recs = json_array();
    size_t lo_i = 0, hi_i = 0;
    double lo_v = 0.0, hi_v = 0.0;
    for (size_t i = 0; i < lm_table_count(t); i++) {
        lm_table_record r = {.size = sizeof r};
        if (lm_table_record_info(&r, t, i) != LM_OK)
            continue;
        if (i == 0 || r.value < lo_v)
            lo_v = r.value, lo_i = i;
        if (i == 0 || r.value > hi_v)
            hi_v = r.value, hi_i = i;
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:o}", "id",
                              (json_int_t)r.id, "st", (json_int_t)r.st,
                              "end", (json_int_t)r.end, "kernel",
                              (json_int_t)r.kernel, "stride",
                              (json_int_t)r.stride, "depthwise",
                              (int)r.depthwise, "value", number(r.value),
                              lat ? "stdev" : "raw", number(r.extra));
        if (r.note && *r.note)
            json_object_set_new(o, "note", json_string(r.note));
        if (r.passes) {
            json_object_set_new(o, "passes", json_integer((json_int_t)r.passes));
            json_object_set_new(o, "spread", number(r.spread));
            json_object_set_new(o, "noisy", json_boolean(r.noisy));
        }
        if (r.has_convs)
            json_object_set_new(o, "convs", size_array(r.convs, r.n_convs));
        json_array_append_new(recs, o);
    }
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "file", path, "kind",
        lm_table_kind_name(lm_table_get_kind(t)), "graph",
        str(lm_table_fingerprint(t)), "device", str(lm_table_text(t, LM_TABLE_DEVICE)),
        "timer", str(lm_table_text(t, LM_TABLE_TIMER)), "dtype",
        str(lm_table_text(t, LM_TABLE_DTYPE)), "batch",
        (json_int_t)lm_table_int(t, LM_TABLE_BATCH), "height",
        (json_int_t)lm_table_int(t, LM_TABLE_HEIGHT), "width",
        (json_int_t)lm_table_int(t, LM_TABLE_WIDTH), "repetitions",
        (json_int_t)lm_table_int(t, LM_TABLE_REPETITIONS), "records_count",
        (json_int_t)lm_table_count(t));
    if (!lat) {
        json_object_set_new(j, "metric", json_string(lm_importance_metric_name(
                                             lm_table_metric(t))));
        json_object_set_new(j, "finetune",
                            json_string(str(lm_table_text(t, LM_TABLE_FINETUNE))));
    } else {
        json_object_set_new(j, "threads", json_integer((json_int_t)lm_table_int(
                                              t, LM_TABLE_THREADS)));
        json_object_set_new(j, "passes", json_integer((json_int_t)lm_table_int(
                                             t, LM_TABLE_PASSES)));
        json_object_set_new(j, "network", table_network(t));
    }
    size_t lo, hi;
    if (lm_table_shard(&lo, &hi, t))
        json_object_set_new(j, "shard", json_pack("[I,I]", (json_int_t)lo,
                                                  (json_int_t)hi));
    if (lm_table_count(t)) {
        json_object_set_new(j, "min", json_pack("{s:o,s:I}", "value",
                                                number(lo_v), "record",
                                                (json_int_t)lo_i));
        json_object_set_new(j, "max", json_pack("{s:o,s:I}", "value",
                                                number(hi_v), "record",
                                                (json_int_t)hi_i));
    }
    json_object_set_new(j, "records", recs);
    return j;
}

json_t *lm_tool_json_graph(const char *path, const lm_graph *g)
{
    lm_shape in = {.size = sizeof in}, out = {.size = sizeof out};
    lm_graph_input_shape(&in, g);
    lm_graph_output_shape(&out, g);
    size_t n = lm_graph_conv_count(g), dw = 0, idpos = 0, proj = 0;
    json_t *barriers = json_array(), *options = json_array();
    for (size_t c = 1; c <= n; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        dw += lm_graph_conv_info(&ci, g, c) == LM_OK && ci.groups > 1;
    }
    for (size_t p = 0; p <= n; p++) {
        lm_position_info pi = {.size = sizeof pi};
        if (lm_graph_position_info(&pi, g, p) != LM_OK)
            continue;
        idpos += p > 0 && pi.activation == LM_ACT_IDENTITY;
        if (pi.is_barrier)
            json_array_append_new(barriers, json_integer((json_int_t)p));
        if (pi.identity_option)
            json_array_append_new(options, json_integer((json_int_t)p));
    }
    size_t concats = 0;
    for (size_t s = 0; s < lm_graph_skip_count(g); s++) {
        lm_skip_info si = {.size = sizeof si};
        int ok = lm_graph_skip_info(&si, g, s) == LM_OK;
        proj += ok && si.has_projection;
        concats += ok && si.is_concat;
    }
    lm_time_embedding_info te = {.size = sizeof te};
    if (lm_graph_time_embedding(&te, g) != LM_OK)
        te.has_time_embedding = 0;
    /* A denoiser's timestep input: its sinusoid and channels, else null. */
    json_t *temb = te.has_time_embedding
                       ? json_pack("{s:I,s:I}", "dim", (json_int_t)te.dim,
                                   "channels", (json_int_t)te.channels)
                       : json_null();
    return json_pack(
        "{s:s,s:b,s:s,s:[I,I,I],s:[I,I,I],s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:o,"
        "s:o,s:o,s:I,s:I,s:s}",
        "file", path, "valid", 1, "name", str(lm_graph_name(g)), "input",
        (json_int_t)in.channels, (json_int_t)in.height, (json_int_t)in.width,
        "output", (json_int_t)out.channels, (json_int_t)out.height,
        (json_int_t)out.width, "trunk_convs", (json_int_t)n, "depthwise",
        (json_int_t)dw, "identity_positions", (json_int_t)idpos,
        "nonlinearity", lm_act_name(lm_graph_nonlinearity(g)), "skips",
        (json_int_t)lm_graph_skip_count(g), "projections", (json_int_t)proj,
        "concatenations", (json_int_t)concats, "time_embedding", temb,
        "barriers", barriers, "identity_options", options, "stem_layers",
        (json_int_t)lm_graph_layer_count(g, LM_SITE_STEM, 0), "head_layers",
        (json_int_t)lm_graph_layer_count(g, LM_SITE_HEAD, 0), "fingerprint",
        str(lm_graph_fingerprint(g)));
}

int lm_tool_json_print(json_t *doc)
{
    if (!doc) {
        fprintf(stderr, "layermerge: out of memory building the JSON "
                        "document\n");
        return 1;
    }
    int bad = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) != 0;
    json_decref(doc);
    bad |= fputc('\n', stdout) == EOF || fflush(stdout) != 0;
    if (bad)
        fprintf(stderr, "layermerge: writing JSON to standard output "
                        "failed\n");
    return bad;
}
