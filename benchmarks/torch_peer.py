"""The PyTorch-CPU peer of the training-step suite (benchmarks/training.ts, paper Table 5).

An OPTIONAL peer: the bench runs it when `python3` can import `torch`, and skips it with a note otherwise; no
test needs it and it downloads nothing. It times the same LLaMA-shaped training step as ours (RMSNorm, RoPE,
causal attention, SwiGLU, LM head, cross-entropy; forward, backward, clip_grad_norm_ 1.0, torch.optim.AdamW),
from a random float32 init, for full fine-tuning, LoRA and MoRA with our defaults (lib/adapters/: every
projection adapted, LoRA with the alpha the bench sends (ours: 2r), A kaiming-uniform and B zero, MoRA's r̂
and its rotation and sharing variants with M zero; lib/train/optimizer.ts: betas 0.9/0.999, eps 1e-8, weight
decay 0). Only the adapters train, or every weight for full fine-tuning.

It stays alive so that its steps can be timed in the same interleaved rounds as ours. Protocol: one JSON object
per line on stdin, one reply per line on stdout.

    (on start)                                   -> {"hello": {"torch": "1.13.1"}}
                                                    or {"unavailable": "<why>"} and exit (no torch)
    {"setup": {"model": {...}, "batch": B, "seqLen": T, "lr": LR, "threads": N,
               "cases": [{"method": "fft" | "lora" | "mora", "rank": r | null, "variant": v?, "alpha": a?}]}}
                                                 -> {"ready": {"cases": [{"trainableParams": n}, ...],
                                                               "blas": "blas/libblas.so.3", "threads": N}}
                                                    (each case built and stepped once)
    {"run": i, "repetitions": R}                 -> {"ms": <wall ms of R steps of case i, measured here>}
    {"quit": true} or end of input               -> exit

The model object: hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, vocabSize, rmsNormEps,
ropeTheta (lib/model/config.ts names). A message that fails gets {"error": "<why>"}.
"""

import json
import math
import re
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as error:  # the bench reads this line as the reason to skip the peer
    print(json.dumps({"unavailable": f"{sys.executable} cannot import torch ({error})"}), flush=True)
    sys.exit(0)


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x²) + eps) · g."""

    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    """[-x2, x1] for x = [x1, x2] split in halves (HF LLaMA's RoPE pairing; MoRA's rotation uses it too)."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rope_tables(positions, width, theta):
    """cos and sin (positions, width) of angle p·theta^(-2q/width), laid out [angles, angles]."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, width, 2, dtype=torch.float32) / width))
    angles = torch.outer(torch.arange(positions, dtype=torch.float32), inv_freq)
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


class Attention(nn.Module):
    """Causal multi-head self-attention with RoPE on q and k (no biases, as LLaMA)."""

    def __init__(self, cfg):
        super().__init__()
        hidden, self.heads = cfg["hiddenSize"], cfg["numAttentionHeads"]
        self.head_dim = hidden // self.heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
            nn.Linear(hidden, hidden, bias=False) for _ in range(4)
        )

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # (b, heads, t, d)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim) + mask
        out = torch.softmax(scores, dim=-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class Mlp(nn.Module):
    """SwiGLU: down(silu(gate(x)) · up(x))."""

    def __init__(self, cfg):
        super().__init__()
        hidden, inner = cfg["hiddenSize"], cfg["intermediateSize"]
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    """Pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(x))."""

    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hiddenSize"], cfg["rmsNormEps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hiddenSize"], cfg["rmsNormEps"])
        self.mlp = Mlp(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Embedding, decoder layers, final norm, untied LM head; linears and embedding N(0, 0.02²), gains 1."""

    def __init__(self, cfg, seq_len):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocabSize"], cfg["hiddenSize"])
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg["numHiddenLayers"]))
        self.norm = RMSNorm(cfg["hiddenSize"], cfg["rmsNormEps"])
        self.lm_head = nn.Linear(cfg["hiddenSize"], cfg["vocabSize"], bias=False)
        head_dim = cfg["hiddenSize"] // cfg["numAttentionHeads"]
        self.cos, self.sin = rope_tables(seq_len, head_dim, cfg["ropeTheta"])
        self.mask = torch.full((seq_len, seq_len), float("-inf")).triu(1)
        for name, p in self.named_parameters():
            if not name.endswith("norm.weight"):
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        return self.lm_head(self.norm(x))


