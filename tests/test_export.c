/* ONNX export (lib/export): the model's structure read back with
 * protobuf-c, the folded weights, the options, and every error path.
 * tests/onnx_crosscheck.py runs exported models in ONNX Runtime. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "layermerge/layermerge.h"
#include "onnx/onnx.pb-c.h"

static lm_graph *graph;
static lm_weights *weights;

static void setup(void)
{
    ck_assert_int_eq(lm_graph_load(&graph,
                                   lm_test_data_path("graph_resnet_mini.yaml")),
                     LM_OK);
    ck_assert_int_eq(lm_weights_create(&weights), LM_OK);
    ck_assert_int_eq(lm_weights_init_random(weights, graph, 7), LM_OK);
}

static void teardown(void)
{
    lm_weights_destroy(weights);
    lm_graph_destroy(graph);
}

static Onnx__ModelProto *export_model(const lm_onnx_options *o)
{
    lm_test_collected bytes = {0};
    lm_status st = lm_graph_write_onnx(graph, weights, o, lm_test_collect,
                                       &bytes);
    ck_assert_msg(st == LM_OK, "%s", lm_last_error());
    Onnx__ModelProto *m = onnx__model_proto__unpack(
        NULL, bytes.len, (const uint8_t *)bytes.data);
    free(bytes.data);
    ck_assert_ptr_nonnull(m);
    return m;
}

static size_t count_ops(const Onnx__ModelProto *m, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < m->graph->n_node; i++)
        n += !strcmp(m->graph->node[i]->op_type, op);
    return n;
}

static const Onnx__TensorProto *initializer(const Onnx__ModelProto *m,
                                            const char *name)
{
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (!strcmp(m->graph->initializer[i]->name, name))
            return m->graph->initializer[i];
    return NULL;
}

static int64_t dim(const Onnx__ValueInfoProto *v, size_t i)
{
    const Onnx__TensorShapeProto *s = v->type->tensor_type->shape;
    ck_assert_uint_gt(s->n_dim, i);
    return s->dim[i]->value_case ==
                   ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
               ? s->dim[i]->dim_value
               : -1;
}

START_TEST(test_structure_folded)
{
    Onnx__ModelProto *m = export_model(NULL);
    ck_assert_int_eq(m->ir_version, 8);
    ck_assert_uint_eq(m->n_opset_import, 1);
    ck_assert_int_eq(m->opset_import[0]->version, 13);
    ck_assert_str_eq(m->producer_name, "liblayermerge");
    /* stem conv, 8 trunk convs, 1 projection; batch norms folded away */
    ck_assert_uint_eq(count_ops(m, "Conv"), 10);
    ck_assert_uint_eq(count_ops(m, "BatchNormalization"), 0);
    ck_assert_uint_eq(count_ops(m, "Add"), 4);
    ck_assert_uint_eq(count_ops(m, "Relu"), 9);
    ck_assert_uint_eq(count_ops(m, "MaxPool"), 1);
    ck_assert_uint_eq(count_ops(m, "GlobalAveragePool"), 1);
    ck_assert_uint_eq(count_ops(m, "Gemm"), 1);
    ck_assert_uint_eq(m->graph->n_input, 1);
    ck_assert_str_eq(m->graph->input[0]->name, "input");
    int64_t want_in[4] = {1, 3, 224, 224};
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(dim(m->graph->input[0], i), want_in[i]);
    ck_assert_str_eq(m->graph->output[0]->name, "output");
    ck_assert_int_eq(dim(m->graph->output[0], 0), 1);
    ck_assert_int_eq(dim(m->graph->output[0], 1), 10);

    /* conv1's weights are lm_bn_fold of conv1 and bn1. */
    const Onnx__TensorProto *w = initializer(m, "conv1.weight");
    const Onnx__TensorProto *b = initializer(m, "conv1.bias");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(w->n_dims, 4);
    ck_assert_int_eq(w->dims[0], 64);
    ck_assert_int_eq(w->dims[1], 3);
    ck_assert_int_eq(w->dims[2], 7);
    size_t per = 3 * 7 * 7, n = 64 * per, len = 0;
    ck_assert_uint_eq(w->raw_data.len, n * sizeof(float));
    const float *cw = NULL, *g = NULL, *be = NULL, *mu = NULL, *var = NULL;
    ck_assert_int_eq(lm_weights_data_f32(&cw, &len, weights, "conv1.weight"),
                     LM_OK);
    ck_assert_int_eq(lm_weights_data_f32(&g, &len, weights, "bn1.weight"),
                     LM_OK);
    ck_assert_int_eq(lm_weights_data_f32(&be, &len, weights, "bn1.bias"),
                     LM_OK);
    ck_assert_int_eq(lm_weights_data_f32(&mu, &len, weights,
                                         "bn1.running_mean"), LM_OK);
    ck_assert_int_eq(lm_weights_data_f32(&var, &len, weights,
                                         "bn1.running_var"), LM_OK);
    float *fw = malloc(n * sizeof *fw), fb[64];
    ck_assert_int_eq(lm_bn_fold(fw, fb, cw, NULL, 64, per,
                                LM_TEST_BN(g, be, mu, var, 1e-5)),
                     LM_OK);
    ck_assert_int_eq(memcmp(fw, w->raw_data.data, n * sizeof *fw), 0);
    ck_assert_int_eq(memcmp(fb, b->raw_data.data, sizeof fb), 0);
    free(fw);
    /* layer2.0.bn1 has its own eps (0.001): the bias is folded with it,
     * and differs from a fold with PyTorch's default 1e-5. */
    const Onnx__TensorProto *b2 = initializer(m, "layer2.0.conv1.bias");
    ck_assert_ptr_nonnull(b2);
    per = 64 * 3 * 3;
    const float *w2 = NULL;
    ck_assert_int_eq(lm_weights_data_f32(&w2, &len, weights,
                                         "layer2.0.conv1.weight"), LM_OK);
    const char *part[4] = {"weight", "bias", "running_mean", "running_var"};
    const float *p2[4];
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "layer2.0.bn1.%s", part[i]);
        ck_assert_int_eq(lm_weights_data_f32(&p2[i], &len, weights, name),
                         LM_OK);
    }
    float *fw2 = malloc(128 * per * sizeof *fw2), fb2[128], fb5[128];
    ck_assert_int_eq(lm_bn_fold(fw2, fb2, w2, NULL, 128, per,
                                LM_TEST_BN(p2[0], p2[1], p2[2], p2[3], 1e-3)),
                     LM_OK);
    ck_assert_int_eq(lm_bn_fold(fw2, fb5, w2, NULL, 128, per,
                                LM_TEST_BN(p2[0], p2[1], p2[2], p2[3], 1e-5)),
                     LM_OK);
    free(fw2);
    ck_assert_uint_eq(b2->raw_data.len, sizeof fb2);
    ck_assert_int_eq(memcmp(fb2, b2->raw_data.data, sizeof fb2), 0);
    ck_assert_int_ne(memcmp(fb5, b2->raw_data.data, sizeof fb5), 0);
    onnx__model_proto__free_unpacked(m, NULL);
}
END_TEST

