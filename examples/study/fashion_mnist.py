#!/usr/bin/python3
"""LayerMerge against kim23 (merging only) and layer pruning on
Fashion-MNIST, at equal measured latency (docs/results/fashion-mnist.md).

The whole study, as a trainer would run it around the library:

 1. data      Debian's dataset-fashion-mnist (IDX files); a fixed, seeded
              held-out part of the training set scores importance, the
              official 10,000 test images are used only for the final
              test accuracies;
 2. train     a CIFAR-style ResNet-20 for 1x28x28, from scratch;
 3. export    graph YAML + safetensors, checked by the library
              (lm_graph_load, lm_weights_check_graph, engine == torch);
 4. latency   `layermerge latency` (engine, 1 thread, batch 32), also
              imported into the layer-pruning variant of the graph
              (identity options at the prunable positions);
 5. importance  per entry: `layermerge importance shard` gives its plan,
              torch applies it (examples/torch/digits_resnet.apply_plan),
              fine-tunes briefly, scores on the held-out set; rows go to
              the authors' CSV, `layermerge table import` (metric accuracy:
              exp(acc/100)) and `layermerge table merge`. kim23 reads the
              rows of its merge-all segments (the same plans), layer
              pruning gets one fine-tune per removed conv;
 6. proxy     `layermerge importance proxy`: the data-free default, scored
              on the same entries, Spearman correlation against step 5;
 7. solve     `layermerge solve` for LayerMerge, kim23 and prune (and
              LayerMerge on the proxy table) at each budget ratio;
 8. finetune  every chosen network (and the original, for a fair
              control) fine-tuned with one recipe, merged by `layermerge
              merge`, checked by `layermerge verify`, loaded back into
              torch from the merged files (graph_module.GraphModule) and
              tested on the 10,000 test images;
 9. timing    the library's engine times every merged network and the
              original interleaved (rounds, rotated order, 1 thread);
10. report    one line per network, a table, an SVG plot, results.json.

Resumable: every stage leaves its tables/checkpoints in --work and a
re-run continues from them. `--small` runs the same pipeline on a
smaller network and data subset in a few minutes (the meson test
`study-fashion-mnist-small`).

usage: fashion_mnist.py [--work DIR] [--small] [--lib liblayermerge.so]
                        [--layermerge PATH] [--shard I/T] ...
"""
import argparse
import copy
import gzip
import hashlib
import json
import math
import os
import re
import pathlib
import subprocess
import sys
import tempfile
import time

# Spinning OpenMP threads collapse on shared cores (docs/training-loop.md);
# must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "examples" / "torch"))
try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import yaml
except ImportError as exc:
    print(f"skipped: {exc}")
    sys.exit(77)
from digits_resnet import (DigitsResNet, accuracy, apply_plan,  # noqa: E402
                           export_graph)
from graph_module import GraphModule  # noqa: E402
from lm_torch import (TorchLibrary, load_safetensors,  # noqa: E402
                      save_safetensors)
import layermerge  # noqa: E402  (the package; lm_torch points it at --lib)

DATA = pathlib.Path("/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530          # Fashion-MNIST training-set pixel stats
METHODS = ("original", "layermerge", "kim23", "prune", "layermerge-proxy")

# The two protocols. `full` is sized for about an hour on 2 shared cores
# (docs/results/fashion-mnist.md has the measured run time); `small` for
# the meson test.
PROTOCOLS = {
    "full": dict(stages=((16, 3, 1), (32, 3, 2), (64, 3, 2)), stem=16,
                 n_train=None, n_heldout=3000, n_test=None, epochs=2,
                 entry_steps=15, entry_subset=10000, final_epochs=0.3,
                 seeds=2, shards=4, lat_batch=32, lat_reps=10, lat_passes=3,
                 rounds=7, time_reps=10),
    "small": dict(stages=((8, 2, 1), (16, 2, 2), (32, 2, 2)), stem=8,
                  n_train=2000, n_heldout=500, n_test=1000, epochs=3,
                  entry_steps=5, entry_subset=2000, final_epochs=0.5,
                  seeds=1, shards=2, lat_batch=8, lat_reps=5, lat_passes=1,
                  rounds=3, time_reps=5),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=pathlib.Path,
                   help="work directory: tables, checkpoints, results "
                   "(a re-run resumes from it; default: a temporary one, "
                   "removed at the end)")
    p.add_argument("--small", action="store_true",
                   help="small network and data subset (a few minutes)")
    p.add_argument("--lib", help="liblayermerge.so (default: LAYERMERGE_LIB,"
                   " else build/lib/liblayermerge.so, else the loader)")
    p.add_argument("--layermerge", help="the layermerge command (default: "
                   "build/tools/layermerge, else PATH)")
    p.add_argument("--ratios", default="0.8,0.65,0.5",
                   help="latency budgets, fractions of the original")
    p.add_argument("--seeds", type=int, help="fine-tune seeds of the final "
                   "networks (default: the protocol's)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--shard", help="I/T: only score importance shard I of T"
                   " (a job-array task), then stop")
    p.add_argument("--data", type=pathlib.Path, default=DATA)
    return p.parse_args()


def stage(name, t0):
    print(f"[{time.time() - t0:7.1f} s] {name}", flush=True)


def run(cmd, log=None, quiet=False):
    """Run a layermerge command; its output goes to the log file."""
    cmd = [str(c) for c in cmd]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if log is not None:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n{res.stdout}{res.stderr}\n")
    if res.returncode != 0:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(cmd)}\n"
                         f"{res.stdout}{res.stderr}")
    return res.stdout


