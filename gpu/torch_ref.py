#!/usr/bin/env python3
"""PyTorch reference figures for jlisa's GPU benchmarks, measured the same way on the same GPU.

  torch_ref.py mm N [N ...]              torch.mm, fp32 and TF32, n x n operands on the GPU
  torch_ref.py adamw N                   torch.optim.AdamW(fused=True) over N parameters, effective TB/s (7 float streams)
  torch_ref.py gpt2 [--batch B] [--seq T] [--steps S] [--warmup W]
                                         one GPT-2 124M training step (the model of shared/baselines/torch_gpt2_step.py,
                                         moved to the GPU; AdamW lr 1e-4), fp32 and TF32

Timing as jlisa's GpuBenchmarks: warm-up, then the median of five rounds of about a quarter second (CUDA
events for training steps: median of the timed steps). One result line per figure, e.g.
  torch_mm n=4096 precision=fp32 tflops=51.0
  torch_adamw n=268435456 tb_per_s=2.900
  torch_gpt2 precision=fp32 batch=8 seq=1024 ms_per_step=193.0 tokens_per_s=42400 peak_gib=17.2
"""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_seconds(op):
    for _ in range(3):
        op()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    op()
    torch.cuda.synchronize()
    once = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, min(100000, int(0.25 / once)))
    rounds = []
    for _ in range(5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            op()
        torch.cuda.synchronize()
        rounds.append((time.perf_counter() - t0) / reps)
    return statistics.median(rounds)


def bench_mm(sizes):
    for n in sizes:
        g = torch.Generator(device='cuda').manual_seed(n)
        a = torch.rand(n, n, device='cuda', generator=g) * 2 - 1
        b = torch.rand(n, n, device='cuda', generator=g) * 2 - 1
        c = torch.empty(n, n, device='cuda')
        for precision in ('fp32', 'tf32'):
            torch.backends.cuda.matmul.allow_tf32 = precision == 'tf32'
            s = median_seconds(lambda: torch.mm(a, b, out=c))
            print(f'torch_mm n={n} precision={precision} tflops={2.0 * n ** 3 / s / 1e12:.1f}', flush=True)
        del a, b, c
    torch.backends.cuda.matmul.allow_tf32 = False


def bench_adamw(n):
    p = torch.nn.Parameter(torch.rand(n, device='cuda') * 2 - 1)
    p.grad = torch.rand(n, device='cuda') * 2 - 1
    opt = torch.optim.AdamW([p], lr=1e-4, weight_decay=0.01, fused=True)
    s = median_seconds(opt.step)
    print(f'torch_adamw n={n} fused=True ms={s * 1e3:.3f} tb_per_s={7.0 * 4 * n / s / 1e12:.3f}', flush=True)


# GPT-2 as in shared/baselines/torch_gpt2_step.py: pre-LayerNorm blocks, attention written out (q.k^T, mask,
# softmax, .v), GELU(tanh) MLP, LM head tied to the token embedding, N(0, 0.02) init.
BLOCK_SIZE = 1024


class Block(nn.Module):
    def __init__(self, C, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def attn(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.nh
        q = q.view(B, T, self.nh, hs).transpose(1, 2)
        k = k.view(B, T, self.nh, hs).transpose(1, 2)
        v = v.view(B, T, self.nh, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(mask[:T, :T], float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh'))
        return x


class GPT(nn.Module):
    def __init__(self, n_layer=12, n_head=12, n_embd=768, vocab=50257):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(BLOCK_SIZE, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        self.register_buffer('mask', torch.triu(torch.ones(BLOCK_SIZE, BLOCK_SIZE, dtype=torch.bool), 1))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        B, T = idx.shape
        pos = torch.arange(T, dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for blk in self.h:
            x = blk(x, self.mask)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def bench_gpt2(batch, seq, steps, warmup):
    vocab = 50257
    for precision in ('fp32', 'tf32'):
        torch.backends.cuda.matmul.allow_tf32 = precision == 'tf32'
        torch.manual_seed(0)
        model = GPT().cuda()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        torch.cuda.reset_peak_memory_stats()
        times = []
        for i in range(warmup + steps):
            x = torch.randint(0, vocab, (batch, seq), device='cuda')
            y = torch.randint(0, vocab, (batch, seq), device='cuda')
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            opt.zero_grad(set_to_none=True)
            loss = model(x, y)
            loss.backward()
            opt.step()
            end.record()
            torch.cuda.synchronize()
            if i >= warmup:
                times.append(start.elapsed_time(end))
        ms = statistics.median(times)
        peak = torch.cuda.max_memory_allocated() / 2 ** 30
        print(f'torch_gpt2 precision={precision} batch={batch} seq={seq} ms_per_step={ms:.1f} '
              f'tokens_per_s={batch * seq / (ms / 1000):.0f} peak_gib={peak:.1f} loss={loss.item():.4f}', flush=True)
        del model, opt
        torch.cuda.empty_cache()
    torch.backends.cuda.matmul.allow_tf32 = False


def main():
    if not torch.cuda.is_available():
        print('torch_ref: no CUDA device visible to PyTorch', file=sys.stderr)
        sys.exit(2)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='what', required=True)
    mm = sub.add_parser('mm')
    mm.add_argument('sizes', type=int, nargs='+')
    aw = sub.add_parser('adamw')
    aw.add_argument('n', type=int)
    g = sub.add_parser('gpt2')
    g.add_argument('--batch', type=int, default=8)
    g.add_argument('--seq', type=int, default=1024)
    g.add_argument('--steps', type=int, default=10)
    g.add_argument('--warmup', type=int, default=3)
    a = ap.parse_args()
    print(f'torch {torch.__version__} on {torch.cuda.get_device_name(0)}', flush=True)
    if a.what == 'mm':
        bench_mm(a.sizes)
    elif a.what == 'adamw':
        bench_adamw(a.n)
    else:
        bench_gpt2(a.batch, a.seq, a.steps, a.warmup)


if __name__ == '__main__':
    main()
