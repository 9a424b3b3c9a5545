#!/usr/bin/python3
"""The layermerge Python package against the library just built.

Run by `meson test --suite python` with PYTHONPATH at the source tree's
python/ and LAYERMERGE_LIBRARY at the build's liblayermerge.so; LM_SOURCE_ROOT
names the repository (zoo graphs, test data).
"""
import gc
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import layermerge as lm

ROOT = pathlib.Path(os.environ.get("LM_SOURCE_ROOT",
                                   pathlib.Path(__file__).resolve().parents[2]))
ZOO = ROOT / "examples" / "models"
DATA = ROOT / "tests" / "data"


def tiny_graph():
    """A 4-conv residual network at 3 x 16 x 16, built through the API."""
    g = lm.Graph(3, 16, 16, name="tiny")
    g.add_layer_conv("stem", 0, "stem.conv", 3, 8, 3)
    g.add_layer_batchnorm("stem", 0, "stem.bn", 8)
    g.add_layer_act("stem", 0, "relu")
    g.add_conv("c1", 8, 8, 3)
    g.set_conv_bn(1, "bn1")
    g.add_conv("c2", 8, 8, 3, act="relu")
    g.set_conv_bn(2, "bn2")
    g.add_conv("c3", 8, 16, 3, stride=2)
    g.add_conv("c4", 16, 16, 1, bias=True)
    g.add_skip(0, 2)
    g.add_skip(2, 4)
    g.set_skip_projection(1, "proj", stride=2)
    g.set_skip_bn(1, "proj.bn")
    g.set_barrier(2)
    g.add_layer_adaptive_avgpool("head", 0, 1, 1)
    g.add_layer_flatten("head")
    g.add_layer_linear("head", 0, "fc", 16, 10)
    return g.validate()


def fill_tables(entries):
    """Synthetic tables: latency grows with the kernel, importance falls
    with the number of convs left out."""
    lat = lm.Table.latency(entries)
    imp = lm.Table.importance(entries, "normalised")
    for i in range(len(entries)):
        info = entries.entry_info(i)
        if not info.identity:
            lat.set_latency_entry(entries, i, 0.1 + 0.01 * info.kernel ** 2, 0.001)
        span = info.end - info.st
        score = float(np.exp(-0.05 * (span - info.n_kept)))
        imp.set_importance_entry(entries, i, score, score)
    return lat, imp