START_TEST(test_structure_options)
{
    lm_onnx_options o = {.size = sizeof o, .batch = 4, .keep_batchnorm = 1,
                         .opset = 17};
    Onnx__ModelProto *m = export_model(&o);
    ck_assert_int_eq(m->opset_import[0]->version, 17);
    ck_assert_uint_eq(count_ops(m, "BatchNormalization"), 10);
    ck_assert_int_eq(dim(m->graph->input[0], 0), 4);
    ck_assert_int_eq(dim(m->graph->output[0], 0), 4);
    /* BN kept: conv1 has no bias and bn1's tensors are there */
    ck_assert_ptr_null(initializer(m, "conv1.bias"));
    ck_assert_ptr_nonnull(initializer(m, "bn1.running_var"));
    const Onnx__NodeProto *bn = NULL;
    for (size_t i = 0; i < m->graph->n_node && !bn; i++)
        if (!strcmp(m->graph->node[i]->op_type, "BatchNormalization") &&
            !strcmp(m->graph->node[i]->input[1], "layer2.0.bn1.weight"))
            bn = m->graph->node[i];
    ck_assert_ptr_nonnull(bn);
    ck_assert_uint_eq(bn->n_attribute, 1);
    ck_assert_float_eq_tol(bn->attribute[0]->f, 0.001f, 1e-9f);
    onnx__model_proto__free_unpacked(m, NULL);

    o = (lm_onnx_options){.size = sizeof o, .dynamic_batch = 1};
    m = export_model(&o);
    ck_assert_int_eq(dim(m->graph->input[0], 0), -1);
    ck_assert_str_eq(m->graph->input[0]->type->tensor_type->shape->dim[0]
                         ->dim_param, "batch");
    onnx__model_proto__free_unpacked(m, NULL);
}
END_TEST

