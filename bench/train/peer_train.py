#!/usr/bin/env python3
"""The PyTorch peer of gwo's training benchmark: one training step, timed.

What a careful PyTorch user would write for the same workloads gwo trains:
plain nn.Module models, bf16 autocast over fp32 weights, TF32 on, fused AdamW,
gradient clipping at 1.0, and optionally torch.compile (model and loss).

Workloads
  gpt2          GPT-2 124M, full training
  qwen3         Qwen3-0.6B shape, full training
  gpt2-distill  GPT-2 124M student + frozen GPT-2 124M teacher, loss = CE + KL (T = 1)
  gpt2-lora     GPT-2 124M frozen, LoRA r=8 alpha=16 on c_attn and attention c_proj

Weights are random (no checkpoint is read) and the data is random token ids made
up front on the GPU, so the step time is the model's, optimizer's and loss's alone.
Steps warmup..steps-1 are timed one by one (synchronize + perf_counter); the
median is reported, and with --out one JSON line is appended.

Usage: peer_train.py --workload gpt2 --compile 1 [--batch B --seq T] [--steps N]
                     [--warmup W] [--out results.jsonl] [--tiny --device cpu]
"""
import argparse
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- GPT-2

@dataclass
class GPT2Config:
    vocab: int = 50304       # 50257 padded up to a multiple of 64 (nanoGPT-style) for faster matmuls
    real_vocab: int = 50257  # ids the data may contain; the padded rows never see a target
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    block: int = 1024


class GPT2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c.n_head
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)  # q, k, v together
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)

    def forward(self, x):                                  # x: (B, T, C)
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)           # each (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)   # (B, T, C)
        return self.c_proj(y)


class GPT2MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)

    def forward(self, x):                                  # (B, T, C) -> (B, T, C)
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd)
        self.attn = GPT2Attention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd)
        self.mlp = GPT2MLP(c)

    def forward(self, x):                                  # (B, T, C), pre-norm residual
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c.vocab, c.n_embd)
        self.wpe = nn.Embedding(c.block, c.n_embd)        # learned positions
        self.h = nn.ModuleList(GPT2Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab, bias=False)
        self.lm_head.weight = self.wte.weight             # tied
        self.apply(init_normal)
        for name, p in self.named_parameters():            # scaled residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c.n_layer))

    def forward(self, idx):                                # idx: (B, T) -> logits (B, T, V)
        T = idx.shape[1]
        pos = torch.arange(T, device=idx.device)           # (T,)
        x = self.wte(idx) + self.wpe(pos)                  # (B, T, C)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))                  # (B, T, V)

    def flops_shape(self):                                 # (layers, query heads, head dim)
        return self.c.n_layer, self.c.n_head, self.c.n_embd // self.c.n_head


def init_normal(m):
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    if isinstance(m, nn.Linear) and m.bias is not None:
        nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------- Qwen3

@dataclass
class Qwen3Config:
    vocab: int = 151936
    real_vocab: int = 151936
    n_layer: int = 28
    hidden: int = 1024
    n_head: int = 16          # query heads
    n_kv_head: int = 8
    head_dim: int = 128
    intermediate: int = 3072
    rope_theta: float = 1e6
    eps: float = 1e-6
    block: int = 2048


def _sdpa_has_gqa():
    """True when F.scaled_dot_product_attention takes enable_gqa (PyTorch >= 2.5)."""
    q, kv = torch.zeros(1, 2, 1, 4), torch.zeros(1, 1, 1, 4)
    try:
        F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
        return True
    except TypeError:
        return False


HAS_GQA = _sdpa_has_gqa()  # probed once, so the compiled graph sees a constant