class Basics(unittest.TestCase):
    def test_version(self):
        v = lm.version()
        major, minor, patch = (int(x) for x in v.split("."))
        self.assertEqual(lm.version_number(), major * 10000 + minor * 100 + patch)
        self.assertTrue(lm.library_path())

    def test_library_search(self):
        """$LAYERMERGE_LIBRARY wins; without it the loader's search
        (LD_LIBRARY_PATH) finds liblayermerge.so.0."""
        lib = lm.library_path()
        code = "import layermerge as lm; print(lm.library_path(), lm.version())"
        env = dict(os.environ)
        env.pop("LAYERMERGE_LIBRARY", None)
        env["LD_LIBRARY_PATH"] = os.path.dirname(os.path.abspath(lib))
        out = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                             capture_output=True, check=True).stdout
        self.assertTrue(out.startswith(("liblayermerge.so.0 ", "liblayermerge.so ")), out)
        self.assertTrue(out.strip().endswith(lm.version()))
        env["LAYERMERGE_LIBRARY"] = "/nonexistent/liblayermerge.so"
        run = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                             capture_output=True)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("OSError: liblayermerge not found", run.stderr)
        self.assertIn("/nonexistent/liblayermerge.so", run.stderr)

    def test_names(self):
        self.assertEqual(lm.act_name(lm.capi.LM_ACT_RELU6), "relu6")
        self.assertEqual(lm.act_from_name("silu"), lm.capi.LM_ACT_SILU)
        self.assertEqual(lm.layer_kind_name(lm.capi.LM_LAYER_MAXPOOL), "maxpool")
        self.assertEqual(lm.method_from_name("prune"), lm.capi.LM_METHOD_PRUNE)
        self.assertEqual(lm.method_name(lm.capi.LM_METHOD_KIM23), "kim23")
        self.assertEqual(lm.importance_metric_from_name("accuracy"),
                         lm.capi.LM_METRIC_ACCURACY)
        self.assertEqual(lm.importance_metric_name(2), "loss_ratio")
        self.assertAlmostEqual(lm.importance_metric_normalise("accuracy", 50.0),
                               np.exp(0.5))
        self.assertEqual(lm.table_kind_name(lm.capi.LM_TABLE_IMPORTANCE), "importance")
        self.assertEqual(lm.status_str(lm.capi.LM_ERR_PARSE), "parse error")

    def test_error_is_exception_with_message(self):
        bad = DATA / "graph_syntax_error.yaml"
        with self.assertRaises(lm.LayerMergeError) as cm:
            lm.Graph.load(bad)
        e = cm.exception
        self.assertEqual(e.status, lm.capi.LM_ERR_PARSE)
        self.assertEqual(e.name, "LM_ERR_PARSE")
        self.assertEqual(e.status_text, "parse error")
        self.assertEqual(e.call, "lm_graph_load")
        self.assertIn("graph_syntax_error.yaml:", e.message)
        self.assertIn(e.message, str(e))
        self.assertEqual(lm.last_error(), e.message)
        lm.clear_error()
        self.assertEqual(lm.last_error(), "")
        # The call is named once, whether or not the message names it.
        self.assertTrue(str(e).startswith("lm_graph_load: "), str(e))
        g = lm.Graph.load(DATA / "graph_unet_mini.yaml")
        with self.assertRaises(lm.LayerMergeError) as cm:  # no timesteps
            lm.Engine(g, lm.Weights().init_random(g, 1), batch=1).run(
                np.zeros((1, 3, 8, 8), np.float32))
        self.assertEqual(str(cm.exception).count("lm_engine_run:"), 1,
                         str(cm.exception))
        with self.assertRaises(lm.LayerMergeError) as cm:
            lm.act_from_name("nonesuch")
        self.assertEqual(cm.exception.name, "LM_ERR_NOT_FOUND")
        with self.assertRaisesRegex(ValueError, "unknown lm_site name 'nowhere'"):
            lm.Graph(3, 8, 8).add_layer_act("nowhere", 0, "relu")

    def test_close_and_context_manager(self):
        with lm.Graph.load(ZOO / "resnet18.yaml") as g:
            self.assertFalse(g.closed)
            with lm.Entries(g) as e:
                n = len(e)
            self.assertTrue(e.closed)
            self.assertGreater(n, g.conv_count)
        self.assertTrue(g.closed)
        with self.assertRaisesRegex(ValueError, "Graph is closed"):
            g.conv_count
        g.close()   # idempotent
        self.assertIn("closed", repr(g))


class Graphs(unittest.TestCase):
    def test_zoo_names(self):
        """A bare name loads from the zoo, as on the command line; a name
        that is no zoo file stays an error naming it."""
        g = lm.Graph.load("ddpm_cifar10")
        self.assertEqual((g.name, g.conv_count), ("ddpm_cifar10", 51))
        with tempfile.TemporaryDirectory() as d:
            (pathlib.Path(d) / "mine.yaml").write_text(
                (DATA / "graph_unet_mini.yaml").read_text())
            old = os.environ.get("LAYERMERGE_MODELS")
            os.environ["LAYERMERGE_MODELS"] = d
            try:
                self.assertEqual(lm.Graph.load("mine").name, "unet_mini")
            finally:
                if old is None:
                    del os.environ["LAYERMERGE_MODELS"]
                else:
                    os.environ["LAYERMERGE_MODELS"] = old
        with self.assertRaisesRegex(lm.LayerMergeError, "no_such_net"):
            lm.Graph.load("no_such_net")

    def test_zoo_graph(self):
        g = lm.Graph.load(ZOO / "resnet34.yaml")
        self.assertEqual((g.name, g.conv_count), ("resnet34", 32))
        self.assertRegex(g.fingerprint, r"^[0-9a-f]{16}$")
        self.assertTrue(g.is_valid)
        self.assertEqual(g.input_shape, (3, 224, 224))
        self.assertEqual(g.output_shape, (1000, 1, 1))
        self.assertEqual(g.nonlinearity, "relu")
        self.assertEqual(g.conv_info(1).name, "layer1.0.conv1")
        self.assertEqual(g.position_info(0).activation, "identity")
        self.assertEqual(g.position_shape(0), (64, 56, 56))
        self.assertEqual(g.layer_count("stem"), 4)
        self.assertEqual(g.layer_info("stem", 0, 3).kind, "maxpool")
        proj = [g.skip_info(s) for s in range(g.skip_count)
                if g.skip_info(s).has_projection]
        self.assertEqual(len(proj), 3)
        self.assertTrue(proj[0].projection_name.endswith("downsample.0"))

    def test_build_save_load(self):
        g = tiny_graph()
        self.assertEqual(g.conv_count, 4)
        self.assertEqual(g.output_shape, (10, 1, 1))
        self.assertEqual(g.skip_info(1).projection_out_channels, 16)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tiny.yaml")
            g.save(path)
            again = lm.Graph.load(path)
            self.assertEqual(again.fingerprint, g.fingerprint)
            self.assertEqual(lm.Graph.loads(pathlib.Path(path).read_text()).fingerprint,
                             g.fingerprint)
        c = g.clone()
        c.set_activation(1, "gelu")
        self.assertIsNone(c.fingerprint)    # changed: no longer validated
        c.set_identity_option(1, True)
        c.set_nonlinearity("silu")
        c.set_input_shape(3, 32, 32)
        c.validate()
        self.assertNotEqual(c.fingerprint, g.fingerprint)
        self.assertEqual(c.nonlinearity, "silu")
        self.assertEqual(c.position_info(1).identity_option, 1)
        p = lm.Graph(1, 8, 8)
        p.add_conv("a", 1, 2, 3)
        p.add_layer_pool("position", 1, "maxpool", 2)
        p.set_barrier(1)
        p.add_conv("b", 2, 2, 3)
        p.validate()
        self.assertEqual(p.position_shape(1), (2, 4, 4))

    def test_graph_errors_name_the_layer(self):
        g = lm.Graph(3, 8, 8)
        g.add_conv("a", 3, 4, 3)
        g.add_conv("b", 5, 4, 3)
        with self.assertRaises(lm.LayerMergeError) as cm:
            g.validate()
        self.assertEqual(cm.exception.name, "LM_ERR_VALIDATION")
        self.assertIn("b", cm.exception.message)