START_TEST(test_prefix)
{
    /* Up to position 4 (after layer1): stem + 4 convs, 2 skips, no head. */
    lm_onnx_options o = {.size = sizeof o, .prefix = 1, .prefix_end = 4};
    Onnx__ModelProto *m = export_model(&o);
    ck_assert_uint_eq(count_ops(m, "Conv"), 5);
    ck_assert_uint_eq(count_ops(m, "Add"), 2);
    ck_assert_uint_eq(count_ops(m, "Gemm"), 0);
    int64_t want[4] = {1, 64, 56, 56};
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(dim(m->graph->output[0], i), want[i]);
    onnx__model_proto__free_unpacked(m, NULL);
    o.prefix_end = 0; /* the stem alone */
    m = export_model(&o);
    ck_assert_uint_eq(count_ops(m, "Conv"), 1);
    ck_assert_uint_eq(count_ops(m, "MaxPool"), 1);
    onnx__model_proto__free_unpacked(m, NULL);
    lm_test_collected bytes = {0};
    o.prefix_end = 9;
    ck_assert_int_eq(lm_graph_write_onnx(graph, weights, &o, lm_test_collect,
                                         &bytes), LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "prefix_end 9"));
    ck_assert_ptr_null(bytes.data);
}
END_TEST

/* A U-Net: the timesteps input, and the nodes of its elements. */
START_TEST(test_unet)
{
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_graph_load(&g,
                                  lm_test_data_path("graph_unet_mini.yaml")));
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, 3));
    lm_test_collected bytes = {0};
    lm_onnx_options o = {.size = sizeof o, .batch = 2};
    ck_assert_lm_ok(lm_graph_write_onnx(g, w, &o, lm_test_collect, &bytes));
    Onnx__ModelProto *m = onnx__model_proto__unpack(
        NULL, bytes.len, (const uint8_t *)bytes.data);
    free(bytes.data);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->graph->n_input, 2);
    ck_assert_str_eq(m->graph->input[1]->name, "timesteps");
    ck_assert_int_eq(dim(m->graph->input[1], 0), 2);
    /* 2 block GroupNorms in front, 3 of the activations, 1 in attention,
     * 1 in the head: each an InstanceNormalization. */
    ck_assert_uint_eq(count_ops(m, "InstanceNormalization"), 3 + 3 + 1 + 1);
    ck_assert_uint_eq(count_ops(m, "Softmax"), 1);
    ck_assert_uint_eq(count_ops(m, "Pad"), 1);
    ck_assert_uint_eq(count_ops(m, "Resize"), 1);
    ck_assert_uint_eq(count_ops(m, "Concat"), 2); /* sin/cos, the skip */
    /* dense0, dense1, 3 time projections */
    ck_assert_uint_eq(count_ops(m, "Gemm"), 5);
    /* 9 trunk, 2 projections, 4 of the attention, conv_out */
    ck_assert_uint_eq(count_ops(m, "Conv"), 9 + 2 + 4 + 1);
    const Onnx__NodeProto *resize = NULL;
    for (size_t i = 0; i < m->graph->n_node; i++)
        if (!strcmp(m->graph->node[i]->op_type, "Resize"))
            resize = m->graph->node[i];
    ck_assert_uint_eq(resize->n_attribute, 3);
    ck_assert_str_eq(resize->attribute[0]->name, "mode");
    ck_assert_int_eq((int)resize->attribute[0]->s.len, 7);
    ck_assert_int_eq(memcmp(resize->attribute[0]->s.data, "nearest", 7), 0);
    onnx__model_proto__free_unpacked(m, NULL);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

