#!/usr/bin/env python3
"""The PyTorch golden test of whole symflow models (issue 22, point 1), and the PyTorch loader
of symflow k-osc model files (docs/pytorch.md).

PyTorch modules with symflow's tensor names rebuild every k-osc model kind from a model file
(the config JSON in its "symflow_model_config" metadata, the tensors by name):
  cnf-param2tok, cnf-equivariant  FlowModel: encoder, null_z, vf = DiT vector field with the
                                  Param2Tok ("vf.p2t.*") or the fixed tokenizer ("vf.tokenizer.*")
  cnf-mlp                         FlowModel with the residual-MLP vector field ("vf.mlp.*")
  ffn-mse, ffn-sort, ffn-chamfer  RegressionModel: encoder, head
  encoder                         the spectral-MLP encoder or the paper's CNN encoder
The surge-simple task is not ported. Each module follows the symflow header that defines it
(models/flow_model.hpp, models/vector_fields.hpp, models/regression_model.hpp,
nn/tokenizers.hpp, nn/dit_block.hpp, nn/spectral_mlp_encoder.hpp, nn/cnn_encoder.hpp,
nn/residual_mlp.hpp, train/losses.hpp); the DiT block is the one of tests/torch_ref_transformer.py.

Test: tests/golden_dump (C++) writes, per model, the model file and one training step (batch,
random draws, loss, every gradient, the buffers after it) plus one guided RK4 sample. This
script recomputes the loss, every gradient (autograd), the BatchNorm running statistics the
step updates and the sample from the same tensors, in float32 and in float64, and compares
symflow (float32) with PyTorch float64 per tensor:
  error = max |symflow - torch64| / max |torch64|    (over the tensor; absolute if torch64 = 0)
PyTorch float32 is compared with float64 the same way and printed beside it: the float32
noise floor that symflow's error should stay near. For gradients the denominator is at least
1e-3 of the model's largest gradient entry (some gradients are zero in exact arithmetic, e.g.
a BatchNorm bias followed by a training-mode BatchNorm). Tolerances (float32, eps 6e-8):
  loss (objective, data term, penalty)  1e-5 relative (measured: at most 1.0e-6)
  every gradient, every buffer after    1e-4, or within NOISE_FACTOR = 10 times PyTorch float32's
  the step, the sample                  own error on that tensor (an ill-conditioned sum: the
                                        CNN's first conv bias, 2.9e-4 vs torch32's 1.0e-4).
                                        Measured otherwise: 1.4e-6 (tiny models), 3.9e-5 (CNN),
                                        2.0e-5 (trained shipped models); samples 2.7e-6.
Small formula changes exceed them: GELU's tanh approximation gives gradient errors of 4e-4
to 7e-3, the time encoding scaled by 1.001 3e-4 to 8e-4 (docs/pytorch.md).
Also checked: the features are |rFFT(signal)| / 1024 (torch.fft), the coupled noise is a
permutation of the drawn noise and the permutation with the least total squared distance
(brute force over all 8! pairings), the drop mask holds both kinds of sounds.

  golden_torch.py test GOLDEN_DUMP_BIN SCRATCH_DIR [KIND ...] [--models DIR]
        run the dump for the kinds (default: all six with the spectral-MLP encoder,
        cnf-param2tok-cnn, ffn-mse-cnn (<kind>-cnn: with the CNN encoder) and cnf-param2tok-alt,
        cnf-mlp-alt (<kind>-alt: sinusoidal time, 3 Param2Tok tokens for k = 2, per-sound input
        LayerNorm and final LayerNorm in the encoder, asymmetric variant)) and for every k-osc
        model file in DIR (the shipped models/: their own weights and input statistics), then
        compare
  golden_torch.py compare DIR [NAME ...]      compare dumps already in DIR (a kind or a file's name)
  golden_torch.py show MODEL.safetensors      load a model file, print its config and module

Exit status: 0 pass, 1 mismatch, 2 bad input, 77 skipped (no python3-torch).
"""
import copy
import itertools
import json
import math
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("skipped: python3-torch not installed (apt-get install python3-torch)")
    sys.exit(77)