class UNets(unittest.TestCase):
    def unet(self):
        """A two-block U-Net built through the API: time embedding, pre
        layers, a time projection, a switchable GroupNorm, attention,
        padding, upsampling and a concatenation."""
        g = lm.Graph(3, 8, 8, name="py-unet")
        g.set_nonlinearity("identity")
        g.set_time_embedding(8, 16, "temb.0", "temb.1")
        g.add_conv("conv_in", 3, 8, 3, bias=True, act="identity")
        g.add_conv("b.conv1", 8, 8, 3, bias=True, act="silu")
        g.add_layer_groupnorm("pre", 2, "b.norm1", 8, 4, 1e-6)
        g.add_layer_act("pre", 2, "silu")
        g.set_conv_time_projection(2, "b.temb_proj")
        g.set_conv_groupnorm(2, "b.norm2", 4, 1e-6)
        g.add_conv("b.conv2", 8, 8, 3, bias=True, act="identity")
        g.add_skip(1, 3)
        g.add_layer_attention("position", 3, "b.attn", 8, 4, 1e-6)
        g.add_conv("down", 8, 8, 3, stride=2, padding=0, bias=True,
                   act="identity")
        g.add_layer_pad("pre", 4, 0, 0, 1, 1)
        g.add_layer_upsample("position", 4, 2)
        g.add_concat(3, 4)
        g.add_layer_conv("head", 0, "out", 16, 3, 3, bias=True)
        for p in (0, 1, 3, 4):
            g.set_barrier(p)
        return g.validate()

    def test_build_query_run_merge(self):
        g = self.unet()
        self.assertEqual(g.position_shape(4), (16, 8, 8))
        te = g.time_embedding
        self.assertEqual((te.has_time_embedding, te.dim, te.channels),
                         (1, 8, 16))
        self.assertEqual(g.conv_info(2).groupnorm_name, "b.norm2")
        self.assertEqual(g.layer_info("pre", 4, 0).pad_bottom, 1)
        self.assertEqual(g.skip_info(1).is_concat, 1)
        w = lm.Weights().init_random(g, 3)
        x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
        with lm.Engine(g, w, batch=2) as eng:
            with self.assertRaisesRegex(lm.LayerMergeError, "timesteps"):
                eng.run(x)
            eng.set_timesteps([10.0, 900.0])
            y = eng.run(x)
            eng.set_timesteps([900.0, 10.0])
            self.assertFalse(np.allclose(eng.run(x), y))
        e = lm.Entries(g)
        plan = lm.Plan.for_segments(g, [0, 1, 3, 4], None)
        merged, mw = g.merge(w, plan)
        self.assertEqual(merged.conv_count, 3)
        self.assertEqual(merged.conv_info(2).kernel, 5)
        dev = g.verify_merge(w, plan, merged, mw, batch=2)
        self.assertLess(dev.max_rel, 1e-5)
        imp = lm.Table.importance(e, "normalised")
        with lm.ProxyOptions(batch=2, seed=3) as opts:
            opts.set_timesteps([1.0, 500.0])
            imp.score_proxy(g, w, e, opts)
            opts.set_timesteps(None)
        self.assertEqual(len(imp), len(e))
        # A caller's fine-tune measures denoising loss ratios: the table
        # normalises them as exp(-loss_ratio), the paper's DDPM importance.
        loss = lm.Table.importance(e, "loss_ratio")
        for i in range(len(e)):
            loss.set_importance_entry(e, i, 1.0 + 0.1 * i)
        for i in (0, len(e) - 1):
            value, raw = loss.get_entry(e, i)
            self.assertAlmostEqual(raw, 1.0 + 0.1 * i)
            self.assertAlmostEqual(value, np.exp(-(1.0 + 0.1 * i)), places=12)