def causal_gqa_attention(q, k, v):
    """q: (B, Hq, T, D); k, v: (B, Hkv, T, D) -> (B, Hq, T, D)."""
    if HAS_GQA:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    rep = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(rep, dim=1)                    # (B, Hq, T, D)
    v = v.repeat_interleave(rep, dim=1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def rope_tables(T, D, theta):
    """cos, sin: (T, D), rotate-half layout (the two halves of the head share frequencies)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D)  # (D/2,)
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)        # (T, D/2)
    emb = torch.cat((freqs, freqs), dim=-1)                                     # (T, D)
    return emb.cos(), emb.sin()


def apply_rope(x, cos, sin):                               # x: (B, H, T, D); cos, sin: (T, D)
    x1, x2 = x.chunk(2, dim=-1)                            # each (B, H, T, D/2)
    rotated = torch.cat((-x2, x1), dim=-1)                 # (B, H, T, D)
    return x * cos + rotated * sin


class Qwen3Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c.n_head, c.n_kv_head, c.head_dim
        self.q_proj = nn.Linear(c.hidden, c.n_head * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden, c.n_kv_head * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden, c.n_kv_head * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.n_head * c.head_dim, c.hidden, bias=False)
        self.q_norm = nn.RMSNorm(c.head_dim, eps=c.eps)    # per head, before RoPE
        self.k_norm = nn.RMSNorm(c.head_dim, eps=c.eps)

    def forward(self, x, cos, sin):                        # x: (B, T, C)
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.nh, self.hd)).transpose(1, 2)   # (B, Hq, T, D)
        k = self.k_norm(self.k_proj(x).view(B, T, self.nkv, self.hd)).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)               # (B, Hkv, T, D)
        # RoPE in fp32 (the tables are), back to v's dtype (bf16 under autocast) for SDPA
        q, k = apply_rope(q, cos, sin).to(v.dtype), apply_rope(k, cos, sin).to(v.dtype)
        y = causal_gqa_attention(q, k, v)                  # (B, Hq, T, D)
        y = y.transpose(1, 2).reshape(B, T, self.nh * self.hd)  # (B, T, Hq*D)
        return self.o_proj(y)                              # (B, T, C)


class Qwen3MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden, c.intermediate, bias=False)
        self.up_proj = nn.Linear(c.hidden, c.intermediate, bias=False)
        self.down_proj = nn.Linear(c.intermediate, c.hidden, bias=False)

    def forward(self, x):                                  # (B, T, C) -> (B, T, C)
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Qwen3Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = nn.RMSNorm(c.hidden, eps=c.eps)
        self.self_attn = Qwen3Attention(c)
        self.post_attention_layernorm = nn.RMSNorm(c.hidden, eps=c.eps)
        self.mlp = Qwen3MLP(c)

    def forward(self, x, cos, sin):                        # (B, T, C)
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab, c.hidden)
        self.layers = nn.ModuleList(Qwen3Block(c) for _ in range(c.n_layer))
        self.norm = nn.RMSNorm(c.hidden, eps=c.eps)
        self.lm_head = nn.Linear(c.hidden, c.vocab, bias=False)
        self.lm_head.weight = self.embed_tokens.weight     # tied
        cos, sin = rope_tables(c.block, c.head_dim, c.rope_theta)
        self.register_buffer("cos", cos, persistent=False)  # (block, D), fp32
        self.register_buffer("sin", sin, persistent=False)
        self.apply(init_normal)

    def forward(self, idx):                                # idx: (B, T) -> logits (B, T, V)
        T = idx.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]              # (T, D)
        x = self.embed_tokens(idx)                         # (B, T, C)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))                  # (B, T, V)

    def flops_shape(self):
        return self.c.n_layer, self.c.n_head, self.c.head_dim


# --------------------------------------------------------------------------- LoRA

class LoRALinear(nn.Module):
    """y = base(x) + (alpha / rank) * B(A(x)); base frozen, A kaiming-uniform (nn.Linear's default), B zero."""

    def __init__(self, base, rank=8, alpha=16):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scale = alpha / rank

    def forward(self, x):                                  # (B, T, in) -> (B, T, out)
        return self.base(x) + self.scale * self.lora_B(self.lora_A(x))


def add_lora(model, rank=8, alpha=16):
    model.requires_grad_(False)
    for block in model.h:
        block.attn.c_attn = LoRALinear(block.attn.c_attn, rank, alpha)
        block.attn.c_proj = LoRALinear(block.attn.c_proj, rank, alpha)
    return model


# --------------------------------------------------------------------------- losses

def lm_loss(logits, targets, teacher_logits=None):        # logits: (B, T, V); targets: (B, T)
    V = logits.shape[-1]
    return F.cross_entropy(logits.float().view(-1, V), targets.view(-1))


def distill_loss(logits, targets, teacher_logits, temperature=1.0, kl_weight=1.0):
    """CE(student) + kl_weight * T^2 * mean over tokens of KL(p_teacher || p_student), in fp32."""
    V = logits.shape[-1]
    logp_s = F.log_softmax(logits.float().view(-1, V) / temperature, dim=-1)          # (B*T, V)
    logp_t = F.log_softmax(teacher_logits.float().view(-1, V) / temperature, dim=-1)  # (B*T, V)
    # batchmean on (B*T, V): sum over tokens and vocab / (B*T) = mean over tokens of the sum over v
    kl = F.kl_div(logp_s, logp_t, reduction="batchmean", log_target=True)
    ce = F.nll_loss(logp_s, targets.view(-1)) if temperature == 1.0 else lm_loss(logits, targets)
    return ce + kl_weight * temperature ** 2 * kl


# --------------------------------------------------------------------------- setup

def build(args, device):
    """Returns (model, teacher or None, loss_fn, (layers, heads, head dim), real_vocab)."""
    tiny = args.tiny
    if args.workload == "qwen3":
        c = Qwen3Config(block=args.seq)
        if tiny:
            c = Qwen3Config(vocab=512, real_vocab=512, n_layer=2, hidden=64, n_head=4, n_kv_head=2,
                            head_dim=16, intermediate=192, block=args.seq)
        make = lambda: Qwen3(c)
    else:
        c = GPT2Config(block=max(1024, args.seq))
        if tiny:
            c = GPT2Config(vocab=512, real_vocab=512, n_layer=2, n_head=4, n_embd=64, block=args.seq)
        make = lambda: GPT2(c)

    torch.manual_seed(1337)
    model = make()
    teacher = None
    loss_fn = lm_loss
    if args.workload == "gpt2-lora":
        add_lora(model)
    elif args.workload == "gpt2-distill":
        torch.manual_seed(4242)                           # a different random teacher
        teacher = make().requires_grad_(False).eval()
        loss_fn = distill_loss
    model = model.to(device).train()
    if teacher is not None:
        teacher = teacher.to(device)
    return model, teacher, loss_fn, model.flops_shape(), c.real_vocab


def flops_per_token(model, shape, T, workload):
    """nanoGPT's estimate_mfu count: 6N + 12*L*H*Q*T per trained token.

    N is every parameter except the learned position embedding. For LoRA N is still the
    whole model (frozen base included): to first order the forward and backward through
    the frozen weights cost the same as when they train (the weight-gradient matmuls are
    skipped, which this count ignores). For distillation the teacher's forward is added:
    2N + 4*L*H*Q*T, a third of a training step's FLOPs."""
    n = sum(p.numel() for p in model.parameters())
    if hasattr(model, "wpe"):
        n -= model.wpe.weight.numel()
    L, H, Q = shape
    f = 6 * n + 12 * L * H * Q * T
    if workload == "gpt2-distill":
        f += 2 * n + 4 * L * H * Q * T                    # teacher has the student's shape
    return f


def make_optimizer(params, device):
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    fused = True if device.type == "cuda" else None     # fused on the GPU; CPU smoke runs use the default
    return torch.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95), fused=fused)