import safetensors_tensors  # noqa: E402
from torch_ref_transformer import DiTBlock  # noqa: E402

KINDS = ["cnf-param2tok", "cnf-mlp", "ffn-mse", "cnf-equivariant", "ffn-sort", "ffn-chamfer"]
CNN_KINDS = ["cnf-param2tok", "ffn-mse"]  # also run with the CNN encoder (dumps <kind>-cnn)
ALT_KINDS = ["cnf-param2tok", "cnf-mlp"]  # and with golden_dump's other config choices (<kind>-alt)
TOL = {"loss": 1e-5, "grad": 1e-4, "sample": 1e-4}
NOISE_FACTOR = 10  # gradients, buffers, samples: also pass within 10x PyTorch float32's own error
GRAD_FLOOR = 1e-3  # gradient errors relative to at least 1e-3 of the model's largest gradient entry
MODEL_CONFIG_KEY = "symflow_model_config"
NUMPY_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


# ---- reading symflow files ----------------------------------------------------------------

def read_safetensors(path):
    """(metadata dict, {name: numpy array}) of a safetensors file."""
    meta, raw = safetensors_tensors.read(path)
    out = {}
    for name, (dtype, shape, data) in raw.items():
        if dtype not in NUMPY_DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {dtype}, expected F32, F64 or I64")
        out[name] = np.frombuffer(data, dtype=NUMPY_DTYPES[dtype]).reshape(shape).copy()
    return meta, out


# ---- modules (names as symflow's tensor names) --------------------------------------------

class ResMlpBlock(nn.Module):
    """nn/residual_mlp.hpp ResMlpBlock, identity residual: x + fc2(GELU(fc1(LN(x))))."""

    def __init__(self, d, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(self.norm(x))))


class ResMlp(nn.Module):
    """nn/residual_mlp.hpp ResMlp: output([norm](blocks(input(x))))."""

    def __init__(self, d_in, width, blocks, d_out, final_norm=True):
        super().__init__()
        self.input = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList(ResMlpBlock(width, width) for _ in range(blocks))
        if final_norm:
            self.norm = nn.LayerNorm(width)
        else:
            self.norm = None
        self.output = nn.Linear(width, d_out)

    def forward(self, x):
        h = self.input(x)
        for b in self.blocks:
            h = b(h)
        if self.norm is not None:
            h = self.norm(h)
        return self.output(h)


class BandStandardizer(nn.Module):
    """nn/band_standardizer.hpp with one value per band: (u - mean) / sqrt(var + 1e-5)."""

    def __init__(self, bands):
        super().__init__()
        self.register_buffer("mean", torch.zeros(bands))
        self.register_buffer("var", torch.ones(bands))
        self.register_buffer("count", torch.zeros(()))

    def forward(self, u):
        return (u - self.mean) / torch.sqrt(self.var + 1e-5)


class SpectralMlpEncoder(ResMlp):
    """nn/spectral_mlp_encoder.hpp: ResMlp(normalize(log(|rFFT| + 1e-5))), (B, 513) -> (B, dz)."""

    def __init__(self, bins, width, blocks, d_out, input_norm, final_norm):
        super().__init__(bins, width, blocks, d_out, final_norm)
        self.bins, self.input_norm_kind = bins, input_norm
        if input_norm == "per-bin":
            self.input_norm = BandStandardizer(bins)
        elif input_norm not in ("per-sound", "none"):
            raise ValueError(f"unknown spectral_input_norm '{input_norm}'")

    def forward(self, spectrum):
        u = torch.log(spectrum + 1e-5)
        if self.input_norm_kind == "per-bin":
            u = self.input_norm(u)
        elif self.input_norm_kind == "per-sound":
            u = F.layer_norm(u, (self.bins,))
        return super().forward(u)


class ConvResBlock(nn.Module):
    """nn/cnn_encoder.hpp ConvResBlock: BN2(GELU(conv2(BN1(GELU(conv1(x)))))) + skip(x)."""

    def __init__(self, cin, c):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, c, 7, padding=3)
        self.bn1 = nn.BatchNorm1d(c)
        self.conv2 = nn.Conv1d(c, c, 1)
        self.bn2 = nn.BatchNorm1d(c)
        if cin != c:
            self.skip = nn.Conv1d(cin, c, 1)
        else:
            self.skip = None

    def forward(self, x):
        y = self.bn2(F.gelu(self.conv2(self.bn1(F.gelu(self.conv1(x))))))
        return y + (self.skip(x) if self.skip is not None else x)


