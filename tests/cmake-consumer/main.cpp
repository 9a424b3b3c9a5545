// A C++ consumer of liblayermerge through find_package(layermerge): builds
// a small network, lists its entries, runs the engine on one thread and
// checks that a failing call reports its status and message.
#include <layermerge/layermerge.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

struct GraphDeleter { void operator()(lm_graph *g) const { lm_graph_destroy(g); } };
struct EntriesDeleter { void operator()(lm_entries *e) const { lm_entries_destroy(e); } };
struct WeightsDeleter { void operator()(lm_weights *w) const { lm_weights_destroy(w); } };
struct EngineDeleter { void operator()(lm_engine *e) const { lm_engine_destroy(e); } };

bool ok(lm_status st, const char *what)
{
    if (st == LM_OK)
        return true;
    std::fprintf(stderr, "consumer: %s: %s (%s)\n", what, lm_last_error(),
                 lm_status_str(st));
    return false;
}

lm_conv_desc conv(const char *name, int64_t in, int64_t out, int64_t k)
{
    lm_conv_desc d{};
    d.size = sizeof d;
    d.name = name;
    d.in_channels = in;
    d.out_channels = out;
    d.kernel = k;
    d.stride = 1;
    d.padding = k / 2;
    d.groups = 1;
    d.has_bias = 1;
    return d;
}

}  // namespace

int main()
{
    if (lm_version_number() != LM_VERSION_NUMBER) {
        std::fprintf(stderr, "header %s, library %s\n", LM_VERSION_STRING, lm_version());
        return 1;
    }
    lm_graph *raw = nullptr;
    if (!ok(lm_graph_create(&raw, 3, 16, 16), "graph"))
        return 1;
    std::unique_ptr<lm_graph, GraphDeleter> g(raw);
    const lm_conv_desc convs[] = {conv("c1", 3, 8, 3), conv("c2", 8, 8, 3),
                                  conv("c3", 8, 8, 1)};
    for (const auto &c : convs)
        if (!ok(lm_graph_add_conv(g.get(), &c, LM_ACT_RELU), "add_conv"))
            return 1;
    if (!ok(lm_graph_add_skip(g.get(), 1, 3), "add_skip") ||
        !ok(lm_graph_validate(g.get()), "validate"))
        return 1;

    lm_entries *re = nullptr;
    if (!ok(lm_entries_create(&re, g.get()), "entries"))
        return 1;
    std::unique_ptr<lm_entries, EntriesDeleter> e(re);

    lm_weights *rw = nullptr;
    if (!ok(lm_weights_create(&rw), "weights"))
        return 1;
    std::unique_ptr<lm_weights, WeightsDeleter> w(rw);
    if (!ok(lm_weights_init_random(w.get(), g.get(), 1), "init_random"))
        return 1;
    lm_engine *rn = nullptr;
    if (!ok(lm_engine_create(&rn, g.get(), w.get(), 1), "engine"))
        return 1;
    std::unique_ptr<lm_engine, EngineDeleter> eng(rn);
    // One OpenBLAS thread through the library: no -lopenblas needed here.
    if (!ok(lm_engine_set_threads(eng.get(), 1), "set_threads"))
        return 1;
    std::vector<float> in(lm_engine_input_size(eng.get()), 0.5f);
    std::vector<float> out(lm_engine_output_size(eng.get()));
    if (!ok(lm_engine_run(out.data(), out.size(), eng.get(), in.data(), in.size()), "run"))
        return 1;
    double sum = 0;
    for (float v : out)
        sum += std::fabs(v);
    if (!(sum > 0) || !std::isfinite(sum)) {
        std::fprintf(stderr, "consumer: engine output sums to %g\n", sum);
        return 1;
    }

    lm_graph *none = nullptr;
    lm_status st = lm_graph_load(&none, "/nonexistent/g.yaml");
    if (st != LM_ERR_IO || !std::strstr(lm_last_error(), "/nonexistent/g.yaml")) {
        std::fprintf(stderr, "consumer: a missing file gave status %d, '%s'\n",
                     static_cast<int>(st), lm_last_error());
        return 1;
    }
    std::printf("liblayermerge %s: %zu convs, %zu entries, fingerprint %s, "
                "output %zu floats (sum |y| %.4g)\n", lm_version(),
                lm_graph_conv_count(g.get()), lm_entries_count(e.get()),
                lm_graph_fingerprint(g.get()), out.size(), sum);
    return 0;
}