def make_batches(n, B, T, vocab, device):
    """n distinct (x, y) pairs of (B, T) int64 ids in [0, vocab), y = x shifted by one."""
    g = torch.Generator().manual_seed(1234)
    out = []
    for _ in range(n):
        ids = torch.randint(0, vocab, (B, T + 1), generator=g)           # (B, T+1)
        out.append((ids[:, :-1].contiguous().to(device), ids[:, 1:].contiguous().to(device)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", required=True, choices=["gpt2", "qwen3", "gpt2-distill", "gpt2-lora"])
    ap.add_argument("--compile", type=int, choices=[0, 1], default=0)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq", type=int)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="2 layers, width 64, vocab 512, seq 64, batch 2")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100/H200 SXM: 989)")
    ap.add_argument("--out", help="append one JSON line here")
    args = ap.parse_args()
    if args.tiny:
        args.batch, args.seq = args.batch or 2, args.seq or 64
    elif args.workload == "qwen3":
        args.batch, args.seq = args.batch or 8, args.seq or 2048
    else:
        args.batch, args.seq = args.batch or 16, args.seq or 1024
    if not 0 <= args.warmup < args.steps:
        ap.error("need 0 <= warmup < steps")

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    model, teacher, loss_fn, shape, real_vocab = build(args, device)
    params = [p for p in model.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in params)
    n_teacher = sum(p.numel() for p in teacher.parameters()) if teacher is not None else None
    fpt = flops_per_token(model, shape, args.seq, args.workload)
    opt = make_optimizer(params, device)
    if args.compile:
        import torch._dynamo
        torch._dynamo.config.suppress_errors = False      # a compile failure must fail the run
        model = torch.compile(model)
        loss_fn = torch.compile(loss_fn)                  # fuses the fp32 upcast and softmax of (B*T, V)
        if teacher is not None:
            teacher = torch.compile(teacher)
    B, T = args.batch, args.seq
    batches = make_batches(8, B, T, real_vocab, device)
    log(f"peer_train: {args.workload} compile={args.compile} B={B} T={T} params={n_params:,} "
        f"trainable={n_trainable:,} gqa_sdpa={HAS_GQA} on {device}")

    def step(x, y):                                        # x, y: (B, T)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            t_logits = None
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(x)                  # (B, T, V), no graph
            logits = model(x)                              # (B, T, V)
            loss = loss_fn(logits, y, t_logits)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.detach()

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    loss = None
    for i in range(args.steps):
        x, y = batches[i % len(batches)]
        sync()
        t0 = time.perf_counter()
        try:
            loss = step(x, y)
            sync()
        except Exception as e:
            if not args.compile:
                raise
            # compiled code runs (and compiles, lazily) here: no silent eager fallback
            log(f"peer_train: compiled step {i} failed (torch.compile): {type(e).__name__}: {e}")
            sys.exit(2)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)

    med = statistics.median(times)
    q = statistics.quantiles(times, n=10, method="inclusive") if len(times) > 1 else [med] * 9
    tok_s = B * T / med
    peak = args.peak_tflops * 1e12
    res = {
        "workload": args.workload,
        "compile": bool(args.compile),
        "batch": B,
        "seq": T,
        "tokens_per_s": tok_s,
        "step_ms": med * 1e3,
        "step_ms_p10": q[0] * 1e3,
        "step_ms_p90": q[-1] * 1e3,
        "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None,
        "params": n_params,
        "trainable_params": n_trainable,
        "flops_per_token": fpt,
        "mfu": fpt * tok_s / peak,
        "peak_tflops": args.peak_tflops,
        "gpu": torch.cuda.get_device_name(device) if cuda else f"cpu ({platform.machine()})",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "final_loss": float(loss),
        "steps": args.steps,
        "warmup": args.warmup,
    }
    if n_teacher is not None:
        res["teacher_params"] = n_teacher
    if args.tiny:
        res["tiny"] = True
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(res) + "\n")
    mem = f"{res['peak_mem_gib']:.1f} GiB" if cuda else "n/a"
    log(f"peer_train: {args.workload} compile={args.compile} B={B} T={T}: {tok_s:,.0f} tok/s, "
        f"step {res['step_ms']:.1f} ms (p10 {res['step_ms_p10']:.1f}, p90 {res['step_ms_p90']:.1f}), "
        f"MFU {res['mfu'] * 100:.1f}%, peak {mem}, loss {res['final_loss']:.3f} on {res['gpu']}")
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