class Downsample(nn.Module):
    """nn/cnn_encoder.hpp Downsample: GELU(conv(BN(x))), conv of width 6, stride 3, padding 1."""

    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm1d(c)
        self.conv = nn.Conv1d(c, 2 * c, 6, stride=3, padding=1)

    def forward(self, x):
        return F.gelu(self.conv(self.bn(x)))


class LinearResMlpBlock(nn.Module):
    """nn/residual_mlp.hpp ResMlpBlock with a bias-free Linear residual: fc2(GELU(fc1(LN(x)))) + res(x)."""

    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.norm = nn.LayerNorm(d_in)
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, d_out)
        self.res = nn.Linear(d_in, d_out, bias=False)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(self.norm(x)))) + self.res(x)


class CnnEncoder(nn.Module):
    """nn/cnn_encoder.hpp CnnEncoder (the paper's spectral CNN): the raw |rFFT| (B, 513) as one
    channel, per stage [ConvResBlock(cin, c), ConvResBlock(c, c), Downsample(c)], channels
    doubling, then mlp(proj(flatten)). BatchNorm: batch statistics in train(), running ones in eval()."""

    def __init__(self, bins, d_out, base=24, stages=4, hidden=512):
        super().__init__()
        layers, cin, c, length = [], 1, base, bins
        for _ in range(stages):
            layers += [ConvResBlock(cin, c), ConvResBlock(c, c), Downsample(c)]
            length = (length + 2 - 6) // 3 + 1
            cin = c = 2 * c
        self.net = nn.Sequential(*layers)
        self.proj = nn.Linear(cin * length, hidden)
        self.mlp = LinearResMlpBlock(hidden, hidden, d_out)

    def forward(self, spectrum):
        return self.mlp(self.proj(self.net(spectrum.unsqueeze(1)).flatten(1)))


class Param2Tok(nn.Module):
    """nn/tokenizers.hpp Param2Tok: tokens X_b = A h(diag(x_b) Z), out (Z' o (A^T X_b)) 1_d."""

    def __init__(self, P, n, d, penalty_weight):
        super().__init__()
        self.p_in = nn.Parameter(torch.zeros(P, d))     # Z
        self.assign = nn.Parameter(torch.zeros(n, P))   # A
        self.p_out = nn.Parameter(torch.zeros(d, P))    # Z'^T
        self.ffn = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.penalty_weight = penalty_weight

    def tokenize(self, x):  # (B, P) -> (B, n, d)
        h = self.ffn(x.unsqueeze(-1) * self.p_in)  # row p of sample b: h(x_bp Z_p)
        return torch.einsum("tp,bpd->btd", self.assign, h)

    def detokenize(self, tokens):  # (B, n, d) -> (B, P)
        D = torch.einsum("tp,btd->bpd", self.assign, tokens)  # A^T X_b
        return (D * self.p_out.t()).sum(-1)

    def penalty(self):
        return self.penalty_weight * self.assign.abs().mean()


class FixedTokenizer(nn.Module):
    """nn/tokenizers.hpp FixedTokenizer with k-osc's parameter-major layout: token i holds
    (x[i], x[k + i], x[2k + i]); shared in_proj / out_proj."""

    def __init__(self, k, per_group, d):
        super().__init__()
        self.k, self.m = k, per_group
        self.in_proj = nn.Linear(per_group, d)
        self.out_proj = nn.Linear(d, per_group)

    def tokenize(self, x):
        return self.in_proj(x.view(x.shape[0], self.m, self.k).transpose(1, 2))

    def detokenize(self, tokens):
        return self.out_proj(tokens).transpose(1, 2).reshape(tokens.shape[0], self.m * self.k)

    def penalty(self):
        return 0.0