def atomic_write(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- 1. data ---------------------------------------------------------------

def read_idx(path):
    """An IDX file (gzip): magic 0x0000 0x08 ndim, big-endian dims, bytes."""
    raw = gzip.open(path).read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    arr = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if arr.size != math.prod(dims):
        raise SystemExit(f"{path}: {arr.size} values for dims {dims}")
    return arr.reshape(dims)


def load_data(root, proto):
    """(train, heldout, test) pairs (x [n,1,28,28] normalised, y [n]).
    The held-out part is a seeded random subset of the official training
    set; test is the official test set (its first n_test in --small)."""
    def pair(images, labels):
        x = torch.from_numpy(read_idx(root / images).astype(np.float32))
        x = ((x / 255.0 - MEAN) / STD).unsqueeze(1)
        return x, torch.from_numpy(read_idx(root / labels).astype(np.int64))
    x, y = pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    xt, yt = pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    held, rest = order[:proto["n_heldout"]], order[proto["n_heldout"]:]
    if proto["n_train"]:
        rest = rest[:proto["n_train"]]
    n_test = proto["n_test"] or len(yt)
    return (x[rest], y[rest]), (x[held], y[held]), (xt[:n_test], yt[:n_test])


def augment(x, gen):
    """Random crop (zero padding 2) and horizontal flip, per image."""
    n, pad = len(x), 2
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    h, w = x.shape[-2:]
    for i in range(n):
        img = xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = img.flip(-1) if flip[i] else img
    return out


def train(model, data, steps, lr, seed, batch=128, wd=5e-4, progress=0):
    """SGD momentum 0.9, cosine lr, weight decay, crop + flip."""
    x, y = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                          weight_decay=wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    order, at, loss = torch.randperm(len(y), generator=gen), 0, None
    for step in range(steps):
        if progress and step and step % progress == 0:
            print(f"    step {step}/{steps}, loss {float(loss):.3f}",
                  flush=True)
        if at + batch > len(y):
            order, at = torch.randperm(len(y), generator=gen), 0
        idx = order[at:at + batch]
        at += batch
        loss = F.cross_entropy(model(augment(x[idx], gen)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return float(loss)


def binomial_se(acc, n):
    """Standard error of an accuracy in percent over n independent images."""
    p = acc / 100.0
    return 100.0 * math.sqrt(p * (1.0 - p) / n)


def make_model(proto):
    return DigitsResNet(in_channels=1, stem_width=proto["stem"],
                        stages=proto["stages"], classes=10)


# ---- plans from YAML (the CLI's output) -----------------------------------

class PlanDoc:
    """A plan document of `layermerge importance shard` or `layermerge
    plan` (docs/formats.md, "Plan") read as the package's Plan is by
    apply_plan (examples/torch/lm_torch.py): conv_count, conv_info(c),
    position_info(p), skip_info(i)."""

    def __init__(self, doc):
        self.doc = doc
        self.by_conv = {c["conv"]: c for c in doc["convs"]}
        self.acts = {a["position"]: a["act"] for a in doc["activations"]}

    @property
    def conv_count(self):
        return len(self.doc["convs"])

    def conv_info(self, conv):
        c = self.by_conv[conv]
        return layermerge.Record(kept=int(bool(c["keep"])),
                                 padding=c["padding"])

    def position_info(self, position):
        return layermerge.Record(activation=self.acts[position])

    def convs(self):
        """[(conv, kept, padding)] of trunk convs 1..N."""
        return [(c["conv"], bool(c["keep"]), c["padding"])
                for c in self.doc["convs"]]

    def skip_info(self, skip):
        s = self.doc["skips"][skip]
        return layermerge.Record(fused=int(s["fused"]),
                                 dropped=int(s["dropped"]))

    def digest(self):
        """Identifies the network the plan builds (fingerprint dropped:
        the two graphs of the study differ only in identity options)."""
        body = {k: v for k, v in self.doc.items() if k != "fingerprint"}
        return hashlib.sha1(json.dumps(body, sort_keys=True).encode()
                            ).hexdigest()[:12]


def read_plans(path):
    """[(entry key, PlanDoc)] of a `layermerge importance shard` stream:
    each document is a plan preceded by its `entry:` key."""
    out = []
    for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
        if doc:
            out.append((doc.pop("entry"), PlanDoc(doc)))
    return out


def plan_file(path):
    return PlanDoc(yaml.safe_load(pathlib.Path(path).read_text()))


# ---- the study ------------------------------------------------------------

class Study:
    def __init__(self, args):
        self.args = args
        self.proto = dict(PROTOCOLS["small" if args.small else "full"])
        if args.seeds:
            self.proto["seeds"] = args.seeds
        self.ratios = [float(r) for r in args.ratios.split(",")]
        self.work = args.work
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = self.work / "commands.log"
        self.t0 = time.time()
        lib = args.lib or os.environ.get("LAYERMERGE_LIB")
        if lib is None and (ROOT / "build/lib/liblayermerge.so").exists():
            lib = str(ROOT / "build/lib/liblayermerge.so")
        self.lm = TorchLibrary(lib)
        self.cli = args.layermerge or (
            str(ROOT / "build/tools/layermerge")
            if (ROOT / "build/tools/layermerge").exists() else "layermerge")
        self.g = self.work / "resnet.yaml"           # LayerMerge and kim23
        self.gp = self.work / "resnet-prune.yaml"    # + identity options
        self.w = self.work / "base.safetensors"

    def say(self, text):
        stage(text, self.t0)

    # 1-2: data and the trained network
    def train_base(self, data):
        ckpt = self.work / "base.pt"
        model = make_model(self.proto)
        if ckpt.exists():
            saved = torch.load(ckpt)
            model.load_state_dict(saved["state"])
            model.eval()
            self.say(f"train: resumed {ckpt.name} (test {saved['test']:.2f}%)")
            return model, saved
        torch.manual_seed(0)
        steps = int(self.proto["epochs"] * len(data[0][1]) / 128)
        t = time.time()
        loss = train(model, data[0], steps, lr=0.1, seed=0,
                     progress=max(steps // 4, 1))
        saved = {"state": model.state_dict(), "steps": steps,
                 "seconds": time.time() - t, "loss": loss,
                 "test": accuracy(model, data[2]),
                 "heldout": accuracy(model, data[1])}
        torch.save(saved, ckpt.with_suffix(".tmp"))
        os.replace(ckpt.with_suffix(".tmp"), ckpt)
        self.say(f"train: {steps} steps ({self.proto['epochs']} epochs) in "
                 f"{saved['seconds']:.0f} s, loss {loss:.3f}, test "
                 f"{saved['test']:.2f}%, held-out {saved['heldout']:.2f}%")
        return model, saved

    # 3: graph files and weights, checked by the library
    def export(self, model, data):
        text = export_graph(model, 28, name="fashion_resnet")
        atomic_write(self.g, text)
        # Layer pruning replaces one conv by identity: the graph must allow
        # the identity option at that conv's position (docs/method.md
        # section 4); only reducible convs (in == out, stride 1) qualify.
        prunable = [p for p, (c, _, _) in enumerate(self.convs(model), 1)
                    if c.in_channels == c.out_channels and c.stride[0] == 1]
        atomic_write(self.gp, text.replace(
            "identity_options: []",
            f"identity_options: [{', '.join(map(str, prunable))}]"))
        save_safetensors(self.w, model.state_dict())
        graph = self.lm.graph_load(self.g)
        weights = self.lm.weights_load(self.w)
        self.lm.check_weights(weights, graph)
        x = data[2][0][:16]
        with torch.no_grad():
            want = model(x).numpy()
        got = self.lm.engine(graph, weights, 16).run(x)
        rel = float(np.abs(got - want).max() / np.abs(want).max())
        if rel > 1e-4:
            raise SystemExit(f"export: library engine differs from torch "
                             f"(relative {rel:.2e})")
        self.say(f"export: {graph.conv_count} trunk convs, {graph.skip_count}"
                 f" skips; engine = torch to {rel:.1e}; prunable convs "
                 f"{prunable}")
        return graph, prunable

    @staticmethod
    def convs(model):
        return [(getattr(b, f"conv{i}"), pre, i) for pre, b in model.blocks()
                for i in (1, 2)]

    # 4: latency tables measured by the library
    def latency(self):
        p = self.proto
        lat, latp = self.work / "latency.yaml", self.work / "latency-prune.yaml"
        t = time.time()
        run([self.cli, "latency", self.g, "-o", lat, "--batch",
             p["lat_batch"], "--threads", 1, "--reps", p["lat_reps"],
             "--passes", p["lat_passes"]], self.log)
        # Layer pruning solves on the prune graph, whose entries add only
        # identity options (latency 0 by definition): it reads the same
        # timings, so that one noisy measurement cannot favour one method.
        # The CSV carries no fixed cost; solve() takes it off the budget.
        csv = self.work / "latency.csv"
        run([self.cli, "table", "export", lat, "-o", csv], self.log)
        run([self.cli, "table", "import", "--kind", "latency", "--graph",
             self.gp, csv, "-o", latp], self.log)
        self.say(f"latency: {lat.name} (engine, batch {p['lat_batch']}, 1 "
                 f"thread, {p['lat_passes']} passes) in {time.time() - t:.0f}"
                 f" s; {latp.name} holds the same timings for the prune graph")

    # 5: importance by fine-tuning every entry's plan
    def finetune_score(self, model, plan, data):
        m = apply_plan(copy.deepcopy(model), self.lm, plan)
        sub = (data[0][0][:self.proto["entry_subset"]],
               data[0][1][:self.proto["entry_subset"]])
        train(m, sub, self.proto["entry_steps"], lr=0.02, seed=100)
        return accuracy(m, data[1])

    def score_shard(self, model, data, i, n_shards, n_entries, cache):
        lo, hi = i * n_entries // n_shards, (i + 1) * n_entries // n_shards
        plans = self.work / f"plans_{i}.yaml"
        csv = self.work / f"shard_{i}.csv"
        shard = self.work / f"shard_{i}.yaml"
        if shard.exists():
            return shard
        if not plans.exists():
            # With the weights, each entry's kept convs are the largest
            # summed L1 norm (docs/method.md section 4); the table records
            # them, and the solver holds later steps to them.
            run([self.cli, "importance", "shard", self.g, self.w, "--range",
                 f"{lo}:{hi}", "-o", plans], self.log)
        done = {}
        if csv.exists():
            for line in csv.read_text().splitlines()[1:]:
                done[int(line.split(",")[0])] = line
        t = time.time()
        for key, plan in read_plans(plans):
            if key["id"] in done:
                continue
            d = plan.digest()
            if d not in cache["acc"]:
                cache["acc"][d] = self.finetune_score(model, plan, data)
                atomic_write(self.work / "scores.json", json.dumps(cache))
            kept = ", ".join(str(c) for c, k, _ in plan.convs() if k and
                            key["st"] < c <= key["end"])
            done[key["id"]] = (f"{key['id']},{key['st']},{key['end']},"
                               f"{key['kernel']},{key['stride']},"
                               f"{int(key['depthwise'])},\"[{kept}]\","
                               f"{cache['acc'][d]!r}")
            atomic_write(csv, "id,st,end,ker,str,is_dw,conv_comb,importance\n"
                         + "\n".join(done[k] for k in sorted(done)) + "\n")
        run([self.cli, "table", "import", "--kind", "importance", "--metric",
             "accuracy", "--graph", self.g, csv, "-o", shard], self.log)
        self.say(f"importance: shard {i}/{n_shards} (entries {lo}:{hi}) in "
                 f"{time.time() - t:.0f} s; {len(cache['acc'])} distinct "
                 f"plans fine-tuned so far")
        return shard

    def importance(self, model, data, only=None):
        n = len(run([self.cli, "entries", self.g]).splitlines()) - 1
        cache_path = self.work / "scores.json"
        cache = (json.loads(cache_path.read_text()) if cache_path.exists()
                 else {"acc": {}})
        T = self.proto["shards"]
        if only is not None:
            i, T = only
            self.score_shard(model, data, i, T, n, cache)
            return None
        shards = [self.score_shard(model, data, i, T, n, cache)
                  for i in range(T)]
        out = self.work / "importance.yaml"
        run([self.cli, "table", "merge", "--graph", self.g, *shards, "-o",
             out], self.log)
        # Layer pruning: one fine-tune per removed conv, the same protocol.
        # The plan is the identity entry (c-1, c] of the prune graph; a
        # pruned conv takes its activation with it in a prune result
        # (docs/solvers.md), so position c's activation is off as well:
        # the scored network is the one a prune result removing c builds.
        prune_path = self.work / "prune-importance.json"
        prune = (json.loads(prune_path.read_text()) if prune_path.exists()
                 else {})
        entries = layermerge.Entries(self.lm.graph_load(self.gp))
        t = time.time()
        for c in self.prunable:
            if str(c) in prune:
                continue
            eid = entries.find((c - 1, c, 0, 1, 1))
            doc = yaml.safe_load(run([self.cli, "plan", self.gp, "--entry",
                                      eid]))
            for a in doc["activations"]:
                if a["position"] == c:
                    a["act"] = "identity"
            plan = PlanDoc(doc)
            d = plan.digest()
            if d not in cache["acc"]:
                cache["acc"][d] = self.finetune_score(model, plan, data)
                atomic_write(cache_path, json.dumps(cache))
            prune[str(c)] = cache["acc"][d]
            atomic_write(prune_path, json.dumps(prune))
        self.say(f"importance: {len(self.prunable)} single-conv removals for "
                 f"layer pruning in {time.time() - t:.0f} s")
        return out

    def table_entries(self, graph, table):
        """The entries keeping the convs the table was measured with."""
        return layermerge.Entries.from_table(graph, table)

    # 6: the data-free proxy on the same entries
    def proxy(self):
        out = self.work / "proxy.yaml"
        run([self.cli, "importance", "proxy", self.g, self.w, "-o", out],
            self.log)
        graph = self.lm.graph_load(self.g)
        tuned = layermerge.Table.load(self.work / "importance.yaml")
        prox = layermerge.Table.load(out)
        entries = self.table_entries(graph, tuned)
        a, b, orig = [], [], []
        for i in range(len(entries)):
            e = entries.entry_info(i)
            is_orig = e["end"] - e["st"] == 1 and e["kept"] == [e["end"]]
            if is_orig and orig:
                continue     # the unchanged network: count it once
            orig.append(is_orig)
            a.append(tuned.get_entry(entries, i)[1])   # raw accuracy
            b.append(prox.get_entry(entries, i)[0])    # exp(-error)
        rho = spearman(a, b)
        self.say(f"proxy: Spearman {rho:.3f} between proxy and fine-tuned "
                 f"importance over {len(a)} distinct entries")
        return out, rho, len(a)

    # 7: solve
    def solve(self):
        res = {}
        lat, latp = self.work / "latency.yaml", self.work / "latency-prune.yaml"
        imp, prox = self.work / "importance.yaml", self.work / "proxy.yaml"
        graph = self.lm.graph_load(self.g)
        tuned = layermerge.Table.load(imp)
        entries = self.table_entries(graph, tuned)
        solver = self.lm.solver(graph, entries, layermerge.Table.load(lat),
                                tuned)
        t0 = solver.original_latency
        fixed = solver.fixed_latency
        # kim23's inputs (its authors' files): the merge-all time of every
        # segment, and the raw score of every (st, end, st_act, end_act).
        # This graph has no identity positions, so each segment has one
        # row (1, 1), whose network is the segment's merge-all entry:
        # its fine-tuned accuracy is reused, the plan being the same.
        k_time, k_raw = self.work / "kim23-time.csv", self.work / "kim23-raw.csv"
        run([self.cli, "table", "export", "--format", "kim23-time", lat, "-o",
             k_time], self.log)
        rows, by_seg = [], {}
        for i in range(len(entries)):
            e = entries.entry_info(i)
            seg = (e["st"], e["end"])
            if e["kernel"] > by_seg.get(seg, (-1, 0))[0]:
                by_seg[seg] = (e["kernel"], i)
        for n, ((st, end), (_, i)) in enumerate(sorted(by_seg.items())):
            rows.append(f"{n},{st},{end},1,1,{tuned.get_entry(entries, i)[1]!r}")
        atomic_write(k_raw, "id,st,end,st_act,end_act,val_acc\n" +
                     "\n".join(rows) + "\n")
        # Layer pruning's conv importance: what removing the conv costs in
        # exp(acc/100), the table's normalisation.
        prune = json.loads((self.work / "prune-importance.json").read_text())
        base = tuned.get_entry(entries, entries.find_original(1))[1]
        k_conv = self.work / "prune-convs.csv"
        atomic_write(k_conv, "conv,importance\n" + "".join(
            f"{c},{math.exp(base / 100) - math.exp(prune.get(str(c), base) / 100)!r}\n"
            for c in range(1, graph.conv_count + 1)))
        common = ["--calibrate", "off", "--precision", 0]
        for r in self.ratios:
            budget = r * t0
            jobs = {
                "layermerge": [self.g, "--latency", lat, "--importance", imp,
                               "--budget", budget],
                "layermerge-proxy": [self.g, "--latency", lat, "--importance",
                                     prox, "--budget", budget],
                # kim23's tables and the prune latency table (imported
                # from CSV) carry no fixed cost: their budget is the same
                # whole-network budget minus the fixed part.
                "kim23": ["--method", "kim23", "--latency", k_time,
                          "--importance", k_raw, "--graph", self.g,
                          "--budget", budget - fixed],
                "prune": [self.gp, "--method", "prune", "--latency", latp,
                          "--conv-importance", k_conv, "--budget",
                          budget - fixed],
            }
            for method, argv in jobs.items():
                out = self.work / f"{method}-r{r:g}.result.yaml"
                proc = subprocess.run(
                    [str(a) for a in [self.cli, "solve", *argv, *common, "-o",
                                      out]], capture_output=True, text=True)
                with open(self.log, "a") as f:
                    f.write(f"$ solve {method} r={r}\n{proc.stdout}"
                            f"{proc.stderr}\n")
                if proc.returncode == 0:
                    res[(method, r)] = out
                else:
                    res[(method, r)] = proc.stderr.strip().splitlines()[-1]
                    self.say(f"solve: {method} at {r:g}: "
                             f"{res[(method, r)]}")
        # Merging alone may never be faster than the original on this
        # engine; then kim23 is also solved at its own smallest feasible
        # budget (the library's message states it), so it has a point.
        k23 = [v for (m, _), v in res.items() if m == "kim23"]
        if k23 and all(isinstance(v, str) for v in k23):
            found = re.search(r"smallest feasible budget ([0-9.eE+-]+)",
                              k23[-1])
            if found:
                b = float(found.group(1)) * (1 + 1e-9)
                r = round((b + fixed) / t0, 3)
                out = self.work / f"kim23-r{r:g}.result.yaml"
                run([self.cli, "solve", "--method", "kim23", "--latency",
                     k_time, "--importance", k_raw, "--graph", self.g,
                     "--budget", b, *common, "-o", out], self.log)
                res[("kim23", r)] = out
                self.say(f"solve: kim23 at its smallest feasible budget, "
                         f"{r:g} x the original")
        self.say(f"solve: original {t0:.3f} ms predicted (fixed "
                 f"{fixed:.3f} ms); {sum(isinstance(v, pathlib.Path) for v in res.values())}"
                 f" of {len(res)} solves feasible")
        return res, t0

    # 8: fine-tune, merge, verify, test
    def final(self, model, data, method, r, result, seed):
        graph = self.gp if method == "prune" else self.g
        tag = f"{method}-r{r:g}-s{seed}" if result else f"original-s{seed}"
        done = self.work / "final" / f"{tag}.json"
        if done.exists():
            return json.loads(done.read_text())
        done.parent.mkdir(exist_ok=True)
        t = time.time()
        if result:
            plan_path = self.work / "final" / f"{tag}.plan.yaml"
            run([self.cli, "plan", graph, "--result", result, "-o",
                 plan_path], self.log)
            plan = plan_file(plan_path)
            # Two solvers may choose the same network (LayerMerge on either
            # table): its fine-tune is deterministic, so it is done once.
            for other in done.parent.glob(f"*-s{seed}.json"):
                rec = json.loads(other.read_text())
                if rec.get("digest") == plan.digest() and \
                        rec["graph_in"] == str(graph):
                    rec.update(method=method, ratio=r, same_as=other.stem)
                    atomic_write(done, json.dumps(rec))
                    self.say(f"finetune: {tag}: the network of "
                             f"{other.stem}, {rec['test_accuracy']:.2f}%")
                    return rec
            m = apply_plan(copy.deepcopy(model), self.lm, plan)
        else:
            m, plan = copy.deepcopy(model), None
        steps = int(self.proto["final_epochs"] * len(data[0][1]) / 128)
        train(m, data[0], steps, lr=0.02, seed=1000 + seed)
        chain_acc = accuracy(m, data[2])
        w = self.work / "final" / f"{tag}.safetensors"
        save_safetensors(w, m.state_dict())
        plan_arg = None
        if result and method == "prune":
            # netmerge cannot write a graph in which a conv became the
            # identity option (netmerge.h): the pruned network is the
            # engine running the result's plan on the original graph, its
            # batch norms folded at creation as in a merged network; no
            # conv is merged, so this is the same work a merged file would
            # do. Checked against torch here.
            plan_arg = str(result)
            merged_g, merged_w = str(graph), str(w)
            x = data[2][0][:self.proto["lat_batch"]]
            eng = self.engine(merged_g, merged_w, plan_arg)
            with torch.no_grad():
                want = m(x).numpy()
            rel = float(np.abs(eng.run(x) - want).max() / np.abs(want).max())
            if rel > 1e-4:
                raise SystemExit(f"{tag}: engine running the plan differs "
                                 f"from torch (relative {rel:.2e})")
            test_acc, convs = chain_acc, sum(k for _, k, _ in plan.convs())
        elif result:
            prefix = self.work / "final" / f"{tag}.merged"
            run([self.cli, "merge", graph, w, result, "-o", prefix], self.log)
            out = run([self.cli, "verify", graph, w, result, "--merged",
                       f"{prefix}.yaml", "--tolerance", "1e-4"], self.log)
            rel = float(out.strip().split("max_rel_error=")[-1])
            merged_g, merged_w = f"{prefix}.yaml", f"{prefix}.safetensors"
            back = GraphModule(merged_g, load_safetensors(merged_w))
            test_acc = accuracy(back, data[2])
            convs = len(back.convs)
        else:
            merged_g, merged_w, rel, test_acc = str(self.g), str(w), 0.0, \
                chain_acc
            convs = len(self.convs(model))
        rec = {"method": method, "ratio": r if result else 1.0, "seed": seed,
               "graph": merged_g, "weights": merged_w, "plan": plan_arg,
               "digest": plan.digest() if plan else None,
               "graph_in": str(graph), "trunk_convs": convs,
               "chain_accuracy": chain_acc, "test_accuracy": test_acc,
               "verify_max_rel": rel, "seconds": time.time() - t,
               "steps": steps}
        atomic_write(done, json.dumps(rec))
        self.say(f"finetune: {tag}: {convs} trunk convs, test "
                 f"{test_acc:.2f}% (chain {chain_acc:.2f}%), "
                 f"{'engine = torch' if plan_arg else 'merge verified'} to "
                 f"{rel:.1e}, {rec['seconds']:.0f} s")
        return rec

    # 9: measured latency, interleaved
    def engine(self, g, w, result=None):
        """The library's engine on a network file at the latency batch,
        1 OpenBLAS thread; with `result`, running that result's plan."""
        graph = self.lm.graph_load(g)
        eng = self.lm.engine(graph, self.lm.weights_load(w),
                             self.proto["lat_batch"])
        eng.set_threads(1)
        if result is not None:
            eng.configure(self.lm.plan_for_result(
                graph, layermerge.Result.load(result)))
        return eng

    def timing(self, nets):
        p = self.proto
        engines = {key: self.engine(*net) for key, net in nets.items()}
        keys = list(engines)
        samples = {k: [] for k in keys}
        # Per round the fastest of `time_reps` runs (other processes only
        # ever add time), then the median over rounds; each round times
        # every network, in an order rotated by one per round.
        for rnd in range(p["rounds"]):
            order = keys[rnd % len(keys):] + keys[:rnd % len(keys)]
            for k in order:
                samples[k].append(engines[k].time(2, p["time_reps"])
                                  ["min_ms"])
        return {k: float(np.median(v)) for k, v in samples.items()}, samples


def spearman(a, b):
    """Spearman's rho: Pearson correlation of average ranks (ties share)."""
    def ranks(v):
        v = np.asarray(v, float)
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            r[order[i:j + 1]] = (i + j) / 2.0
            i = j + 1
        return r
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum() / den) if den else float("nan")


def plot_svg(path, rows, title, batch):
    """Accuracy (mean over seeds, +-1 SE bars) against measured speed-up."""
    W, H, L, R, T, B = 640, 420, 70, 170, 40, 50
    pts = [r for r in rows if r["speedup"] is not None]
    xs = [r["speedup"] for r in pts]
    x0, x1 = min(xs + [1.0]) - 0.05, max(xs + [1.0]) + 0.05
    lo = min(r["acc"] - r["se"] for r in pts)
    hi = max(r["acc"] + r["se"] for r in pts)
    y0, y1 = math.floor(lo - 0.5), math.ceil(hi + 0.5)

    def X(v):
        return L + (v - x0) / (x1 - x0) * (W - L - R)

    def Y(v):
        return T + (y1 - v) / (y1 - y0) * (H - T - B)
    colours = {"original": "#000000", "layermerge": "#d62728",
               "kim23": "#1f77b4", "prune": "#2ca02c",
               "layermerge-proxy": "#ff7f0e"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}"'
           f' font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="22" font-size="14">{title}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" '
           f'stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    step = next(v for v in (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
                if (x1 - x0) / v <= 8)
    v = math.ceil(x0 / step) * step
    while v <= x1:
        out.append(f'<line x1="{X(v):.1f}" y1="{H - B}" x2="{X(v):.1f}" '
                   f'y2="{H - B + 5}" stroke="black"/><text x="{X(v):.1f}" '
                   f'y="{H - B + 18}" text-anchor="middle">{v:.2f}</text>')
        v += step
    ystep = next(v for v in (0.5, 1, 2, 5, 10, 20) if (y1 - y0) / v <= 10)
    v = math.ceil(y0 / ystep) * ystep
    while v <= y1:
        out.append(f'<line x1="{L - 5}" y1="{Y(v):.1f}" x2="{W - R}" '
                   f'y2="{Y(v):.1f}" stroke="#dddddd"/><text x="{L - 8}" '
                   f'y="{Y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += ystep
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" '
               f'text-anchor="middle">measured speed-up over the original '
               f'(library engine, batch {batch}, 1 thread)</text>')
    out.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(T + H - B) / 2})">test accuracy'
               f' (%)</text>')
    for method in METHODS:
        mp = sorted((r for r in pts if r["method"] == method),
                    key=lambda r: r["speedup"])
        if not mp:
            continue
        c = colours[method]
        if len(mp) > 1:
            out.append('<polyline fill="none" stroke="%s" points="%s"/>' % (
                c, " ".join(f"{X(r['speedup']):.1f},{Y(r['acc']):.1f}"
                            for r in mp)))
        for r in mp:
            x, y = X(r["speedup"]), Y(r["acc"])
            out.append(f'<line x1="{x:.1f}" y1="{Y(r["acc"] - r["se"]):.1f}" '
                       f'x2="{x:.1f}" y2="{Y(r["acc"] + r["se"]):.1f}" '
                       f'stroke="{c}"/><circle cx="{x:.1f}" cy="{y:.1f}" '
                       f'r="4" fill="{c}"/>')
    for i, method in enumerate(METHODS):
        y = T + 10 + 20 * i
        out.append(f'<circle cx="{W - R + 20}" cy="{y}" r="4" '
                   f'fill="{colours[method]}"/><text x="{W - R + 30}" '
                   f'y="{y + 4}">{method}</text>')
    out.append("</svg>")
    atomic_write(path, "\n".join(out) + "\n")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data / "train-images-idx3-ubyte.gz").exists():
        print(f"skipped: {args.data} lacks the IDX files (Debian package "
              f"dataset-fashion-mnist)")
        return 77
    with tempfile.TemporaryDirectory(prefix="lm-study-") as tmp:
        if args.work is None:
            args.work = pathlib.Path(tmp)
        return study(args)


