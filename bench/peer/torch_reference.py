"""PyTorch peer of `npm run bench:train` (not part of the test suite; needs PyTorch on CPU).

The GOLF.md reference shape: byte vocabulary (260), 4 layers, width 256, 4 heads of 64, relu²
MLP ×4, sequence 256, batch 8, tied embedding, RMSNorm, RoPE, causal attention, ternary
straight-through linears in the blocks (BitNet b1.58 absmean, groups of 128 along the input,
zero-corrected scales), one training step = forward + backward + optimizer step. The matrix
optimizer is Muon (Newton–Schulz 5, as golf's default) or AdamW, like `--optim` of bench:train.

    python3 bench/peer/torch_reference.py [--optim muon|adamw] [--threads 2] [--steps 10] [--json]

Prints tokens/s averaged over the timed steps (after warm-up), as bench/train.ts does.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

V, L, D, H, MLP, T, B, GROUP = 260, 4, 256, 4, 4, 256, 8, 128


def rms_norm(x):
    """F.rms_norm (PyTorch ≥ 2.4) with eps = float32 eps, written out for older versions."""
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + torch.finfo(torch.float32).eps)


def causal_attention(q, k, v):
    """F.scaled_dot_product_attention(is_causal=True) (PyTorch ≥ 2.0), written out for older versions."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(1)
    return scores.masked_fill(mask, float("-inf")).softmax(-1) @ v


def ternary(w: torch.Tensor) -> torch.Tensor:
    """q·d with a straight-through gradient: q = clip(round(w/s)), s = mean|w| per group."""
    g = w.reshape(w.shape[0], -1, GROUP)
    s = g.abs().mean(-1, keepdim=True).clamp_min(2**-14)
    nz = (g.abs() > s / 2).to(w.dtype)
    q = torch.sign(g) * nz
    d = torch.where(nz.sum(-1, keepdim=True) > 0, (g.abs() * nz).sum(-1, keepdim=True) / nz.sum(-1, keepdim=True).clamp_min(1), s)
    deq = (q * d.half().float()).reshape(w.shape)
    return w + (deq - w).detach()


class Linear(torch.nn.Module):
    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) / math.sqrt(n_in))

    def forward(self, x):
        return F.linear(x, ternary(self.weight))


def rotary(T: int, dh: int):
    inv = 1.0 / (10000 ** (torch.arange(0, dh, 2).float() / dh))
    ang = torch.outer(torch.arange(T).float(), inv)
    return ang.cos(), ang.sin()


def apply_rotary(x, cos, sin):
    x1, x2 = x.chunk(2, -1)
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], -1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (Linear(D, D) for _ in range(4))
        self.fc, self.proj = Linear(D, MLP * D), Linear(MLP * D, D)

    def forward(self, x, cos, sin):
        h = rms_norm(x)
        heads = lambda t: t.view(B, T, H, D // H).transpose(1, 2)
        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = causal_attention(q, k, v)
        x = x + self.o(y.transpose(1, 2).reshape(B, T, D))
        return x + self.proj(F.relu(self.fc(rms_norm(x))).square())


class GPT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))

    def forward(self, idx, targets):
        cos, sin = rotary(T, D // H)
        x = rms_norm(self.emb(idx))
        for b in self.blocks:
            x = b(x, cos, sin)
        logits = F.linear(rms_norm(x), self.emb.weight)
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


def newton_schulz5(g, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm() + 1e-7)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * A @ A) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr=0.02, momentum=0.95):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                buf = self.state.setdefault(p, {}).setdefault("buf", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(p.grad)
                u = newton_schulz5(p.grad + group["momentum"] * buf)
                p.add_(u, alpha=-group["lr"] * max(1, p.shape[0] / p.shape[1]) ** 0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--optim", choices=["muon", "adamw"], default="muon")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = GPT()
    matrices = [p for n, p in model.named_parameters() if p.ndim == 2 and n.startswith("blocks.")]
    others = [p for n, p in model.named_parameters() if not (p.ndim == 2 and n.startswith("blocks."))]
    opts = [torch.optim.AdamW(others, lr=3e-3, weight_decay=0.0)]
    opts.append(Muon(matrices) if args.optim == "muon" else torch.optim.AdamW(matrices, lr=3e-3, weight_decay=0.0))
    times = []
    for i in range(args.warmup + args.steps):
        chunk = torch.randint(4, 260, (B * T + 1,))
        x, y = chunk[:-1].view(B, T), chunk[1:].view(B, T)
        t0 = time.perf_counter()
        loss = model(x, y)
        loss.backward()
        for o in opts:
            o.step()
            o.zero_grad(set_to_none=True)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    step_s = sum(times) / len(times)
    result = {"bench": "train-peer-pytorch", "torch": torch.__version__, "threads": args.threads, "optimizer": args.optim,
              "step_ms": round(step_s * 1000, 1), "tokens_per_s": round(B * T / step_s), "last_loss": round(loss.item(), 4)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch {torch.__version__}, {args.threads} threads, ternary, {args.optim}: {result['step_ms']} ms/step, {result['tokens_per_s']} tokens/s over {args.steps} steps")


if __name__ == "__main__":
    main()