class Pipeline(unittest.TestCase):
    """Zoo graph -> entries -> tables -> solve -> plan -> merge -> engine."""

    @classmethod
    def setUpClass(cls):
        cls.graph = lm.Graph.load(ZOO / "resnet18.yaml")
        cls.entries = lm.Entries(cls.graph)
        cls.lat, cls.imp = fill_tables(cls.entries)

    def test_entries(self):
        e = self.entries
        self.assertEqual(e.conv_count, 16)
        self.assertEqual(e.fingerprint, self.graph.fingerprint)
        self.assertEqual(e.graph_name, "resnet18")
        for i in (0, 5, len(e) - 1):
            self.assertEqual(e.find(e.entry_key(i)), i)
        orig = e.entry_info(e.find_original(1))
        self.assertEqual((orig.st, orig.end, orig.kept), (0, 1, [1]))
        seg = e.segment_info(0)
        self.assertEqual(seg.first_entry, 0)
        csv = e.write("csv")
        self.assertEqual(len(csv.strip().splitlines()), len(e) + 1)
        self.assertIn("format: layermerge-entries", e.write("yaml"))
        with tempfile.TemporaryDirectory() as tmp:
            e.save(os.path.join(tmp, "e.csv"))
            self.assertEqual(pathlib.Path(tmp, "e.csv").read_text(), csv)
        scored = lm.Entries(self.graph, np.arange(16, dtype=float) + 1)
        self.assertEqual(len(scored), len(e))
        with self.assertRaises(lm.LayerMergeError):
            e.find((0, 1, 9, 1, 0))

    def test_tables(self):
        lat, imp, e = self.lat, self.imp, self.entries
        self.assertEqual((lat.kind, imp.kind), ("latency", "importance"))
        self.assertEqual(imp.metric, "normalised")
        self.assertIsNone(lat.metric)
        self.assertEqual(lat.missing(e), (0, []))
        self.assertEqual(imp.missing(e)[0], 0)
        lat.check(e)
        key = e.entry_key(3)
        self.assertTrue(lat.has(key))
        self.assertEqual(lat.get(key), lat.get_entry(e, 3))
        rec = imp.record_info(0)
        self.assertEqual(rec.id, 0)
        self.assertTrue(rec.has_convs)
        lat.set_text("device", "test cpu")
        lat.set_int("batch", 1)
        self.assertEqual(lat.text("device"), "test cpu")
        self.assertEqual(lat.integer("batch"), 1)
        lat.set_fixed_cost(0.5, 0.01)
        self.assertEqual(lat.network_info().fixed_ms, 0.5)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "lat.yaml")
            lat.save(p)
            again = lm.Table.load(p, "latency")
            self.assertEqual(len(again), len(lat))
            self.assertEqual(lm.Table.load(p).records(), lat.records())
            with self.assertRaises(lm.LayerMergeError) as cm:
                lm.Table.load(p, "importance")
            self.assertEqual(cm.exception.name, "LM_ERR_PARSE")
            c = os.path.join(tmp, "imp.csv")
            imp.export_csv(c)
            back = lm.Table.import_csv("importance", c, metric="normalised",
                                       entries=e)
            self.assertEqual(len(back), len(imp))
        # Two shards merge into the whole table.
        half = len(e) // 2
        shards = [lm.Table.latency(e), lm.Table.latency(e.fingerprint)]
        shards[0].set_shard(0, half)
        self.assertEqual(shards[0].shard, (0, half))
        self.assertIsNone(shards[1].shard)
        for i in range(len(e)):
            ms, sd = lat.get_entry(e, i)
            if i < half:
                shards[0].set_latency_entry(e, i, ms, sd)
            else:
                shards[1].set_latency(e.entry_key(i), ms, sd)
        with self.assertRaises(lm.LayerMergeError):
            lm.Table.merge(e, shards[:1])
        merged = lm.Table.merge(e, shards[:1], allow_missing=True)
        self.assertEqual(len(merged), half)
        by_key = lm.Table.importance(e.fingerprint, "accuracy")
        by_key.set_importance(e.entry_key(0), 70.0)
        self.assertAlmostEqual(by_key.get(e.entry_key(0))[0], np.exp(0.7))
        by_key.set_importance_entry(e, 1, 60.0)
        by_key.set_importance(e.entry_key(2), 10.0, normalised=2.0)
        by_key.set_importance_entry(e, 3, 10.0, normalised=3.0)
        self.assertEqual(by_key.get_entry(e, 3), (3.0, 10.0))

    def test_solve_plan_merge_engine(self):
        g, e = self.graph, self.entries
        solver = lm.Solver(g, e, self.lat, self.imp)
        self.assertEqual(solver.conv_count, 16)
        self.assertGreater(solver.original_latency, 0)
        self.assertEqual(solver.fixed_latency, 0)
        with lm.SolveOptions(ratio=0.75, precision=100, rounding="ceil") as opts:
            result = solver.run(opts)
        self.assertLessEqual(result.latency, result.budget)
        self.assertAlmostEqual(result.budget, 0.75 * solver.original_latency)
        self.assertEqual((result.method, result.rounding), ("layermerge", "ceil"))
        self.assertEqual(result.precision, 100)
        self.assertEqual(result.fingerprint, g.fingerprint)
        self.assertLessEqual(result.latency_units, result.budget_units)
        self.assertEqual(result.fixed_latency, 0)
        segs = result.segments()
        self.assertEqual(segs[0].st, 0)
        self.assertEqual(segs[-1].end, 16)
        self.assertLess(len(segs), 16)   # something was merged
        for p in range(1, 17):
            self.assertEqual(bool(result.position_info(p).is_boundary),
                             p in [s.end for s in segs])
        front = solver.run_front(ratio=0.75, precision=100)
        self.assertGreater(len(front), 1)
        self.assertAlmostEqual(front[-1].importance, result.importance)
        lats = [r.latency for r in front]
        self.assertEqual(lats, sorted(lats))
        last = front[-1]
        del front
        gc.collect()
        self.assertAlmostEqual(last.importance, result.importance)  # owner kept
        last._owner.close()
        self.assertTrue(last.closed)   # closing the front closes its results

        with tempfile.TemporaryDirectory() as tmp:
            result.save(os.path.join(tmp, "r.yaml"))
            result = lm.Result.load(os.path.join(tmp, "r.yaml"))
            plan = lm.Plan.for_result(g, result)
            plan.save(os.path.join(tmp, "p.yaml"))
            self.assertEqual(pathlib.Path(tmp, "p.yaml").read_text(), plan.write())
        self.assertEqual(plan.fingerprint, g.fingerprint)
        self.assertEqual(plan.segment_count, result.segment_count)
        self.assertEqual(plan.segments(), [(s.st, s.end) for s in segs])
        self.assertEqual(plan.conv_info(1).kept, result.conv_info(1).kept)
        self.assertIn(plan.position_info(16).activation, ("relu", "identity"))
        self.assertIn("fused", plan.skip_info(0))

        weights = lm.Weights().init_random(g, seed=7)
        weights.check_graph(g)
        merged, merged_w = g.merge(weights, plan)
        self.assertEqual(merged.conv_count, plan.segment_count)
        self.assertEqual(merged_w.meta("layermerge.source_fingerprint"), g.fingerprint)
        dev = g.verify_merge(weights, plan, merged, merged_w)
        self.assertLess(dev.max_rel, 1e-4)

        # The engine on NumPy input: the plan's fine-tuning network and the
        # merged network agree.
        rng = np.random.default_rng(1)
        x = rng.uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
        with lm.Engine(g, weights, batch=1) as chain_eng, \
                lm.Engine(merged, merged_w, batch=1) as merged_eng:
            chain_eng.set_threads(1)
            self.assertEqual((chain_eng.batch, chain_eng.input_size,
                              chain_eng.output_size), (1, x.size, 1000))
            original = chain_eng.run(x)
            chain_eng.configure_plan(plan)
            y_chain = chain_eng(x)
            y_merged = merged_eng.run(x)
            self.assertEqual(y_merged.shape, (1, 1000, 1, 1))
            scale = np.abs(y_chain).max()
            self.assertLess(np.abs(y_chain - y_merged).max() / scale, 1e-4)
            self.assertGreater(np.abs(original - y_chain).max(), 0)
            chain_eng.configure_plan(None)
            out = np.empty((1, 1000, 1, 1), dtype=np.float32)
            chain_eng.run(x, out=out)
            np.testing.assert_array_equal(out, original)
            with self.assertRaises(ValueError):
                chain_eng.run(x[:, :2])
            t = chain_eng.time(warmup=0, reps=2)
            self.assertEqual((t.runs, t.threads), (2, 1))
            self.assertGreater(t.median_ms, 0)
            prof = chain_eng.profile(warmup=0, reps=1)
            self.assertEqual(len(prof.conv_ms), 16)

    def test_prune_and_entry_plans(self):
        g, e = self.graph, self.entries
        solver = lm.Solver(g, e, self.lat)
        solver.set_conv_importance(np.linspace(1, 2, 16))
        r = solver.run(method="prune", ratio=0.8)
        self.assertEqual(r.method, "prune")
        self.assertGreater(len(r.pruned_convs()), 0)
        plan = lm.Plan.for_entry(g, e, e.find_original(3))
        self.assertEqual(plan.segment_count, 16)
        seg = lm.Plan.for_segments(g, [0, 2] + list(range(3, 17)))
        self.assertEqual(seg.segments()[0], (0, 2))
        kept = [1] * 16
        kept[1] = 0
        self.assertEqual(lm.Plan.for_segments(g, [0, 2] + list(range(3, 17)),
                                              kept).conv_info(2).kept, 0)
        with self.assertRaises(lm.LayerMergeError) as cm:
            lm.Plan.for_segments(g, [0, 17])
        self.assertEqual(cm.exception.name, "LM_ERR_INVALID_ARG")

    def test_kim23(self):
        time_csv = DATA / "upstream-kim23" / "mbv2_1.0" / "time_fish_gpu1_1228.csv"
        rows = [ln.split(",") for ln in time_csv.read_text().splitlines()[1:]]
        with tempfile.TemporaryDirectory() as tmp:
            raw = pathlib.Path(tmp, "raw.csv")
            # every segment with both activations kept; scores fall with the span
            raw.write_text("id,st,end,st_act,end_act,val_acc\n" + "".join(
                f"{i},{r[1]},{r[2]},1,1,{72 - 0.37 * (int(r[2]) - int(r[1])):.4f}\n"
                for i, r in enumerate(rows)))
            solver = lm.Solver.kim23(time_csv, raw)
            r = solver.run(method="kim23", budget=25, precision=10)
        self.assertEqual(r.method, "kim23")
        self.assertLessEqual(r.latency, 25)
        self.assertEqual(r.fingerprint, "")
        self.assertEqual(lm.Table.import_csv("latency", time_csv, fmt="kim23_time").kind,
                         "latency")

    def test_entries_from_table(self):
        again = lm.Entries.from_table(self.graph, self.imp)
        self.assertEqual(len(again), len(self.entries))