def study(args):
    st = Study(args)
    p = st.proto
    st.say(f"start: {'small' if args.small else 'full'} protocol {p}; torch "
           f"{torch.__version__}, {args.threads} threads; work {st.work}")
    data = load_data(args.data, p)
    st.say(f"data: {len(data[0][1])} train, {len(data[1][1])} held-out "
           f"(seeded, for importance), {len(data[2][1])} test")
    model, base = st.train_base(data)
    graph, st.prunable = st.export(model, data)
    if args.shard:
        i, T = (int(v) for v in args.shard.split("/"))
        st.importance(model, data, only=(i, T))
        return 0
    if not (st.work / "latency-prune.yaml").exists():
        st.latency()
    st.importance(model, data)
    _, rho, n_rho = st.proxy()
    results, t0 = st.solve()
    recs = []
    for seed in range(p["seeds"]):
        recs.append(st.final(model, data, "original", 1.0, None, seed))
        for (method, r), res in results.items():
            if isinstance(res, pathlib.Path):
                recs.append(st.final(model, data, method, r, res, seed))
    st.say("timing: merged networks and the original, interleaved")
    nets = {}
    for rec in recs:
        key = (rec["method"], rec["ratio"])
        nets.setdefault(key, (rec["graph"], rec["weights"], rec["plan"]))
    med, samples = st.timing(nets)
    orig_ms = med[("original", 1.0)]
    rows = []
    n_test = len(data[2][1])
    for method in METHODS:
        for r in ([1.0] if method == "original" else sorted(
                set(st.ratios) | {r for m, r in results if m == method},
                reverse=True)):
            mine = [x for x in recs if x["method"] == method and
                    x["ratio"] == r]
            if not mine:
                rows.append({"method": method, "ratio": r, "acc": None,
                             "se": None, "ms": None, "speedup": None,
                             "seeds": [], "note": results.get((method, r)),
                             "convs": None})
                continue
            accs = [x["test_accuracy"] for x in mine]
            acc = float(np.mean(accs))
            # Binomial SE of one network over the test images, averaged
            # over seeds as independent repeats (SE / sqrt(seeds)).
            se = binomial_se(acc, n_test) / math.sqrt(len(accs))
            ms = med[(method, r)]
            rows.append({"method": method, "ratio": r, "acc": acc, "se": se,
                         "ms": ms, "speedup": orig_ms / ms, "seeds": accs,
                         "note": None, "convs": mine[0]["trunk_convs"]})
    for row in rows:
        if row["acc"] is None:
            print(f"method={row['method']} budget_ratio={row['ratio']:g} "
                  f"test_accuracy=nan measured_ms=nan speedup=nan "
                  f"({row['note']})")
        else:
            print(f"method={row['method']} budget_ratio={row['ratio']:g} "
                  f"test_accuracy={row['acc']:.2f} measured_ms={row['ms']:.3f}"
                  f" speedup={row['speedup']:.3f}")
    print(f"\n{'method':17s} {'budget':>6s} {'convs':>5s} {'ms':>8s} "
          f"{'speed-up':>8s} {'test acc':>8s} {'SE':>5s}  per seed")
    for row in rows:
        if row["acc"] is None:
            print(f"{row['method']:17s} {row['ratio']:6.2f}  infeasible: "
                  f"{row['note']}")
            continue
        print(f"{row['method']:17s} {row['ratio']:6.2f} {row['convs']:5d} "
              f"{row['ms']:8.3f} {row['speedup']:8.3f} {row['acc']:8.2f} "
              f"{row['se']:5.2f}  {' '.join(f'{a:.2f}' for a in row['seeds'])}")
    print(f"\nSpearman(proxy, fine-tuned importance) = {rho:.3f} over {n_rho}"
          f" distinct entries; base network {base['test']:.2f}% test before "
          f"the final fine-tunes; run time {time.time() - st.t0:.0f} s")
    md = ["| method | budget | trunk convs | measured ms | speed-up | "
          "test accuracy (%) | SE | per seed |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row["acc"] is None:
            md.append(f"| {row['method']} | {row['ratio']:g} | infeasible "
                      f"| | | | | |")
            continue
        md.append(f"| {row['method']} | {row['ratio']:g} | {row['convs']} | "
                  f"{row['ms']:.2f} | {row['speedup']:.2f} | {row['acc']:.2f}"
                  f" | {row['se']:.2f} | "
                  f"{', '.join(f'{a:.2f}' for a in row['seeds'])} |")
    atomic_write(st.work / "table.md", "\n".join(md) + "\n")
    plot_svg(st.work / "fashion-mnist.svg", rows,
             f"Fashion-MNIST, {'small net' if args.small else 'ResNet-20'}: "
             f"accuracy vs measured speed-up", p["lat_batch"])
    atomic_write(st.work / "results.json", json.dumps({
        "protocol": {k: v for k, v in p.items()}, "rows": rows,
        "spearman": rho, "spearman_n": n_rho, "base": {
            k: v for k, v in base.items() if k != "state"},
        "predicted_original_ms": t0, "timing_samples": {
            f"{k[0]}@{k[1]:g}": v for k, v in samples.items()},
        "finals": recs, "seconds": time.time() - st.t0}, indent=1))
    st.say(f"done: {st.work / 'results.json'}, {st.work / 'fashion-mnist.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
