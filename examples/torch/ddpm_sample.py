#!/usr/bin/python3
"""LayerMerge on the DDPM CIFAR-10 U-Net, back in PyTorch: configure the
PyTorch model as a plan says, merge it with the library, load the merged
U-Net into PyTorch and sample a few denoising steps with both.

1. The U-Net of examples/models/ddpm_unet.py (your checkpoint with
   --checkpoint, the authors' state_dict names; else seeded random weights)
   and its graph, examples/models/ddpm_cifar10.yaml.
2. A plan: a solver result of `layermerge compress` (--result), or by
   default (--plan prune) every ResNet block merged into one 3x3 conv (its
   norm2 + SiLU removed, the conv of the smaller L1 norm pruned: the
   entry LayerMerge's table has for that segment) and every upsampling
   conv removed (the identity option); --plan merge keeps both convs of
   every block, which merge into one 5x5 conv.
3. The PyTorch model reconfigured as the plan says, the network a caller
   fine-tunes (docs/method.md section 8): in each block whose activation
   the plan removes, norm2 + SiLU go; pruned convs become identity or the
   zero padding the plan gives them; every conv takes the plan's padding.
   Checked against the library's engine running the same plan.
4. lm_graph_merge, the merged graph and weights saved, loaded back into
   PyTorch by examples/torch/graph_module.py, and checked against the
   reconfigured model: they are one network, so they must agree to float32
   round-off.
5. DDIM sampling (eta 0, the linear beta schedule 1e-4 .. 0.02 over 1000
   steps, --steps of them) from one noise batch with both; the samples and
   the time per denoiser call of each, measured interleaved.

Every check prints `ok:` or `FAILED:`; any failure exits 1. Exit 77 when
torch, numpy or PyYAML is missing.

usage: ddpm_sample.py [--lib liblayermerge.so] [--root SOURCE_ROOT]
                      [--checkpoint CKPT.pt] [--result RESULT.yaml]
                      [--plan prune|merge]
                      [--steps 10] [--batch 4] [--seed 0] [--out DIR]
"""
import argparse
import copy
import os
import pathlib
import sys
import tempfile
import time
import types

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import yaml  # noqa: F401  (graph_module reads the graph with it)
    from torch import nn
except ImportError as exc:
    print(f"skipped: {exc}")
    sys.exit(77)

HERE = pathlib.Path(__file__).resolve().parent
TOLERANCE = 1e-5
failures = []


def check(ok, what):
    print(f"{'ok' if ok else 'FAILED'}: {what}")
    if not ok:
        failures.append(what)


def rel_err(a, b):
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).abs().max() / b.abs().max()).item()


# ---- the PyTorch model as a plan says ------------------------------------

def linear_block_forward(self, x, temb):
    """A ResnetBlock whose activation the plan removes: no norm2 + SiLU
    between its convs (dropout is identity in eval)."""
    h = self.conv1(F.silu(self.norm1(x)))
    h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
    h = self.conv2(h)
    skip = self.nin_shortcut(x) if self.in_channels != self.out_channels else x
    return skip + h


def configure(model, graph, plan):
    """A copy of `model` reconfigured as `plan` says."""
    m = copy.deepcopy(model)
    for c in range(1, graph.conv_count + 1):
        name = graph.conv_info(c).name
        parent_name, _, leaf = name.rpartition(".")
        parent = m.get_submodule(parent_name)
        info = plan.conv_info(c)
        if info.kept:
            conv = getattr(parent, leaf)
            conv.padding = (info.padding, info.padding)
        else:
            setattr(parent, leaf, nn.ZeroPad2d(info.padding) if info.padding
                    else nn.Identity())
        # A block's conv1 writes the position of its switchable activation.
        if leaf == "conv1" and plan.position_info(c).activation == "identity":
            parent.forward = types.MethodType(linear_block_forward, parent)
    return m.eval()


def default_plan(lm, graph, model, how):
    """Every block one segment; the upsampling convs (identity options)
    removed. `how` "merge": both convs of each block kept; "prune": the
    3x3 entry of each block's segment, whose subset the library chooses by
    the convs' L1 norms."""
    n = graph.conv_count
    bounds = [p for p in range(n + 1)
              if p == n or graph.position_info(p).is_barrier]
    kept = [0 if graph.position_info(c).identity_option else 1
            for c in range(1, n + 1)]
    if how == "prune":
        state = model.state_dict()
        l1 = [state[graph.conv_info(c).name + ".weight"].abs().sum().item()
              for c in range(1, n + 1)]
        entries = lm.Entries(graph, l1)
        for i in range(len(entries)):
            r = entries.entry_info(i)
            if r.end - r.st == 2 and r.kernel == 3:
                for c in range(r.st + 1, r.end + 1):
                    kept[c - 1] = int(c in list(r.kept))
    return lm.Plan.for_segments(graph, bounds, kept)


# ---- sampling ---------------------------------------------------------------

