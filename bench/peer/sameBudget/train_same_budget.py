#!/usr/bin/env python3
"""PyTorch-on-CPU peer: train one k-osc inversion model for a fixed WALL-CLOCK budget, then
evaluate it on a fixed held-out set with the reference metrics (kosc_ref.py (beside this file)).

Models (both share one cheap spectral-MLP encoder):
  cnf-param2tok : Param2Tok + 5 adaLN DiT blocks (d=128, 4 heads, d_ff=256, n = k tokens), the
                  modules of peer/torch_kosc_bench.py; rectified-flow CFM loss, minibatch OT
                  coupling (exact assignment, scipy linear_sum_assignment) within each batch,
                  CFG dropout 0.1 to a learned null vector, L1 penalty 0.01*mean|A|.
                  Sampling: RK4, 50 steps, CFG w=2 (peer's sample_rk4), one sample per sound.
                  --init peer (default): the peer modules' random init of A, Z, Z'; --init authors:
                  the authors' near-permutation-invariant init (A uniform, Z rows equal, Z' = Z^T).
  ffn-mse       : encoder + residual-MLP head regressing the 3k parameters with MSE.
  random        : no training; uniform parameters in [-1, 1] (reference row).

Encoder: log(1e-5 + |rfft(x, norm="forward")|) (513 bins) -> fixed per-bin standardisation
(mean/std of 4096 training signals, computed inside the budget) -> Linear 513->256 ->
2 x residual block (LayerNorm, Linear, GELU, Linear) -> Linear 256->128.

Everything from the first training-data draw to the last optimizer step counts against
--budget (data rendering with a torch port of kosc_ref.make_sig, OT, forward, backward, Adam).
The learning-rate schedule is a function of elapsed wall time: linear warm-up over the
first --warmup-frac of the budget, then cosine decay to 0 at the end of the budget.

Data: every training item draws all 3k params i.i.d. uniform on [-1, 1] from
numpy default_rng([seed, 1]); the held-out set (1024 items) from default_rng([789, 2])
(independent streams); held-out signals are rendered with kosc_ref.make_sig in float32
(the authors' dataset precision); metrics use kosc_ref.all_metrics (float64, exact cdist).

Run with /usr/bin/python3 (Debian python3-torch 1.13); see RESULTS.md for the commands.

symflow copy (bench/peer/sameBudget/): the same trainer plus --steps N, a STEP budget for the
equal-steps comparison of docs/results.md: training stops after N optimizer steps and the
learning-rate schedule is a function of the step instead of the elapsed time (warm-up over the
first --warmup-frac of the steps, cosine to 0 at step N, lr(s) evaluated before step s + 1 like
symflow's CosineSchedule); --budget is then only a safety cap. Without --steps it is the original.
With --steps, --checkpoint FILE saves the whole training state (weights, Adam, step, the numpy
data stream and torch's RNG, the log) every --checkpoint-every seconds and at the end, and a run
started with an existing FILE continues from it: bit-exact, so a 15,000-step cnf-param2tok run
(about 2.5 hours on one thread) survives interruptions.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))             # peer/
sys.path.insert(0, HERE)  # kosc_ref.py beside this file
import kosc_ref  # noqa: E402  (reference synth + metrics)
import kosc_torch  # noqa: E402  (torch port of kosc_ref.make_sig, float32)
import torch_kosc_bench as peer  # noqa: E402  (Param2Tok, DiT blocks, RK4+CFG sampler)

TEST_SEED = 789
N_TEST = 1024


# ----------------------------------------------------------------------------- models


class ResBlock(nn.Module):
    """x + Linear(GELU(Linear(LayerNorm(x))))"""

    def __init__(self, d, d_hidden=None):
        super().__init__()
        d_hidden = d_hidden or d
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, d_hidden)
        self.fc2 = nn.Linear(d_hidden, d)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(self.norm(x))))


class SpectralEncoder(nn.Module):
    def __init__(self, n_samples=1024, d_hidden=256, n_blocks=2, d_out=128):
        super().__init__()
        n_bins = n_samples // 2 + 1
        self.register_buffer("mu", torch.zeros(n_bins))
        self.register_buffer("sigma", torch.ones(n_bins))
        self.inp = nn.Linear(n_bins, d_hidden)
        self.blocks = nn.Sequential(*[ResBlock(d_hidden) for _ in range(n_blocks)])
        self.out = nn.Linear(d_hidden, d_out)

    @staticmethod
    def features(signal):
        return torch.log(1e-5 + torch.fft.rfft(signal, norm="forward").abs())

    @torch.no_grad()
    def fit_norm(self, signal):
        f = self.features(signal)
        self.mu.copy_(f.mean(0))
        self.sigma.copy_(f.std(0).clamp_min(1e-3))

    def forward(self, signal):
        h = (self.features(signal) - self.mu) / self.sigma
        return self.out(self.blocks(self.inp(h)))


class CNFParam2Tok(nn.Module):
    """Attributes encoder / vf / null_z / n_params as peer.sample_rk4 expects."""

    def __init__(self, k, init="peer"):
        super().__init__()
        self.n_params = 3 * k
        self.encoder = SpectralEncoder()
        self.vf = peer.ApproxEquivTransformer(self.n_params, k)  # d=128, 4 heads, d_ff=256, 5 blocks
        self.null_z = nn.Parameter(torch.randn(128) * 0.02)
        if init == "authors":
            self._authors_init()

    @torch.no_grad()
    def _authors_init(self):
        """The authors' initialisation (src/models/components/transformer.py, LearntProjection,
        DiTransformerBlock with zero_init=False, cfg_dropout_token): A = 1/sqrt(T n) + 1e-4 noise;
        every row of the input projection Z the same random vector / sqrt(d) + 1e-4 noise;
        output projection Z' = Z^T; DiT FFN weights xavier-normal, biases 0; null token ~ N(0, 1)."""
        p2t = self.vf.p2t
        n, t, d = p2t.n_params, p2t.n_tokens, p2t.d
        p2t.assign.copy_(torch.full((t, n), 1.0 / math.sqrt(t * n)) + 1e-4 * torch.randn(t, n))
        proj = (torch.randn(1, d) / math.sqrt(d)).repeat(n, 1)
        proj = proj + 1e-4 * torch.randn_like(proj)
        p2t.p_in.copy_(proj)
        p2t.p_out.copy_(proj.t())
        for blk in self.vf.blocks:
            nn.init.xavier_normal_(blk.ff[0].weight)
            nn.init.zeros_(blk.ff[0].bias)
            nn.init.xavier_normal_(blk.ff[2].weight)
            nn.init.zeros_(blk.ff[2].bias)
        self.null_z.copy_(torch.randn(128))