class WeightsAndChains(unittest.TestCase):
    def test_weights(self):
        w = lm.Weights()
        a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        w["x.weight"] = a
        w.set("b", np.ones(3))
        self.assertEqual(len(w), 2)
        self.assertIn("x.weight", w)
        self.assertNotIn("nope", w)
        self.assertEqual(w.shape("x.weight"), (2, 3, 4))
        self.assertEqual(w.numel("x.weight"), 24)
        np.testing.assert_array_equal(w["x.weight"], a)
        self.assertEqual(w.find("x.weight"), 1)
        self.assertEqual(w.tensor_info(1).shape, [2, 3, 4])
        w.set_meta("k", "v")
        self.assertEqual(w.meta(), {"k": "v"})
        self.assertEqual(w.meta_key(0), "k")
        view = w.view("x.weight")
        self.assertFalse(view.flags.writeable)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "w.safetensors")
            w.save(p)
            del w
            gc.collect()
            np.testing.assert_array_equal(view, a)   # the view keeps the store
            again = lm.Weights.load(p)
            self.assertEqual(sorted(again.to_dict()), ["b", "x.weight"])
        with self.assertRaises(lm.LayerMergeError) as cm:
            again.get("missing")
        self.assertEqual(cm.exception.name, "LM_ERR_NOT_FOUND")
        self.assertIn("missing", cm.exception.message)
        d = lm.Weights.from_dict({"a": np.zeros(2), "n": np.array(3, dtype=np.int64)},
                                 meta={"m": "1"})
        self.assertEqual((d.names(), d.meta("m")), (["a"], "1"))
        torch_file = DATA / "weights_torch.safetensors"
        self.assertGreater(len(lm.Weights.load(torch_file)), 0)

    def test_chain_and_bn_fold(self):
        rng = np.random.default_rng(3)
        w1 = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
        w2 = rng.standard_normal((4, 4, 1, 1)).astype(np.float32)
        b2 = rng.standard_normal(4).astype(np.float32)
        gamma, beta = np.full(4, 2.0), np.zeros(4)
        mean, var = np.zeros(4), np.full(4, 1.0 - 1e-5)
        fw, fb = lm.bn_fold(w1, None, gamma, beta, mean, var, eps=1e-5)
        np.testing.assert_allclose(fw, 2 * w1, rtol=1e-6)
        np.testing.assert_allclose(fb, 0, atol=1e-7)
        with lm.Chain(2) as ch:
            ch.push_conv(w1)
            ch.push_bn(gamma, beta, mean, var)
            ch.push_conv(w2, b2, padding=0)
            self.assertEqual((ch.step_count, ch.in_channels, ch.out_channels,
                              ch.kernel, ch.stride, ch.padding, ch.groups,
                              ch.depthwise), (2, 2, 4, 3, 1, 1, 1, False))
            self.assertEqual(ch.weight_count, 4 * 2 * 9)
            expect = np.einsum("oc,cikl->oikl", w2[:, :, 0, 0], 2 * w1)
            np.testing.assert_allclose(ch.weight(), expect, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ch.bias(), b2, rtol=1e-6)
            ch.push_identity_skip(1)
            np.testing.assert_allclose(ch.weight()[:, :, 1, 1],
                                       expect[:, :, 1, 1] + 2 * w1[:, :, 1, 1],
                                       rtol=1e-5, atol=1e-5)
            ch.push_projection_skip(0, np.ones((4, 2, 1, 1), dtype=np.float32))
            with self.assertRaises(lm.LayerMergeError):
                ch.push_identity_skip(0)   # 2 channels into 4