def ddim(net, x, steps, timed):
    """Deterministic DDIM (eta 0) over `steps` evenly spaced timesteps of the
    1000-step linear schedule; each denoiser call's time goes to `timed`."""
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    ts = list(range(999, -1, -1000 // steps))[:steps]
    for i, t in enumerate(ts):
        a_t = abar[t]
        a_prev = abar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0,
                                                                 dtype=torch.float64)
        t0 = time.perf_counter()
        eps = net(x, torch.full((x.shape[0],), float(t)))
        timed.append(time.perf_counter() - t0)
        x0 = (x.double() - (1 - a_t).sqrt() * eps.double()) / a_t.sqrt()
        x = (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps.double()).float()
    return x


def save_grid(path, x):
    """The samples as a binary PPM (values clipped from [-1, 1])."""
    img = ((x.clamp(-1, 1) + 1) * 127.5).round().byte()
    row = torch.cat(list(img), dim=2)          # 3 x 32 x (32 * batch)
    h, w = row.shape[1:]
    with open(path, "wb") as f:
        f.write(f"P6 {w} {h} 255\n".encode())
        f.write(row.permute(1, 2, 0).contiguous().numpy().tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", help="liblayermerge.so to use")
    ap.add_argument("--root", default=str(HERE.parents[1]),
                    help="source tree (the zoo and the U-Net definition)")
    ap.add_argument("--checkpoint", help="a state_dict (torch.save) of the "
                    "CIFAR-10 U-Net")
    ap.add_argument("--result", help="a solver result of the U-Net's graph "
                    "(layermerge compress writes OUT-rR.result.yaml)")
    ap.add_argument("--plan", choices=("prune", "merge"), default="prune",
                    help="the plan without --result (default prune)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="directory for the merged network and the "
                    "samples (default: a temporary one)")
    args = ap.parse_args()
    if args.lib:
        os.environ["LAYERMERGE_LIBRARY"] = args.lib
    root = pathlib.Path(args.root)
    sys.path.insert(0, str(root / "python"))
    sys.path.insert(0, str(root / "examples" / "models"))
    sys.path.insert(0, str(HERE))
    import layermerge as lm
    import ddpm_unet
    from graph_module import GraphModule, count_convs

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    model = ddpm_unet.DDPMUNet.cifar10().eval()
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu")
        state = {k.removeprefix("module."): v for k, v in
                 state.get("state_dict", state).items()}
        model.load_state_dict(state)
        print(f"weights: {args.checkpoint}")
    else:
        print("weights: seeded random (pass --checkpoint for a trained model;"
              " the samples are then noise, the checks hold either way)")
    graph = lm.Graph.load(root / "examples" / "models" / "ddpm_cifar10.yaml")
    weights = lm.Weights.from_dict(model.state_dict())
    plan = (lm.Plan.for_result(graph, lm.Result.load(args.result))
            if args.result else default_plan(lm, graph, model, args.plan))
    print(f"plan: {plan.segment_count} segments of {graph.conv_count} convs")

    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(args.batch, 3, 32, 32, generator=gen)
    t = torch.randint(0, 1000, (args.batch,), generator=gen).float()

    # 3. the reconfigured PyTorch model against the library's engine
    chain = configure(model, graph, plan)
    with torch.no_grad():
        y_chain = chain(x, t)
    with lm.Engine(graph, weights, batch=args.batch) as eng:
        eng.configure_plan(plan)
        eng.set_timesteps(t.numpy())
        y_eng = torch.from_numpy(eng.run(x.numpy()))
    e = rel_err(y_eng, y_chain)
    check(e <= TOLERANCE, f"PyTorch configured by the plan == the library's "
          f"engine on the plan: {e:.2e}")

    # 4. merge, save, load into PyTorch
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        mg, mw = graph.merge(weights, plan)
        mg.save(out / "ddpm_merged.yaml")
        mw.save(out / "ddpm_merged.safetensors")
        loaded = lm.Weights.load(out / "ddpm_merged.safetensors")
        tensors = {n: torch.from_numpy(a) for n, a in loaded.to_dict().items()}
        merged = GraphModule(out / "ddpm_merged.yaml", tensors)
        where = (f"written to {out}" if args.out else
                 f"written to {out}, a temporary directory removed at exit "
                 "(--out DIR keeps them)")
        print(f"merged: {count_convs(model)} convs -> {count_convs(merged)} "
              f"({graph.conv_count} trunk convs -> {mg.conv_count}), {where}")
        with torch.no_grad():
            y_merged = merged(x, t)
        e = rel_err(y_merged, y_chain)
        check(e <= TOLERANCE, f"merged U-Net loaded into PyTorch == the "
              f"configured model: {e:.2e}")

        # 5. sampling with both; the original U-Net timed alongside, the
        # three interleaved in two passes of alternating order
        noise = torch.randn(args.batch, 3, 32, 32, generator=gen)
        tc, tm, to = [], [], []
        with torch.no_grad():
            s_chain = ddim(chain, noise, args.steps, tc)
            s_merged = ddim(merged, noise, args.steps, tm)
            ddim(model, noise, args.steps, to)
            ddim(model, noise, args.steps, to)
            ddim(merged, noise, args.steps, tm)
            ddim(chain, noise, args.steps, tc)
        e = rel_err(s_merged, s_chain)
        check(e <= 1e-4, f"{args.steps} DDIM steps: merged samples == "
              f"configured model's samples: {e:.2e}")
        save_grid(out / "samples.ppm", s_merged)
        np.save(out / "samples.npy", s_merged.numpy())
        def ms(v):
            return (f"{np.median(v) * 1e3:.1f} ms ({min(v) * 1e3:.1f}-"
                    f"{max(v) * 1e3:.1f})")
        print(f"PyTorch CPU, 1 thread, batch {args.batch}, per denoiser call "
              f"({len(to)} each): original {ms(to)}, configured {ms(tc)}, "
              f"merged {ms(tm)}: {np.median(to) / np.median(tm):.2f}x")
        if args.out:
            print(f"samples: {out / 'samples.ppm'}, {out / 'samples.npy'}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
