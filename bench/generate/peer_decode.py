"""The peer of gwo's Generate benchmark: a minimal PyTorch GPT-2 decoder with a
static KV cache and one captured CUDA graph per batch size, in bf16, greedy.

It loads the same HF-format checkpoint gwo wrote (model.safetensors + config.json;
GPT-2 Conv1D weights are (in, out)), prefills the prompt token by token with the
same step function (eagerly), then times `--tokens` decode steps replayed from the
graph. Prints one line per batch size and writes JSON with --json.

  python3 peer_decode.py --hf DIR --batch 1,32 --tokens 256 [--json out.json]
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290]  # "The quick brown fox jumps over the lazy dog"


class Decoder:
    """One GPT-2 decode step over a static cache: token (B, 1) at position pos."""

    def __init__(self, hf_dir, batch, device, dtype):
        cfg = json.load(open(os.path.join(hf_dir, "config.json")))
        sd = load_file(os.path.join(hf_dir, "model.safetensors"))
        sd = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in sd.items()}
        w = lambda name: sd[name].to(device=device, dtype=dtype)
        self.L, self.nh, self.C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
        self.S = cfg["n_positions"]
        self.hd = self.C // self.nh
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.wte, self.wpe = w("wte.weight"), w("wpe.weight")
        self.layers = []
        for i in range(self.L):
            p = f"h.{i}."
            self.layers.append({n: w(p + n) for n in [
                "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"]})
        self.ln_f = (w("ln_f.weight"), w("ln_f.bias"))
        B = batch
        self.k = torch.zeros(self.L, B, self.nh, self.S, self.hd, device=device, dtype=dtype)
        self.v = torch.zeros_like(self.k)
        self.tok = torch.zeros(B, 1, dtype=torch.long, device=device)  # static input
        self.pos = torch.zeros(1, dtype=torch.long, device=device)     # static position
        self.out = torch.zeros(B, self.S, dtype=torch.long, device=device)
        self.keys = torch.arange(self.S, device=device)

    def step(self):
        B = self.tok.shape[0]
        x = self.wte[self.tok] + self.wpe[self.pos].view(1, 1, -1)  # (B, 1, C)
        mask = (self.keys <= self.pos).view(1, 1, 1, self.S)        # keys up to pos
        for i, l in enumerate(self.layers):
            h = F.layer_norm(x, (self.C,), l["ln_1.weight"], l["ln_1.bias"], self.eps)
            qkv = torch.addmm(l["attn.c_attn.bias"], h.view(B, self.C), l["attn.c_attn.weight"])
            q, k, v = qkv.view(B, 3, self.nh, 1, self.hd).unbind(1)    # (B, nh, 1, hd) each
            self.k[i].index_copy_(2, self.pos, k)
            self.v[i].index_copy_(2, self.pos, v)
            y = F.scaled_dot_product_attention(q, self.k[i], self.v[i], attn_mask=mask)
            x = x + torch.addmm(l["attn.c_proj.bias"], y.view(B, self.C), l["attn.c_proj.weight"]).view(B, 1, self.C)
            h = F.layer_norm(x, (self.C,), l["ln_2.weight"], l["ln_2.bias"], self.eps)
            h = F.gelu(torch.addmm(l["mlp.c_fc.bias"], h.view(B, self.C), l["mlp.c_fc.weight"]), approximate="tanh")
            x = x + torch.addmm(l["mlp.c_proj.bias"], h, l["mlp.c_proj.weight"]).view(B, 1, self.C)
        x = F.layer_norm(x, (self.C,), self.ln_f[0], self.ln_f[1], self.eps)
        nxt = (x.view(B, self.C) @ self.wte.t()).argmax(-1, keepdim=True)  # (B, 1)
        self.out.index_copy_(1, self.pos, nxt)
        self.tok.copy_(nxt)
        self.pos.add_(1)

    def prefill(self, prompt):
        self.pos.zero_()
        for t in prompt:
            self.tok.fill_(t)
            self.step()


def bench(hf_dir, batch, tokens, device, dtype, use_graph, repeats):
    d = Decoder(hf_dir, batch, device, dtype)
    with torch.inference_mode():
        graph = None
        if use_graph:
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):  # warm up kernels before capture
                d.prefill(PROMPT)
                for _ in range(3):
                    d.step()
            torch.cuda.current_stream().wait_stream(s)
            d.prefill(PROMPT)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                d.step()
        rates = []
        for _ in range(repeats):
            d.prefill(PROMPT)  # start over (the graph's capture ran one step too)
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(tokens):
                graph.replay() if graph is not None else d.step()
            if device == "cuda":
                torch.cuda.synchronize()
            rates.append(batch * tokens / (time.perf_counter() - t0))
    n = len(PROMPT)
    first = d.out[0, n - 1:n - 1 + tokens].tolist()  # row 0's generated tokens
    return statistics.median(rates), first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True)
    ap.add_argument("--batch", default="1,32")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported")
    ap.add_argument("--json", default="")
    ap.add_argument("--tokens_out", default="", help="batch 1's greedy tokens, one line")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    rows = []
    for b in [int(x) for x in args.batch.split(",")]:
        for mode in (["graph", "eager"] if device == "cuda" else ["eager"]):
            tps, first = bench(args.hf, b, args.tokens, device, dtype, mode == "graph", args.repeats)
            print(f"peer {mode} batch {b}: {tps:.1f} tok/s (median of {args.repeats})")
            rows.append({"batch": b, "mode": mode, "tokens_per_s": tps})
            if b == 1 and mode == rows[0]["mode"] and args.tokens_out:
                open(args.tokens_out, "w").write(" ".join(map(str, first)) + "\n")
    if args.json:
        json.dump({"device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                   "torch": torch.__version__, "rows": rows}, open(args.json, "w"))


if __name__ == "__main__":
    main()