def time_encoding(t, time_dim):
    """models/vector_fields.hpp encodeTime: t itself (time_dim 0) or [cos, sin](t w_k)."""
    if time_dim == 0:
        return t.unsqueeze(-1)
    half = time_dim // 2
    w = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).to(t.dtype)
    a = t.unsqueeze(-1) * w
    return torch.cat([torch.cos(a), torch.sin(a)], -1)


class DitVectorField(nn.Module):
    """models/vector_fields.hpp DitVectorField: cond([z; e(t)]) conditions L DiT blocks over
    the tokens of xt."""

    def __init__(self, tokenizer, tok_name, dz, time_dim, width, heads, ff_dim, layers):
        super().__init__()
        self.tok_name, self.time_dim = tok_name, time_dim
        setattr(self, tok_name, tokenizer)
        self.cond = nn.Sequential(nn.Linear(dz + max(time_dim, 1), width), nn.GELU(), nn.Linear(width, width))
        self.blocks = nn.ModuleList(DiTBlock(width, heads, ff_dim) for _ in range(layers))

    def tok(self):
        return getattr(self, self.tok_name)

    def forward(self, xt, t, z):
        c = self.cond(torch.cat([z, time_encoding(t, self.time_dim)], -1))
        h = self.tok().tokenize(xt)
        for b in self.blocks:
            h = b(h, c)
        return self.tok().detokenize(h)

    def penalty(self):
        return self.tok().penalty()


class MlpVectorField(nn.Module):
    """models/vector_fields.hpp MlpVectorField: ResMlp([xt; e(t); z])."""

    def __init__(self, P, dz, time_dim, width, blocks):
        super().__init__()
        self.time_dim = time_dim
        self.mlp = ResMlp(P + max(time_dim, 1) + dz, width, blocks, P)

    def forward(self, xt, t, z):
        return self.mlp(torch.cat([xt, time_encoding(t, self.time_dim), z], -1))

    def penalty(self):
        return 0.0


class FlowModel(nn.Module):
    """models/flow_model.hpp FlowModel: encoder, null_z, vf."""

    def __init__(self, encoder, vf, dz):
        super().__init__()
        self.encoder = encoder
        self.null_z = nn.Parameter(torch.zeros(dz))
        self.vf = vf

    def loss(self, features, x1, x0, t, drop):
        """One training step's objective for the step's draws: drop (B, bool), x0 (B, P) already
        re-paired with x1, t (B). Returns (objective, CFM term, penalty)."""
        z = self.encoder(features)
        zc = torch.where(drop.unsqueeze(-1), self.null_z.expand_as(z), z)
        ut = x1 - x0
        xt = x0 + ut * t.unsqueeze(-1)
        data = F.mse_loss(self.vf(xt, t, zc), ut)
        penalty = self.vf.penalty()
        return data + penalty, data, penalty

    def sample(self, features, noise, steps=100, guidance=2.0):
        """Integrates dx/dt = (1 - w) v(x, t, null) + w v(x, t, z) from noise (B, P), t = 0 to 1,
        with `steps` classic RK4 steps (flow/solvers.hpp Rk4Solver)."""
        z = self.encoder(features)
        B = z.shape[0]
        zz = torch.cat([self.null_z.expand_as(z), z]) if guidance != 1 else z

        def velocity(x, t):
            if guidance == 1:
                return self.vf(x, torch.full((B,), t, dtype=x.dtype), zz)
            v2 = self.vf(torch.cat([x, x]), torch.full((2 * B,), t, dtype=x.dtype), zz)
            return (1 - guidance) * v2[:B] + guidance * v2[B:]

        x, h = noise.clone(), 1.0 / steps
        for i in range(steps):
            t = i * h
            k1 = velocity(x, t)
            k2 = velocity(x + (h / 2) * k1, t + h / 2)
            k3 = velocity(x + (h / 2) * k2, t + h / 2)
            k4 = velocity(x + h * k3, t + h)
            x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        return x


def sorted_by_frequency(x1, k):
    """synth/kosc.hpp sortedByFrequency: each sound's oscillators in increasing frequency (stable)."""
    order = torch.from_numpy(np.argsort(x1[:, :k].detach().cpu().numpy(), axis=1, kind="stable"))
    idx = torch.cat([order + p * k for p in range(3)], 1)
    return torch.gather(x1, 1, idx)