class Measuring(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.graph = tiny_graph()
        cls.entries = lm.Entries(cls.graph)

    def test_custom_timer_and_progress(self):
        e = self.entries
        seen, calls = [], []

        def timer(entry, batch):
            calls.append(entry.kernel)
            return 0.01 * entry.kernel, 0.0

        opts = lm.MeasureOptions(threads=1, passes=(1, 5), repetitions=1,
                                 warmup=0, network=False, batch=1,
                                 noise_limit=(0.5, 0))
        opts.set_timer(timer)
        opts.set_progress(lambda done, total, i, t: seen.append((done, total)))
        lat = lm.Table.latency(e)
        with tempfile.TemporaryDirectory() as tmp:
            opts.set_save_path(os.path.join(tmp, "auto.yaml"))
            lat.measure_latency(self.graph, e, opts)
            self.assertTrue(os.path.exists(os.path.join(tmp, "auto.yaml")))
        opts.set_save_path(None)
        self.assertEqual(lat.missing(e)[0], 0)
        self.assertTrue(calls)
        self.assertEqual(seen[-1][0], seen[-1][1])
        i = next(i for i in range(len(e)) if not e.entry_info(i).identity)
        k = e.entry_info(i).kernel
        self.assertAlmostEqual(lat.get_entry(e, i)[0], 0.01 * k)
        fresh = lat.remeasure_entries(self.graph, e, [i], opts)
        self.assertAlmostEqual(float(fresh[0]), 0.01 * k)

        # A progress callback that answers true cancels; an exception in a
        # callback comes back out of the call.
        opts.set_progress(lambda *a: True)
        with self.assertRaises(lm.LayerMergeError) as cm:
            lm.Table.latency(e).measure_latency(self.graph, e, opts)
        self.assertEqual(cm.exception.name, "LM_ERR_CANCELLED")
        opts.set_progress(None)

        def broken(entry, batch):
            raise RuntimeError("timer broke")
        opts.set_timer(broken)
        with self.assertRaisesRegex(RuntimeError, "timer broke"):
            lm.Table.latency(e).measure_latency(self.graph, e, opts)
        opts.set_timer(None)
        opts.set_range(0, 2)
        opts.set_input_size(8, 8)
        opts.close()

    def test_builtin_timer_network_calibration(self):
        g, e = self.graph, self.entries
        lat = lm.Table.latency(e)
        with lm.MeasureOptions(repetitions=2, warmup=0, passes=(1, 1),
                               threads=1) as opts:
            lat.measure_latency(g, e, opts)
        self.assertEqual(lat.integer("threads"), 1)
        self.assertEqual(lat.text("timer"), "lm_engine")
        net = lat.network_info()
        self.assertGreater(net.measured_ms, 0)
        self.assertGreater(net.stage_count, 0)
        stage = lat.stage_info(0)
        self.assertAlmostEqual(stage.ratio, stage.in_network_ms / stage.alone_ms)
        cal = lat.calibrated()
        self.assertEqual(cal.network_info().stage_count, 0)
        self.assertEqual(len(cal), len(lat))

    def test_builtin_timer_entry_time(self):
        e = self.entries
        i = next(i for i in range(len(e)) if not e.entry_info(i).identity)
        t = lm.entry_time(e.entry_info(i), "relu", batch=1, warmup=0, reps=2)
        self.assertEqual(t.runs, 2)
        self.assertGreater(t.median_ms, 0)

    def test_proxy(self):
        g, e = self.graph, self.entries
        w = lm.Weights().init_random(g, 5)
        imp = lm.Table.importance(e, "normalised")
        x = np.random.default_rng(0).standard_normal((2, 3, 16, 16))
        with lm.ProxyOptions(batch=2, seed=3, range=(0, 4)) as opts:
            opts.set_inputs(x)
            imp.score_proxy(g, w, e, opts)
            self.assertEqual(len(imp), 4)
            opts.set_inputs(None)
            opts.set_input_size(16, 16)
            opts.set_save_path(None)
            opts.set_progress(None)
        values = [imp.record_info(i).value for i in range(4)]
        self.assertTrue(all(0 < v <= 1 for v in values))

    def test_engine_with_fetch(self):
        g = self.graph
        w = lm.Weights().init_random(g, 9)
        x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 16, 16))
        ref = lm.Engine(g, w).run(x)
        np.testing.assert_array_equal(lm.Engine(g, w.to_dict()).run(x), ref)
        np.testing.assert_array_equal(
            lm.Engine(g, lambda name, shape: w.get(name)).run(x), ref)
        partial = w.to_dict()
        del partial["fc.weight"]
        with self.assertRaises(lm.LayerMergeError) as cm:
            lm.Engine(g, partial)
        self.assertEqual(cm.exception.name, "LM_ERR_NOT_FOUND")
        self.assertIn("fc.weight", cm.exception.message)



