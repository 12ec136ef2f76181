#!/usr/bin/env python3
"""PyTorch-on-CPU peer baseline for the k-osc conditional flow-matching model.

Mirrors: ResidualEncoder (|rfft| -> conv stages -> 128-d conditioning) and
ApproxEquivTransformer (Param2Tok + 5 adaLN DiT blocks), rectified-flow training step
(Adam 1e-4, grad clip 1.0, CFG dropout 0.1, L1 on the assignment) and RK4+CFG sampling.

Measures per k in {4, 8, 16, 32} at batch 1024 with torch.set_num_threads(2):
  (a) full training step  (encoder + VF + backward + clip + Adam)
  (b) vector-field-only forward+backward (conditioning given, no optimizer)
  (c) RK4 sampling, 50 steps, CFG w=2 (cond/uncond batched as 2B) incl. one encoder pass
  (d) parameter counts, plus analytic forward MAC/FLOP counts (hook-based)
Prints a table and writes results_torch.json next to this file.

symflow copy (bench/peer/): the same model and measurements as ../shared/peer/torch_kosc_bench.py,
plus
  (e) "invert": one sound inverted alone, batch 1, RK4 --invert-steps (100) steps, CFG w = 2,
      encoder pass included, timed with 2 threads and with 1 (torch.set_num_threads);
and --parts to choose which of train, vf, enc, sample, invert run (default: all but invert, as
the original). --out defaults to results_torch.json in the current directory.
"""
import argparse
import ctypes
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kosc_data  # noqa: E402

# ----------------------------------------------------------------------------- encoder


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 7, padding=3)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, 1)
        self.bn2 = nn.BatchNorm1d(cout)
        self.skip = nn.Identity() if cin == cout else nn.Conv1d(cin, cout, 1)

    def forward(self, x):
        h = self.bn1(F.gelu(self.conv1(x)))
        h = self.bn2(F.gelu(self.conv2(h)))
        return h + self.skip(x)


class Downsample(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.conv = nn.Conv1d(dim, 2 * dim, 6, stride=3, padding=1)

    def forward(self, x):
        return F.gelu(self.conv(self.bn(x)))


class ResMLP(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.norm = nn.LayerNorm(d_in)
        self.fc1 = nn.Linear(d_in, d_in)
        self.fc2 = nn.Linear(d_in, d_out)
        self.res = nn.Linear(d_in, d_out, bias=False)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(self.norm(x)))) + self.res(x)


class ResidualEncoder(nn.Module):
    def __init__(self, n_samples=1024, base=24, n_stages=4, d_hidden=512, d_out=128):
        super().__init__()
        layers, cin, c = [], 1, base
        for _ in range(n_stages):
            layers += [ResBlock(cin, c), ResBlock(c, c), Downsample(c)]
            cin = c = 2 * c
        self.net = nn.Sequential(*layers)
        with torch.no_grad():
            n_flat = self.net(torch.zeros(2, 1, n_samples // 2 + 1)).flatten(1).shape[1]
        self.n_flat = n_flat
        self.proj = nn.Linear(n_flat, d_hidden)
        self.mlp = ResMLP(d_hidden, d_out)

    def forward(self, signal):
        mag = torch.fft.rfft(signal, norm="forward").abs().unsqueeze(1)  # (B,1,513)
        h = self.net(mag).flatten(1)
        return self.mlp(self.proj(h))


# ----------------------------------------------------------------------------- vector field


class Param2Tok(nn.Module):
    def __init__(self, n_params, n_tokens, d):
        super().__init__()
        self.n_params, self.n_tokens, self.d = n_params, n_tokens, d
        self.p_in = nn.Parameter(torch.randn(n_params, d) / math.sqrt(d))
        self.assign = nn.Parameter(torch.randn(n_tokens, n_params) / math.sqrt(n_params))
        self.p_out = nn.Parameter(torch.randn(d, n_params) / math.sqrt(d))
        self.ffn = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))

    def to_tokens(self, x):  # x (B, n) -> (B, T, d)
        values = x.unsqueeze(-1) * self.p_in  # (B,n,d)
        values = self.ffn(values)
        return torch.matmul(self.assign, values)  # (T,n)@(B,n,d) -> (B,T,d)

    def from_tokens(self, tok):  # (B,T,d) -> (B,n)
        deassigned = torch.matmul(self.assign.t(), tok)  # (B,n,d)
        return (deassigned * self.p_out.t()).sum(-1)

    def penalty(self):
        return self.assign.abs().mean()

    def extra_macs(self, batch):  # MACs not done by nn.Linear (for the hook counter)
        n, t, d = self.n_params, self.n_tokens, self.d
        return batch * (n * d + t * n * d + t * n * d + n * d)