def chamfer_loss(pred, target, k):
    """train/losses.hpp chamferLoss over the k oscillator rows (f, a, w) of each sound."""
    B = pred.shape[0]
    p = pred.view(B, 3, k).transpose(1, 2)
    q = target.view(B, 3, k).transpose(1, 2)
    D = ((p.unsqueeze(2) - q.unsqueeze(1)) ** 2).sum(-1)  # D[b, i, j] = |p_i - q_j|^2
    return (D.min(1).values.mean(-1) + D.min(2).values.mean(-1)).mean()


class RegressionModel(nn.Module):
    """models/regression_model.hpp RegressionModel: head(encoder(features))."""

    def __init__(self, encoder, dz, P, width, blocks, loss_kind, k):
        super().__init__()
        self.encoder = encoder
        self.head = ResMlp(dz, width, blocks, P)
        self.loss_kind, self.k = loss_kind, k

    def forward(self, features):
        return self.head(self.encoder(features))

    def loss(self, features, x1):
        """The training objective on the raw labels x1 (ffn-sort sorts them, as symflow does)."""
        xhat = self(features)
        if self.loss_kind == "ffn-chamfer":
            data = chamfer_loss(xhat, x1, self.k)
        else:
            data = F.mse_loss(xhat, sorted_by_frequency(x1, self.k) if self.loss_kind == "ffn-sort" else x1)
        return data, data, 0.0


def build_model(cfg):
    """The PyTorch module of a k-osc model config (KOscModelConfig::toJson), weights unset."""
    if cfg.get("task") != "kosc":
        raise ValueError(f"task '{cfg.get('task')}': only k-osc models are ported (surge-simple is not yet)")
    k, dz, kind = cfg["k"], cfg["embed_dim"], cfg["model"]
    P = 3 * k
    if cfg["encoder"] == "cnn":
        enc = CnnEncoder(513, dz)
    elif cfg["encoder"] == "spectral-mlp":
        # Keys missing from models made before 2026-12 read as KOscModelConfig::fromJson reads them.
        enc = SpectralMlpEncoder(513, cfg["spectral_width"], cfg["spectral_blocks"], dz,
                                 cfg.get("spectral_input_norm", "per-sound"), cfg.get("spectral_final_norm", True))
    else:
        raise ValueError(f"unknown encoder '{cfg['encoder']}'")
    dit = cfg["dit"]
    if kind in ("cnf-param2tok", "cnf-equivariant"):
        if kind == "cnf-param2tok":
            tok, name = Param2Tok(P, cfg["tokens"] or k, dit["width"], cfg["penalty_weight"]), "p2t"
        else:
            tok, name = FixedTokenizer(k, 3, dit["width"]), "tokenizer"
        vf = DitVectorField(tok, name, dz, dit["time_dim"], dit["width"], dit["heads"], dit["ff_dim"], dit["layers"])
        return FlowModel(enc, vf, dz)
    if kind == "cnf-mlp":
        return FlowModel(enc, MlpVectorField(P, dz, dit["time_dim"], cfg["mlp_width"], cfg["mlp_blocks"]), dz)
    if kind in ("ffn-mse", "ffn-sort", "ffn-chamfer"):
        return RegressionModel(enc, dz, P, cfg["head_width"], cfg["head_blocks"], kind, k)
    raise ValueError(f"model '{kind}' has no PyTorch module")


def load_model(path, dtype=torch.float32):
    """A symflow k-osc model file (`symflow train` output or checkpoint) as a PyTorch module in
    eval mode: returns (module, config dict). Optimizer state in the file is ignored."""
    meta, tensors = read_safetensors(path)
    if MODEL_CONFIG_KEY not in meta:
        raise ValueError(f"{path}: not a symflow model (no '{MODEL_CONFIG_KEY}' metadata)")
    cfg = json.loads(meta[MODEL_CONFIG_KEY])
    model = build_model(cfg)
    state = {name: torch.from_numpy(a) for name, a in tensors.items() if not name.startswith("optim.")}
    model.load_state_dict(state, strict=True)  # every name must match both ways
    return model.to(dtype).eval(), cfg