class FFNMSE(nn.Module):
    def __init__(self, k, width=256, n_blocks=4):
        super().__init__()
        self.n_params = 3 * k
        self.encoder = SpectralEncoder()
        self.inp = nn.Linear(128, width)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(n_blocks)])
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, self.n_params)

    def forward(self, signal):
        return self.out(self.norm(self.blocks(self.inp(self.encoder(signal)))))


# ----------------------------------------------------------------------------- training


def ot_pair(x0, x1):
    """Exact minibatch OT on squared Euclidean cost: returns col so that x0[i] pairs with x1[col[i]]."""
    a = x0.double().numpy()
    b = x1.double().numpy()
    cost = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    if args_ot_cost == "euclid":
        cost = np.sqrt(np.maximum(cost, 0.0))
    row, col = linear_sum_assignment(cost)
    assert (row == np.arange(len(row))).all()
    return torch.from_numpy(col)


args_ot_cost = "sqeuclid"


def lr_at(elapsed, budget, lr, warmup_frac):
    w = warmup_frac * budget
    if elapsed < w:
        return lr * max(elapsed, 1e-3) / w
    frac = min(1.0, (elapsed - w) / max(budget - w, 1e-9))
    return lr * 0.5 * (1.0 + math.cos(math.pi * frac))


def lr_at_step(step, steps, lr, warmup_frac):
    """Step-based schedule (--steps): linear warm-up over round(warmup_frac * steps) steps, then
    cosine to 0 at the last step; the same formula as symflow's CosineSchedule with floor 0."""
    w = int(round(warmup_frac * steps))
    if step < w:
        return lr * (step + 1) / w
    frac = min(1.0, (step - w) / max(steps - w, 1))
    return lr * 0.5 * (1.0 + math.cos(math.pi * frac))