class Export(unittest.TestCase):
    def test_onnx(self):
        import onnx  # python3-onnx: the checker reads what the library wrote
        with tiny_graph() as g, lm.Weights().init_random(g, 3) as w:
            data = g.to_onnx(w, batch=2)
            model = onnx.load_from_string(data)
            onnx.checker.check_model(model, full_check=True)
            dims = [d.dim_value for d in
                    model.graph.input[0].type.tensor_type.shape.dim]
            self.assertEqual(dims, [2, 3, 16, 16])
            ops = [n.op_type for n in model.graph.node]
            self.assertEqual(ops.count("Conv"), 6)  # stem, 4 trunk, proj
            self.assertNotIn("BatchNormalization", ops)
            kept = onnx.load_from_string(g.to_onnx(w, keep_batchnorm=True))
            self.assertEqual([n.op_type for n in kept.graph.node]
                             .count("BatchNormalization"), 4)
            with tempfile.TemporaryDirectory() as d:
                path = pathlib.Path(d) / "tiny.onnx"
                g.save_onnx(path, w, dynamic_batch=True)
                self.assertEqual(path.read_bytes()[:2], data[:2])
                dim0 = onnx.load(str(path)).graph.input[0].type \
                    .tensor_type.shape.dim[0]
                self.assertEqual(dim0.dim_param, "batch")
            with self.assertRaises(lm.LayerMergeError) as cm:
                g.to_onnx(w, opset=12)
            self.assertIn("opset 12", str(cm.exception))
            part = onnx.load_from_string(g.to_onnx(w, prefix_end=2))
            self.assertEqual([n.op_type for n in part.graph.node]
                             .count("Conv"), 3)  # stem, c1, c2
            self.assertNotIn("Gemm", [n.op_type for n in part.graph.node])

if __name__ == "__main__":
    unittest.main(verbosity=2)