def model_task(path):
    """The task of a symflow model file ("kosc", "surge-simple"), None for other files."""
    meta, _ = safetensors_tensors.read(path)
    return json.loads(meta[MODEL_CONFIG_KEY]).get("task") if MODEL_CONFIG_KEY in meta else None


def kosc_features(signals):
    """The k-osc models' input: |rFFT(signal)| / 1024 per sound, (B, 1024) -> (B, 513)."""
    return torch.fft.rfft(signals).abs() / signals.shape[-1]


# ---- the comparison -----------------------------------------------------------------------

def rel_error(ours, ref, floor=0.0):
    """max |ours - ref| / max(max |ref|, floor); the absolute difference when both are 0."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = max(np.max(np.abs(ref)) if ref.size else 0.0, floor)
    diff = np.max(np.abs(ours - ref)) if ref.size else 0.0
    return diff / scale if scale > 0 else diff


def verdict(e, e32, tol):
    """'' when symflow's error e is within tol or within NOISE_FACTOR times PyTorch float32's
    own error e32 on the same tensor (an ill-conditioned sum); '  MISMATCH' otherwise."""
    if e <= tol:
        return ""
    if e <= NOISE_FACTOR * e32:
        return f"  (> {tol:g}, within {NOISE_FACTOR}x torch32)"
    return "  MISMATCH"


def torch_step(model, kind, g, dtype):
    """Loss and gradients (autograd) of one training step on the dumped batch (train mode:
    BatchNorm on batch statistics, updating its running ones), the buffers after it, and the
    sample or prediction after it (eval mode), in dtype, on a copy of model."""
    m = copy.deepcopy(model).to(dtype).train()
    T = lambda name: torch.from_numpy(g[name]).to(dtype)  # noqa: E731
    if kind.startswith("cnf-"):
        loss, data, penalty = m.loss(T("batch/features"), T("batch/x1"), T("batch/x0"), T("batch/t"),
                                     torch.from_numpy(g["batch/drop"] != 0))
    else:
        loss, data, penalty = m.loss(T("batch/features"), T("batch/x1"))
    loss.backward()
    grads = {n: p.grad.detach().numpy().astype(np.float64) if p.grad is not None else np.zeros(p.shape)
             for n, p in m.named_parameters()}
    buffers = {n: b.detach().numpy().astype(np.float64) for n, b in m.named_buffers()}
    m.eval()
    with torch.no_grad():
        if kind.startswith("cnf-"):
            meta = g["__meta__"]
            x = m.sample(T("batch/features"), T("sample/noise"), int(meta["sample_steps"]), float(meta["guidance"]))
        else:
            x = m(T("batch/features"))
    return [float(loss), float(data), float(penalty)], grads, buffers, x.numpy().astype(np.float64)


def check_draws(kind, g, report):
    """The step's random inputs: coupled noise optimal, drop mask mixed. Returns problems."""
    problems = []
    drop = g["batch/drop"]
    if drop.min() == drop.max():
        problems.append("the drop mask is all " + ("dropped" if drop[0] else "kept") + ": null_z untested")
    x0, drawn, x1 = g["batch/x0"].astype(np.float64), g["batch/x0_drawn"].astype(np.float64), g["batch/x1"]
    B = x0.shape[0]
    src = [int(np.argmin(np.abs(drawn - x0[j]).sum(1))) for j in range(B)]
    if sorted(src) != list(range(B)) or not np.array_equal(drawn[src], x0):
        problems.append("batch/x0 is not a re-pairing of the drawn noise (the draw order of "
                        "models/flow_model.hpp changed?)")
        return problems
    cost = ((drawn[:, None, :] - x1.astype(np.float64)[None, :, :]) ** 2).sum(-1)  # cost[i, j]
    perms = np.array(list(itertools.permutations(range(B))))
    totals = cost[perms, np.arange(B)].sum(1)
    ours = cost[src, np.arange(B)].sum()
    best = totals.min()
    report.append(f"  OT coupling: total squared distance {ours:.6f}, brute-force minimum over {len(perms)} "
                  f"pairings {best:.6f}, identity pairing {np.trace(cost):.6f}")
    if ours > best * (1 + 1e-6):
        problems.append(f"the OT coupling is not optimal ({ours} > {best})")
    return problems