static int refuse(const void *data, size_t len, void *userdata)
{
    (void)data;
    (void)len;
    return ++*(int *)userdata > 3 ? -1 : 0;
}

START_TEST(test_errors)
{
    lm_test_collected bytes = {0};
    lm_onnx_options o = {.size = sizeof o, .opset = 12};
    ck_assert_int_eq(lm_graph_write_onnx(NULL, weights, NULL, lm_test_collect,
                                         &bytes), LM_ERR_INVALID_ARG);
    ck_assert_int_eq(lm_graph_write_onnx(graph, NULL, NULL, lm_test_collect,
                                         &bytes), LM_ERR_INVALID_ARG);
    ck_assert_int_eq(lm_graph_write_onnx(graph, weights, NULL, NULL, &bytes),
                     LM_ERR_INVALID_ARG);
    ck_assert_int_eq(lm_graph_write_onnx(graph, weights, &o, lm_test_collect,
                                         &bytes), LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "opset 12"));
    o = (lm_onnx_options){.size = sizeof o, .batch = 65537};
    ck_assert_int_eq(lm_graph_write_onnx(graph, weights, &o, lm_test_collect,
                                         &bytes), LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "batch 65537"));
    o = (lm_onnx_options){.size = 4};
    ck_assert_int_eq(lm_graph_write_onnx(graph, weights, &o, lm_test_collect,
                                         &bytes), LM_ERR_INVALID_ARG);
    ck_assert_ptr_null(bytes.data);

    /* A weight missing: named, nothing written. */
    lm_weights *partial = NULL;
    ck_assert_int_eq(lm_weights_create(&partial), LM_OK);
    ck_assert_int_eq(lm_graph_write_onnx(graph, partial, NULL,
                                         lm_test_collect, &bytes),
                     LM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv1"));
    ck_assert_ptr_null(bytes.data);

    /* An unvalidated graph. */
    lm_graph *raw = NULL;
    ck_assert_int_eq(lm_graph_create(&raw, 3, 8, 8), LM_OK);
    ck_assert_int_eq(lm_graph_add_conv(raw, LM_TEST_CONV("c", 3, 4, 3, 1, 1,
                                                         1, 0),
                                       LM_ACT_RELU), LM_OK);
    ck_assert_int_eq(lm_graph_write_onnx(raw, weights, NULL, lm_test_collect,
                                         &bytes), LM_ERR_STATE);
    lm_graph_destroy(raw);

    /* The stream refusing bytes. */
    int calls = 0;
    ck_assert_int_eq(lm_graph_write_onnx(graph, weights, NULL, refuse,
                                         &calls), LM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "ONNX"));

    /* Files: a failed save keeps the old file and leaves no temporary. */
    char *dir = lm_test_tmpdir();
    char path[4200], bad[4200];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(bad, sizeof bad, "%s/missing/m.onnx", dir);
    ck_assert_int_eq(lm_graph_save_onnx(graph, weights, NULL, bad),
                     LM_ERR_IO);
    ck_assert_int_eq(lm_graph_save_onnx(graph, weights, NULL, path), LM_OK);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert_int_eq(lm_graph_save_onnx(graph, partial, NULL, path),
                     LM_ERR_NOT_FOUND);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(before.st_size, after.st_size);
    ck_assert_int_eq(before.st_mtime, after.st_mtime);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
    lm_test_rmtree(dir);
    lm_weights_destroy(partial);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("onnx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_structure_folded);
    tcase_add_test(tc, test_structure_options);
    tcase_add_test(tc, test_prefix);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_unet);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