class LoraLinear(nn.Module):
    """y = W0·x + (alpha/r)·B·A·x (lib/adapters/lora.ts): A (r, in) U(±1/√in), B (out, r) zero, W0 frozen."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scale = base, alpha / r
        bound = 1 / math.sqrt(base.in_features)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features).uniform_(-bound, bound))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scale


def mora_rank(in_f, out_f, r, variant):
    """r̂ = int(√((in + out)·r) + 0.5), even for rotation (lib/ops/mora/variants.ts moraRank)."""
    rank = int(math.sqrt((in_f + out_f) * r) + 0.5)
    return 2 * (rank // 2) if variant == "rotation" else rank


class MoraLinear(nn.Module):
    """y = W0·x + decomp(M·comp(x)) (lib/adapters/mora.ts), M (r̂, r̂) zero, no scaling, W0 frozen.

    The input is wrap-padded to n = ceil(in/r̂) chunks of r̂ (x[p mod in]). Sharing (Eq. 6): the chunks are
    summed, M applied, and the r̂ outputs tiled to out. Rotation (Eq. 9): chunk j is rotated by the RoPE angle
    j·θ (half-split pairing), M applied to each chunk, and the n·r̂ outputs tiled (or truncated) to out.
    """

    def __init__(self, base, r, variant):
        super().__init__()
        if variant not in ("rotation", "sharing"):
            raise ValueError(f"MoRA variant {variant!r} is not in the peer: use rotation or sharing")
        in_f, out_f = base.in_features, base.out_features
        self.base, self.variant = base, variant
        self.rank = mora_rank(in_f, out_f, r, variant)
        self.chunks = -(-in_f // self.rank)
        self.pad_index = torch.arange(self.chunks * self.rank) % in_f
        outputs = self.chunks * self.rank if variant == "rotation" else self.rank
        self.tile_index = torch.arange(out_f) % outputs
        self.cos, self.sin = rope_tables(self.chunks, self.rank, 10000.0)
        self.M = nn.Parameter(torch.zeros(self.rank, self.rank))

    def forward(self, x):
        chunks = x.index_select(-1, self.pad_index).unflatten(-1, (self.chunks, self.rank))
        if self.variant == "sharing":
            z = chunks.sum(-2) @ self.M.t()
        else:
            z = ((chunks * self.cos + rotate_half(chunks) * self.sin) @ self.M.t()).flatten(-2)
        return self.base(x) + z.index_select(-1, self.tile_index)


PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def adapt(model, case):
    """Freezes the base and wraps every projection (never lm_head) in the case's adapter; fft: no change."""
    method, rank = case["method"], case.get("rank")
    if method == "fft":
        return
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name in PROJECTIONS:
                base = getattr(parent, name, None)
                if base is None:
                    continue
                if method == "lora":
                    wrapped = LoraLinear(base, rank, case.get("alpha", 2 * rank))
                elif method == "mora":
                    wrapped = MoraLinear(base, rank, case.get("variant") or "rotation")
                else:
                    raise ValueError(f"method {method!r} is not in the peer: use fft, lora or mora")
                setattr(parent, name, wrapped)


class Case:
    """One method's model, optimizer and batch; `step()` is one full training step."""

    def __init__(self, base_state, cfg, setup, case):
        self.model = Llama(cfg, setup["seqLen"])
        self.model.load_state_dict(base_state)
        adapt(self.model, case)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params, lr=setup["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0
        )
        tokens = setup["batch"] * setup["seqLen"]
        # The same tokens as ours: (i · 7919) mod vocab, labels = ids (benchmarks/training.ts).
        ids = (torch.arange(tokens) * 7919) % cfg["vocabSize"]
        self.ids = ids.view(setup["batch"], setup["seqLen"])
        self.labels = ids

    def step(self):
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(self.ids)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), self.labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()


def blas():
    """The BLAS library torch calls, as mapped into this process (Debian's torch loads whichever libblas.so.3
    the system provides: the reference `blas/` one, slow, or `openblas-*/`), else the build's BLAS_INFO."""
    try:
        with open("/proc/self/maps") as maps:
            files = {line.split()[-1] for line in maps if len(line.split()) >= 6}
    except OSError:
        files = set()
    libraries = sorted("/".join(f.split("/")[-2:]) for f in files if re.search(r"blas|mkl", f.split("/")[-1]))
    if libraries:
        return " + ".join(libraries)
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def setup_cases(setup):
    """Builds every case from one random base and steps each once; the ready reply (trainable counts, build)."""
    torch.set_num_threads(int(setup["threads"]))
    torch.manual_seed(0)
    cfg = setup["model"]
    base_state = Llama(cfg, setup["seqLen"]).state_dict()
    cases = [Case(base_state, cfg, setup, case) for case in setup["cases"]]
    for case in cases:
        case.step()
    counts = [{"trainableParams": sum(p.numel() for p in c.params)} for c in cases]
    return cases, {"cases": counts, "blas": blas(), "threads": torch.get_num_threads()}


def timed_steps(case, repetitions):
    """Wall ms of `repetitions` steps."""
    start = time.perf_counter()
    for _ in range(repetitions):
        case.step()
    return (time.perf_counter() - start) * 1000


def main():
    print(json.dumps({"hello": {"torch": torch.__version__}}), flush=True)
    cases = []
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
            if message.get("quit"):
                break
            if "setup" in message:
                cases, ready = setup_cases(message["setup"])
                reply = {"ready": ready}
            else:
                reply = {"ms": timed_steps(cases[message["run"]], int(message["repetitions"]))}
        except Exception as error:  # reported to the bench, which then skips the peer with this reason
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