def compare_kind(name, directory):
    """Compares the dump <name>.golden.safetensors in directory with PyTorch; the model is the
    dump's <name>.model.safetensors, or the file it was loaded from (metadata source_model)."""
    meta, g = read_safetensors(os.path.join(directory, f"{name}.golden.safetensors"))
    g["__meta__"] = meta
    kind = meta["kind"]
    model_path = meta.get("source_model") or os.path.join(directory, f"{name}.model.safetensors")
    model, cfg = load_model(model_path)
    report, problems = [], []
    report.append(f"{name}: {kind}, k = {cfg['k']}, B = {g['batch/x1'].shape[0]}, "
                  f"{sum(p.numel() for p in model.parameters())} weights, model file {model_path}")

    feats = kosc_features(torch.from_numpy(g["batch/signals"]).double()).numpy()
    e = rel_error(g["batch/features"], feats)
    report.append(f"  features |rFFT|/1024 vs torch.fft: {e:.2e}")
    if e > 1e-5:
        problems.append(f"features differ from torch.fft.rfft by {e:.2e}")
    if kind.startswith("cnf-"):
        problems += check_draws(kind, g, report)

    l64, g64, b64, x64 = torch_step(model, kind, g, torch.float64)
    l32, g32, b32, x32 = torch_step(model, kind, g, torch.float32)
    ours = g["step/loss"]
    worst = {"loss": 0.0, "grad": 0.0, "sample": 0.0}
    for i, part in enumerate(("objective", "data", "penalty")):
        e = abs(ours[i] - l64[i]) / abs(l64[i]) if l64[i] != 0 else abs(ours[i])
        e32 = abs(l32[i] - l64[i]) / abs(l64[i]) if l64[i] != 0 else abs(l32[i])
        worst["loss"] = max(worst["loss"], e)
        bad = e > TOL["loss"]
        report.append(f"  loss {part:9s} symflow {ours[i]:.9g}  torch64 {l64[i]:.9g}  err {e:.1e} "
                      f"(torch32 {e32:.1e}){'  MISMATCH' if bad else ''}")
        if bad:
            problems.append(f"loss {part}: {ours[i]} vs {l64[i]} (rel {e:.2e} > {TOL['loss']})")

    names = [n for n, _ in model.named_parameters()]
    dumped = {n[len("grad/"):] for n in g if n.startswith("grad/")}
    if dumped != set(names):
        problems.append(f"gradient names differ: only symflow {sorted(dumped - set(names))}, "
                        f"only torch {sorted(set(names) - dumped)}")
    floor = GRAD_FLOOR * max(np.max(np.abs(v)) for v in g64.values())
    for n in names:
        if n not in dumped:
            continue
        ours_g = g["grad/" + n]
        e, e32 = rel_error(ours_g, g64[n], floor), rel_error(g32[n], g64[n], floor)
        worst["grad"] = max(worst["grad"], e)
        v = verdict(e, e32, TOL["grad"])
        report.append(f"  grad {n:34s} {str(tuple(ours_g.shape)):10s} |g| {np.max(np.abs(g64[n])):.2e}  "
                      f"err {e:.1e} (torch32 {e32:.1e}){v}")
        if v == "  MISMATCH":
            problems.append(f"gradient of {n}: error {e:.2e} > {TOL['grad']} and > {NOISE_FACTOR} x torch32's {e32:.1e}")

    dumped = {n[len("buffer/"):] for n in g if n.startswith("buffer/")}
    if dumped != set(b64):
        problems.append(f"buffer names differ: only symflow {sorted(dumped - set(b64))}, "
                        f"only torch {sorted(set(b64) - dumped)}")
    worst_b, worst_b32, worst_name = 0.0, 0.0, ""
    for n in sorted(dumped & set(b64)):  # running statistics after the step's update
        e, e32 = rel_error(g["buffer/" + n], b64[n]), rel_error(b32[n], b64[n])
        if e >= worst_b:
            worst_b, worst_name = e, n
        worst_b32 = max(worst_b32, e32)
        if verdict(e, e32, TOL["grad"]) == "  MISMATCH":
            problems.append(f"buffer {n} after the step: error {e:.2e} > {TOL['grad']} and > "
                            f"{NOISE_FACTOR} x torch32's {e32:.1e}")
    if dumped:
        bad = any(p.startswith("buffer ") for p in problems)
        report.append(f"  buffers after the step: {len(dumped)}, worst err {worst_b:.1e} ({worst_name}) "
                      f"(torch32 {worst_b32:.1e}){'  MISMATCH' if bad else ''}")
    worst["grad"] = max(worst["grad"], worst_b)

    e, e32 = rel_error(g["sample/x"], x64), rel_error(x32, x64)
    worst["sample"] = e
    what = (f"RK4 {meta['sample_steps']} steps, guidance {float(meta['guidance']):g}"
            if kind.startswith("cnf-") else "prediction")
    v = verdict(e, e32, TOL["sample"])
    report.append(f"  sample ({what}) err {e:.1e} (torch32 {e32:.1e}){v}")
    if v == "  MISMATCH":
        problems.append(f"sample: error {e:.2e} > {TOL['sample']} and > {NOISE_FACTOR} x torch32's {e32:.1e}")
    return report, problems, worst