class DiTBlock(nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))
        self.cond = nn.Sequential(nn.GELU(), nn.Linear(d, 6 * d))

    def forward(self, x, c):
        g1, b1, a1, g2, b2, a2 = self.cond(c).unsqueeze(1).chunk(6, dim=-1)
        h = g1 * self.norm1(x) + b1
        x = x + a1 * self.attn(h, h, h, need_weights=False)[0]
        h = g2 * self.norm2(x) + b2
        return x + a2 * self.ff(h)


class ApproxEquivTransformer(nn.Module):
    def __init__(self, n_params, n_tokens, d=128, heads=4, d_ff=256, n_layers=5, d_cond=128):
        super().__init__()
        self.p2t = Param2Tok(n_params, n_tokens, d)
        self.cond = nn.Sequential(nn.Linear(d_cond + 1, d), nn.GELU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList([DiTBlock(d, heads, d_ff) for _ in range(n_layers)])

    def forward(self, x, t, z):
        c = self.cond(torch.cat([z, t], dim=-1))
        h = self.p2t.to_tokens(x)
        for blk in self.blocks:
            h = blk(h, c)
        return self.p2t.from_tokens(h)

    def penalty(self):
        return self.p2t.penalty()


class KOscFlow(nn.Module):
    def __init__(self, k, n_tokens=None, n_samples=1024):
        super().__init__()
        self.n_params = 3 * k
        self.encoder = ResidualEncoder(n_samples)
        self.vf = ApproxEquivTransformer(self.n_params, n_tokens or k)
        self.null_z = nn.Parameter(torch.randn(128) * 0.02)


def train_step(model, opt, signal, x1, cfg_drop=0.1, pen_w=0.01):
    opt.zero_grad(set_to_none=True)
    z = model.encoder(signal)
    drop = torch.rand(z.shape[0], 1) < cfg_drop
    z = torch.where(drop, model.null_z.expand_as(z), z)
    x0 = torch.randn_like(x1)
    t = torch.rand(x1.shape[0], 1)
    xt = (1 - t) * x0 + t * x1
    v = model.vf(xt, t, z)
    loss = F.mse_loss(v, x1 - x0) + pen_w * model.vf.penalty()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.detach()


def vf_fwd_bwd(model, z, x1):
    model.zero_grad(set_to_none=True)
    x0 = torch.randn_like(x1)
    t = torch.rand(x1.shape[0], 1)
    xt = (1 - t) * x0 + t * x1
    loss = F.mse_loss(model.vf(xt, t, z), x1 - x0) + 0.01 * model.vf.penalty()
    loss.backward()
    return loss.detach()


@torch.no_grad()
def sample_rk4(model, signal, steps=50, w=2.0):
    z = model.encoder(signal)
    b = z.shape[0]
    zz = torch.cat([model.null_z.expand(b, -1), z], 0)

    def vel(x, t):
        out = model.vf(torch.cat([x, x], 0), torch.full((2 * b, 1), t), zz)
        vu, vc = out.chunk(2)
        return (1 - w) * vu + w * vc

    x = torch.randn(b, model.n_params)
    h = 1.0 / steps
    for i in range(steps):
        t = i * h
        k1 = vel(x, t)
        k2 = vel(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = vel(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = vel(x + h * k3, t + h)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


# ----------------------------------------------------------------------------- FLOP counting


def count_forward_macs(module, fwd, batch=2):
    """Run fwd() once with hooks; return MACs per sample for Conv1d / Linear / MHA / Param2Tok."""
    macs = [0]
    hooks = []

    def conv_hook(m, inp, out):
        macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0]

    def lin_hook(m, inp, out):
        macs[0] += (inp[0].numel() // m.in_features) * m.in_features * m.out_features

    def mha_hook(m, inp, out):
        q, kk = inp[0], inp[1]
        bsz, tq, d = q.shape
        tk = kk.shape[1]
        macs[0] += bsz * ((tq + 2 * tk) * d * d + 2 * tq * tk * d + tq * d * d)

    for m in module.modules():
        if isinstance(m, nn.Conv1d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.MultiheadAttention):
            hooks.append(m.register_forward_hook(mha_hook))
        elif isinstance(m, nn.Linear) and not isinstance(
                m, nn.modules.linear.NonDynamicallyQuantizableLinear):
            hooks.append(m.register_forward_hook(lin_hook))
    try:
        with torch.no_grad():
            fwd()
    finally:
        for h in hooks:
            h.remove()
    return macs[0] / batch


def flop_counts(model):
    was_training = model.training
    model.eval()
    b = 2
    sig = torch.randn(b, 1024)
    enc = count_forward_macs(model.encoder, lambda: model.encoder(sig), b)
    x, t, z = torch.randn(b, model.n_params), torch.rand(b, 1), torch.randn(b, 128)
    vf = count_forward_macs(model.vf, lambda: model.vf(x, t, z), b)
    vf += model.vf.p2t.extra_macs(1)
    model.train(was_training)
    # rfft of 1024 reals ~ 2.5 N log2 N flops; listed separately, not in the MAC totals
    return {"encoder_fwd_macs": enc, "vf_fwd_macs": vf,
            "encoder_fwd_mflop": 2 * enc / 1e6, "vf_fwd_mflop": 2 * vf / 1e6,
            "rfft_mflop_approx": 2.5 * 1024 * 10 / 1e6}


# ----------------------------------------------------------------------------- timing


def timed(fn, warmup, reps):
    """Wall-clock times of reps calls after warmup calls; timed.last_cpu holds the process CPU
    times of the same calls (all threads)."""
    for _ in range(warmup):
        fn()
    ts, cs = [], []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    timed.last_cpu = cs
    return ts


def blas_info():
    info = {}
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        info["openblas_core"] = lib.openblas_get_corename().decode()
        info["openblas_config"] = lib.openblas_get_config().decode()
        info["openblas_threads"] = lib.openblas_get_num_threads()
    except OSError as e:
        info["openblas"] = f"not loaded: {e}"
    info["libblas"] = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    cap = [l.strip() for l in torch.__config__.show().splitlines() if "capability" in l]
    info["aten_cpu_capability"] = cap[0] if cap else "?"
    info["env"] = {k: os.environ.get(k) for k in
                   ("OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS", "OPENBLAS_L2_SIZE", "MALLOC_MMAP_MAX_",
                    "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD") if os.environ.get(k)}
    return info


def bench_k(k, args):
    torch.manual_seed(0)
    model = KOscFlow(k, n_tokens=(args.tokens or None))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    n_enc = sum(p.numel() for p in model.encoder.parameters())
    n_vf = sum(p.numel() for p in model.vf.parameters())
    n_all = sum(p.numel() for p in model.parameters())
    fl = flop_counts(model)

    rng = np.random.default_rng(k)
    prm = kosc_data.sample_params(rng, args.batch, k)
    signal = torch.from_numpy(kosc_data.generate(prm))
    x1 = torch.from_numpy(prm.reshape(args.batch, 3 * k).copy())

    res = {"k": k, "n_params_synth": 3 * k, "n_tokens": model.vf.p2t.n_tokens,
           "batch": args.batch, "params": {"encoder": n_enc, "vector_field": n_vf,
                                           "null_z": 128, "total": n_all}, "flops": fl}

    parts = set(args.parts.split(","))
    model.train()
    fwd_flop = 2 * (fl["encoder_fwd_macs"] + fl["vf_fwd_macs"])
    if "train" in parts:
        ts = timed(lambda: train_step(model, opt, signal, x1), args.warmup, args.reps)
        med = statistics.median(ts)
        res["train"] = {"times_s": ts, "cpu_times_s": timed.last_cpu, "median_s": med, "min_s": min(ts), "steps_per_s": 1 / med,
                        "samples_per_s": args.batch / med,
                        "achieved_gflops_3x_fwd": 3 * fwd_flop * args.batch / med / 1e9}

    with torch.no_grad():
        model.eval()
        z = model.encoder(signal).detach()
        model.train()
    vflop = 2 * fl["vf_fwd_macs"]
    if "vf" in parts:
        ts = timed(lambda: vf_fwd_bwd(model, z, x1), args.warmup, args.reps)
        med = statistics.median(ts)
        res["vf_fwd_bwd"] = {"times_s": ts, "cpu_times_s": timed.last_cpu, "median_s": med, "min_s": min(ts), "samples_per_s": args.batch / med,
                             "achieved_gflops_3x_fwd": 3 * vflop * args.batch / med / 1e9}

    # encoder-only forward+backward (for the split; same loss-free surrogate: sum of output)
    def enc_fb():
        model.zero_grad(set_to_none=True)
        model.encoder(signal).square().mean().backward()
    if "enc" in parts:
        ts = timed(enc_fb, 1, max(3, args.reps // 2))
        res["encoder_fwd_bwd"] = {"times_s": ts, "median_s": statistics.median(ts)}

    if "invert" in parts:
        model.eval()
        one = signal[:1]
        inv = {"steps": args.invert_steps, "guidance": 2.0, "batch": 1}
        for threads in (args.threads, 1):
            torch.set_num_threads(threads)
            with torch.inference_mode():
                ts = timed(lambda: sample_rk4(model, one, steps=args.invert_steps, w=2.0), 1,
                           max(3, args.reps))
            inv[f"threads_{threads}"] = {"times_s": ts, "cpu_times_s": timed.last_cpu,
                                         "median_s": statistics.median(ts), "min_s": min(ts)}
        torch.set_num_threads(args.threads)
        res["invert_one"] = inv
        model.train()

    if args.sample_steps > 0 and "sample" in parts:
        model.eval()
        with torch.inference_mode():
            sample_rk4(model, signal[:64], steps=2)  # warm-up at small batch
            c0 = time.process_time()
            t0 = time.perf_counter()
            out = sample_rk4(model, signal, steps=args.sample_steps, w=2.0)
            dt = time.perf_counter() - t0
            cpu = time.process_time() - c0
        assert torch.isfinite(out).all()
        n_evals = args.sample_steps * 4
        sflop = args.batch * (2 * fl["encoder_fwd_macs"] + n_evals * 2 * vflop)
        res["sample"] = {"steps": args.sample_steps, "batch": args.batch, "total_s": dt, "cpu_s": cpu,
                         "ms_per_sample": 1e3 * dt / args.batch,
                         "vf_evals": n_evals, "vf_batch_per_eval": 2 * args.batch,
                         "ms_per_vf_eval_2B": 1e3 * dt / n_evals,
                         "achieved_gflops": sflop / dt / 1e9,
                         "extrapolated_200_steps_ms_per_sample":
                             1e3 * dt / args.batch * 200 / args.sample_steps}
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="4,8,16,32")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--sample-steps", type=int, default=50)
    ap.add_argument("--tokens", type=int, default=0, help="tokens in Param2Tok (0: = k)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag", default="")
    ap.add_argument("--parts", default="train,vf,enc,sample",
                    help="comma list of train, vf, enc, sample, invert")
    ap.add_argument("--invert-steps", type=int, default=100)
    ap.add_argument("--out", default="results_torch.json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    meta = {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "blas": blas_info(), "tag": args.tag,
            "args": vars(args), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        with open("/proc/cpuinfo") as f:
            meta["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except Exception:
        pass
    print(json.dumps(meta["blas"]))
    results = []
    for k in [int(s) for s in args.ks.split(",")]:
        r = bench_k(k, args)
        results.append(r)
        nan = float("nan")
        inv = r.get("invert_one", {})
        print(f"k={k}: train {r.get('train', {}).get('median_s', nan):.3f}s/step, vf f+b "
              f"{r.get('vf_fwd_bwd', {}).get('median_s', nan):.3f}s, "
              f"sample {r.get('sample', {}).get('total_s', nan):.1f}s, invert-one "
              f"{inv.get('threads_' + str(args.threads), {}).get('median_s', nan):.3f}s "
              f"({args.threads} threads) / {inv.get('threads_1', {}).get('median_s', nan):.3f}s (1 thread)",
              flush=True)

    if not all("train" in r and "vf_fwd_bwd" in r and "encoder_fwd_bwd" in r for r in results):
        results_table = False
    else:
        results_table = True
    if results_table:
        hdr = (f"{'k':>3} {'params':>9} {'enc MF':>7} {'vf MF':>7} | {'train s/step':>12} "
               f"{'steps/s':>7} {'samp/s':>7} {'GF/s':>6} | {'vf f+b s':>8} {'GF/s':>6} | "
               f"{'enc f+b s':>9} | {'RK4-' + str(args.sample_steps) + ' ms/samp':>14} {'GF/s':>6}")
        print()
        print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
              f"BLAS core {meta['blas'].get('openblas_core', '?')}, {meta['blas']['aten_cpu_capability']}")
        print(hdr)
        print("-" * len(hdr))
        for r in results:
            s = r.get("sample", {})
            print(f"{r['k']:>3} {r['params']['total']:>9,} {r['flops']['encoder_fwd_mflop']:>7.2f} "
                  f"{r['flops']['vf_fwd_mflop']:>7.2f} | {r['train']['median_s']:>12.3f} "
                  f"{r['train']['steps_per_s']:>7.3f} {r['train']['samples_per_s']:>7.0f} "
                  f"{r['train']['achieved_gflops_3x_fwd']:>6.1f} | {r['vf_fwd_bwd']['median_s']:>8.3f} "
                  f"{r['vf_fwd_bwd']['achieved_gflops_3x_fwd']:>6.1f} | "
                  f"{r['encoder_fwd_bwd']['median_s']:>9.3f} | "
                  f"{s.get('ms_per_sample', float('nan')):>14.3f} {s.get('achieved_gflops', float('nan')):>6.1f}")
        print("MF = forward MFLOP/sample (2 x MACs, conv/linear/attention/Param2Tok only); train GF/s "
              f"uses 3 x forward FLOPs; RK4 = {args.sample_steps} steps x 4 evals, CFG batched as 2B, "
              "incl. one encoder pass.")
    out = {"meta": meta, "results": results}
    if os.path.exists(args.out) and args.tag:
        try:
            with open(args.out) as f:
                prev = json.load(f)
            runs = prev.get("runs", [prev]) if "results" in prev or "runs" in prev else []
        except Exception:
            runs = []
        runs = [r for r in runs if r.get("meta", {}).get("tag") != args.tag]
        runs.append(out)
        out = {"runs": runs}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