def train(model, kind, args):
    k, asym, bs = args.k, args.variant == "asym", args.batch
    rng = np.random.default_rng([args.seed, 1])

    def draw(n):
        p = torch.from_numpy(rng.uniform(-1.0, 1.0, (n, 3 * k)).astype(np.float32))
        return p, kosc_torch.make_sig(p, asym)

    params = [p for p in model.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr)
    t_data = t_ot = t_step = 0.0
    log, ema, step, seen = [], None, 0, 0
    t_start = time.perf_counter()
    # per-bin input standardisation (counted in the budget)
    sig = torch.cat([draw(min(bs, args.norm_items - i))[1] for i in range(0, args.norm_items, bs)])
    model.encoder.fit_norm(sig)
    seen += args.norm_items
    t_data += time.perf_counter() - t_start
    next_log = 0.0
    elapsed0 = 0.0  # training seconds before this process (a resumed run)
    ckpt = args.checkpoint
    if ckpt and os.path.exists(ckpt):
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        rng.bit_generator.state = st["np_rng"]
        torch.set_rng_state(st["torch_rng"])
        step, seen, ema, log = st["step"], st["seen"], st["ema"], st["log"]
        t_data, t_ot, t_step, elapsed0 = st["t_data"], st["t_ot"], st["t_step"], st["elapsed"]
        next_log, m = st["next_log"], ema
        print(f"resumed {ckpt} at step {step}", flush=True)
        t_start = time.perf_counter()

    def save_checkpoint():
        el = elapsed0 + time.perf_counter() - t_start
        st = {"model": model.state_dict(), "opt": opt.state_dict(), "np_rng": rng.bit_generator.state,
              "torch_rng": torch.get_rng_state(), "step": step, "seen": seen, "ema": ema, "log": log,
              "t_data": t_data, "t_ot": t_ot, "t_step": t_step, "elapsed": el,
              "next_log": next_log}
        torch.save(st, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    next_save = args.checkpoint_every
    while True:
        if ckpt and time.perf_counter() - t_start >= next_save:
            save_checkpoint()
            next_save += args.checkpoint_every
        elapsed = elapsed0 + time.perf_counter() - t_start
        if elapsed >= args.budget or (args.steps > 0 and step >= args.steps):
            break
        if args.steps > 0:
            lr = lr_at_step(step, args.steps, args.lr, args.warmup_frac)
        else:
            lr = lr_at(elapsed, args.budget, args.lr, args.warmup_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        t0 = time.perf_counter()
        x1, sig = draw(bs)
        t1 = time.perf_counter()
        t_data += t1 - t0
        opt.zero_grad(set_to_none=True)
        if kind == "cnf-param2tok":
            x0 = torch.randn(bs, 3 * k)
            if args.ot:
                col = ot_pair(x0, x1)
                x1, sig = x1[col], sig[col]
            t2 = time.perf_counter()
            t_ot += t2 - t1
            z = model.encoder(sig)
            drop = torch.rand(bs, 1) < args.cfg_drop
            z = torch.where(drop, model.null_z.expand_as(z), z)
            t = torch.rand(bs, 1)
            xt = (1 - t) * x0 + t * x1
            v = model.vf(xt, t, z)
            mse = F.mse_loss(v, x1 - x0)
            loss = mse + args.pen_w * model.vf.penalty()
        else:
            t2 = t1
            mse = F.mse_loss(model(sig), x1)
            loss = mse
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        t_step += time.perf_counter() - t2
        step += 1
        seen += bs
        m = float(mse)
        ema = m if ema is None else 0.98 * ema + 0.02 * m
        if elapsed >= next_log:
            log.append({"step": step, "elapsed_s": round(elapsed, 2), "lr": lr, "loss": m, "loss_ema": ema})
            print(f"[{args.variant} {kind}] step {step:6d}  {elapsed:6.1f}s  lr {lr:.2e}  "
                  f"loss {m:.4f}  ema {ema:.4f}", flush=True)
            next_log += args.log_every
    if ckpt:
        save_checkpoint()
    train_s = elapsed0 + time.perf_counter() - t_start
    log.append({"step": step, "elapsed_s": round(train_s, 2), "lr": 0.0, "loss": m, "loss_ema": ema})
    return {"steps": step, "samples_seen": seen, "samples_seen_excl_norm": seen - args.norm_items,
            "train_s": train_s, "samples_per_s": (seen - args.norm_items) / train_s,
            "steps_per_s": step / train_s,
            "time_split_s": {"data_render": t_data, "ot_assignment": t_ot,
                             "fwd_bwd_clip_adam": t_step,
                             "other": train_s - t_data - t_ot - t_step},
            "final_loss_ema": ema, "log": log}


# ----------------------------------------------------------------------------- evaluation


def held_out(k, asym):
    p = np.random.default_rng([TEST_SEED, 2]).uniform(-1.0, 1.0, (N_TEST, 3 * k))
    sig = kosc_ref.make_sig(p, asym=asym, dtype=np.float32).astype(np.float32)
    return p, torch.from_numpy(sig)


def predict(model, kind, sig, args):
    model.eval()
    with torch.inference_mode():
        if kind == "cnf-param2tok":
            torch.manual_seed(args.seed + 1000)  # sampler noise
            out = []
            for s in range(0, sig.shape[0], args.eval_batch):
                out.append(peer.sample_rk4(model, sig[s:s + args.eval_batch], steps=args.sample_steps,
                                           w=args.cfg_w))
            return torch.cat(out).double().numpy()
        return model(sig).double().numpy()


def main():
    global args_ot_cost
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["cnf-param2tok", "ffn-mse", "random"], required=True)
    ap.add_argument("--variant", choices=["sym", "asym"], default="sym")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--budget", type=float, default=480.0, help="training wall-clock seconds")
    ap.add_argument("--steps", type=int, default=0,
                    help="stop after this many steps, schedule by step (0: the time budget alone)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup-frac", type=float, default=0.03, help="fraction of the budget for linear warm-up")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--cfg-drop", type=float, default=0.1)
    ap.add_argument("--pen-w", type=float, default=0.01)
    ap.add_argument("--no-ot", dest="ot", action="store_false")
    ap.add_argument("--ot-cost", choices=["sqeuclid", "euclid"], default="sqeuclid",
                    help="OT cost; the authors' code uses plain Euclidean (torch.cdist)")
    ap.add_argument("--init", choices=["peer", "authors"], default="peer",
                    help="Param2Tok/DiT initialisation: the peer modules' defaults (random A, Z, Z') "
                         "or the authors' near-permutation-invariant one (see CNFParam2Tok._authors_init)")
    ap.add_argument("--norm-items", type=int, default=4096)
    ap.add_argument("--sample-steps", type=int, default=50)
    ap.add_argument("--cfg-w", type=float, default=2.0)
    ap.add_argument("--eval-batch", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=float, default=30.0)
    ap.add_argument("--checkpoint", default=None,
                    help="with --steps: training state file, saved periodically; resumed from when it exists")
    ap.add_argument("--checkpoint-every", type=float, default=300.0, help="seconds between checkpoints")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.checkpoint and args.steps <= 0:
        ap.error("--checkpoint needs --steps (a time-budget run cannot be resumed exactly)")
    args_ot_cost = args.ot_cost
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    asym = args.variant == "asym"

    res = {"model": args.model, "variant": args.variant, "k": args.k, "seed": args.seed,
           "args": vars(args), "argv": sys.argv,
           "env": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
                   "threads": torch.get_num_threads(), "nproc": os.cpu_count(),
                   "env_vars": {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "MALLOC_MMAP_MAX_",
                                                               "MALLOC_TRIM_THRESHOLD_")}},
           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    p_test, sig_test = held_out(args.k, asym)
    if args.model == "random":
        pred = np.random.default_rng([TEST_SEED, 7]).uniform(-1.0, 1.0, p_test.shape)
        res["train"] = None
    else:
        model = CNFParam2Tok(args.k, args.init) if args.model == "cnf-param2tok" else FFNMSE(args.k)
        res["n_weights"] = sum(p.numel() for p in model.parameters())
        model.train()
        res["train"] = train(model, args.model, args)
        t0 = time.perf_counter()
        pred = predict(model, args.model, sig_test, args)
        res["predict_s"] = time.perf_counter() - t0
        if args.model == "cnf-param2tok":
            res["assignment_A"] = model.vf.p2t.assign.detach().numpy().round(4).tolist()
    t0 = time.perf_counter()
    res["metrics"] = kosc_ref.all_metrics(pred, p_test, asym=asym)
    # symflow copy: 95 % intervals (1.96 x standard error over the held-out sounds)
    per = {"lsd": kosc_ref.lsd_per_item(pred, p_test, asym), "lac": kosc_ref.lac_per_item(pred, p_test, "exact"),
           "param_mse": np.mean((pred - p_test) ** 2, axis=1)}
    res["ci95"] = {k: float(1.96 * np.std(v, ddof=1) / np.sqrt(len(v))) for k, v in per.items()}
    res["metrics_s"] = time.perf_counter() - t0
    res["pred_out_of_range_frac"] = float(np.mean(np.abs(pred) > 1.0))
    m = res["metrics"]
    tr = res["train"] or {}
    print(f"RESULT {args.variant} {args.model}: LSD {m['lsd']:.3f} +- {res['ci95']['lsd']:.3f}  "
          f"LAC {m['lac']:.4f} +- {res['ci95']['lac']:.4f}  "
          f"Chamfer {m['chamfer']:.4f}  paramMSE {m['param_mse']:.4f}  steps {tr.get('steps', 0)}  "
          f"samples/s {tr.get('samples_per_s', 0):.0f}", flush=True)
    out = args.out or os.path.join(HERE, "runs", f"{args.variant}_k{args.k}_{args.model}_s{args.seed}.json")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