def compare(directory, kinds):  # kinds: dump names, a kind or a model file's name
    torch.set_num_threads(1)
    failed, summary = [], []
    for kind in kinds:
        report, problems, worst = compare_kind(kind, directory)  # kind: a kind or a model file's name
        print("\n".join(report))
        summary.append(f"  {kind:16s} loss {worst['loss']:.1e}  grads {worst['grad']:.1e}  "
                       f"sample {worst['sample']:.1e}  {'FAIL' if problems else 'ok'}")
        for p in problems:
            print(f"  FAIL {kind}: {p}")
        if problems:
            failed.append(kind)
    print(f"worst errors against PyTorch float64 (tolerances: loss {TOL['loss']:g}, gradients {TOL['grad']:g}, "
          f"sample {TOL['sample']:g}):")
    print("\n".join(summary))
    if failed:
        print(f"golden_torch: {len(failed)} of {len(kinds)} models disagree with PyTorch: {', '.join(failed)}")
        return 1
    print(f"golden_torch: all {len(kinds)} models match PyTorch")
    return 0


def main(argv):
    usage = ("usage: golden_torch.py test GOLDEN_DUMP_BIN SCRATCH_DIR [KIND ...] | compare DIR [KIND ...] | "
             "show MODEL.safetensors")
    if len(argv) >= 3 and argv[0] == "test":
        rest, files = argv[3:], []
        if "--models" in rest:  # every k-osc model file of a folder (the shipped models/)
            i = rest.index("--models")
            folder = rest[i + 1]
            rest = rest[:i] + rest[i + 2:]
            for f in sorted(os.listdir(folder)):
                path = os.path.abspath(os.path.join(folder, f))
                if f.endswith(".safetensors") and model_task(path) == "kosc":
                    files.append(path)
        names = rest or KINDS + [k + "-cnn" for k in CNN_KINDS] + [k + "-alt" for k in ALT_KINDS]
        args = []
        for n in names:
            flavor = n[-4:] if n[-4:] in ("-cnn", "-alt") else ""
            args += ["-" + flavor, n[:-4]] if flavor else [n]
        os.makedirs(argv[2], exist_ok=True)
        start = time.time()
        subprocess.run([argv[1], argv[2], *args, *[a for f in files for a in ("--model", f)]], check=True)
        print(f"golden_dump: {time.time() - start:.1f} s")
        return compare(argv[2], names + [os.path.basename(f)[: -len(".safetensors")] for f in files])
    if len(argv) >= 2 and argv[0] == "compare":
        return compare(argv[1], argv[2:] or KINDS)
    if len(argv) == 2 and argv[0] == "show":
        model, cfg = load_model(argv[1])
        print(json.dumps(cfg, indent=1))
        print(model)
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, safetensors_tensors.BadFile, subprocess.CalledProcessError, OSError) as e:
        print(f"golden_torch: {e}", file=sys.stderr)
        sys.exit(2)
