#!/usr/bin/env python3
"""Golden files for jlisa's model tests: tiny random GPT-2 and LLaMA checkpoints in Hugging Face's
layout (config.json + model.safetensors), token files, and the losses/logits PyTorch computes for them.

Hugging Face `transformers` and `safetensors` are not installable on these machines (no PyPI), so this
script re-implements the forward passes of `GPT2LMHeadModel` and `LlamaForCausalLM` (transformers 4.4x,
eager attention) line by line in plain PyTorch, and writes safetensors files by the format's spec.
Run with Debian's python3-torch:   /usr/bin/python3 make_golden.py OUT_DIR
The build never runs this; its outputs are committed under src/test/resources/golden/.
"""
import json, math, os, struct, sys
import torch

torch.manual_seed(0)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'resources', 'golden')


def save_safetensors(path, tensors, metadata=None):
    """The safetensors format: u64 header length, JSON header, raw little-endian data, names sorted."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        dtype = {torch.float32: 'F32', torch.bfloat16: 'BF16', torch.float16: 'F16'}[t.dtype]
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.float32 else t.numpy().tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


# ---------------------------------------------------------------- GPT-2 (modeling_gpt2.py)

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_init(cfg):
    C, V, P, L = cfg['n_embd'], cfg['vocab_size'], cfg['n_positions'], cfg['n_layer']
    inner = cfg.get('n_inner') or 4 * C
    std = 0.2   # larger than HF's 0.02 so attention is peaked and position, rotary or mask errors show in the logits
    w = {'wte.weight': torch.randn(V, C) * std, 'wpe.weight': torch.randn(P, C) * std,
         'ln_f.weight': 1 + 0.1 * torch.randn(C), 'ln_f.bias': 0.1 * torch.randn(C)}
    for i in range(L):
        p = 'h.%d.' % i
        w[p + 'ln_1.weight'] = 1 + 0.1 * torch.randn(C); w[p + 'ln_1.bias'] = 0.1 * torch.randn(C)
        w[p + 'attn.c_attn.weight'] = torch.randn(C, 3 * C) * std; w[p + 'attn.c_attn.bias'] = 0.02 * torch.randn(3 * C)
        w[p + 'attn.c_proj.weight'] = torch.randn(C, C) * std; w[p + 'attn.c_proj.bias'] = 0.02 * torch.randn(C)
        w[p + 'ln_2.weight'] = 1 + 0.1 * torch.randn(C); w[p + 'ln_2.bias'] = 0.1 * torch.randn(C)
        w[p + 'mlp.c_fc.weight'] = torch.randn(C, inner) * std; w[p + 'mlp.c_fc.bias'] = 0.02 * torch.randn(inner)
        w[p + 'mlp.c_proj.weight'] = torch.randn(inner, C) * std; w[p + 'mlp.c_proj.bias'] = 0.02 * torch.randn(C)
    return w


def gpt2_forward(cfg, w, ids):
    C, H, L = cfg['n_embd'], cfg['n_head'], cfg['n_layer']
    eps = cfg.get('layer_norm_epsilon', 1e-5)
    T = ids.shape[1]
    x = w['wte.weight'][ids] + w['wpe.weight'][torch.arange(T)][None]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(L):
        p = 'h.%d.' % i
        h = torch.nn.functional.layer_norm(x, (C,), w[p + 'ln_1.weight'], w[p + 'ln_1.bias'], eps)
        qkv = h @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']        # Conv1D: x · W + b
        q, k, v = qkv.split(C, dim=2)
        sh = lambda t: t.view(t.shape[0], T, H, C // H).transpose(1, 2)
        q, k, v = sh(q), sh(k), sh(v)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(C // H)                      # scale_attn_weights
        att = torch.where(mask, att, torch.tensor(torch.finfo(att.dtype).min))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(x.shape[0], T, C)
        x = x + (y @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias'])
        h = torch.nn.functional.layer_norm(x, (C,), w[p + 'ln_2.weight'], w[p + 'ln_2.bias'], eps)
        h = gelu_new(h @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias'])
        x = x + (h @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias'])
    x = torch.nn.functional.layer_norm(x, (C,), w['ln_f.weight'], w['ln_f.bias'], eps)
    return x @ w['wte.weight'].T                                                  # tied lm_head


# ---------------------------------------------------------------- LLaMA (modeling_llama.py)

def llama_init(cfg):
    C, V, L = cfg['hidden_size'], cfg['vocab_size'], cfg['num_hidden_layers']
    H, KV, I = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['intermediate_size']
    D = cfg.get('head_dim') or C // H
    bias = cfg['model_type'] == 'qwen2'
    std = 0.2   # larger than HF's 0.02 so attention is peaked and position, rotary or mask errors show in the logits
    w = {'model.embed_tokens.weight': torch.randn(V, C) * std, 'model.norm.weight': 1 + 0.1 * torch.randn(C)}
    if not cfg.get('tie_word_embeddings', False):
        w['lm_head.weight'] = torch.randn(V, C) * std
    for i in range(L):
        p = 'model.layers.%d.' % i
        w[p + 'input_layernorm.weight'] = 1 + 0.1 * torch.randn(C)
        w[p + 'post_attention_layernorm.weight'] = 1 + 0.1 * torch.randn(C)
        w[p + 'self_attn.q_proj.weight'] = torch.randn(H * D, C) * std
        w[p + 'self_attn.k_proj.weight'] = torch.randn(KV * D, C) * std
        w[p + 'self_attn.v_proj.weight'] = torch.randn(KV * D, C) * std
        w[p + 'self_attn.o_proj.weight'] = torch.randn(C, H * D) * std
        if bias:
            w[p + 'self_attn.q_proj.bias'] = 0.02 * torch.randn(H * D)
            w[p + 'self_attn.k_proj.bias'] = 0.02 * torch.randn(KV * D)
            w[p + 'self_attn.v_proj.bias'] = 0.02 * torch.randn(KV * D)
        w[p + 'mlp.gate_proj.weight'] = torch.randn(I, C) * std
        w[p + 'mlp.up_proj.weight'] = torch.randn(I, C) * std
        w[p + 'mlp.down_proj.weight'] = torch.randn(C, I) * std
    return w


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(cfg, w, ids):
    C, L = cfg['hidden_size'], cfg['num_hidden_layers']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = cfg.get('head_dim') or C // H
    eps, theta = cfg.get('rms_norm_eps', 1e-6), cfg.get('rope_theta', 10000.0)
    B, T = ids.shape
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    freqs = (inv_freq[None, :, None] @ torch.arange(T).float()[None, None, :]).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]                             # (1, 1, T, D)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = w['model.embed_tokens.weight'][ids]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)                                   # HF casts to the hidden dtype
    lin = lambda t, name: t @ w[name + '.weight'].T + (w[name + '.bias'] if name + '.bias' in w else 0)
    for i in range(L):
        p = 'model.layers.%d.' % i
        h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
        q = lin(h, p + 'self_attn.q_proj').view(B, T, H, D).transpose(1, 2)
        k = lin(h, p + 'self_attn.k_proj').view(B, T, KV, D).transpose(1, 2)
        v = lin(h, p + 'self_attn.v_proj').view(B, T, KV, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)   # repeat_kv
        att = (q @ k.transpose(2, 3)) / math.sqrt(D)
        att = torch.where(mask, att, torch.tensor(torch.finfo(att.dtype).min))
        att = torch.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        y = (att @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + lin(y, p + 'self_attn.o_proj')
        h = rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, p + 'mlp.gate_proj')) * lin(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
    x = rms_norm(x, w['model.norm.weight'], eps)
    head = w.get('lm_head.weight', w['model.embed_tokens.weight'])
    return x @ head.T


# ---------------------------------------------------------------- cases

def score(forward, cfg, w, lines):
    """The `jlisa score` contract: mean next-token cross-entropy over every position of every line."""
    total, count = 0.0, 0
    for line in lines:
        ids = torch.tensor([line])
        logits = forward(cfg, w, ids)[0]
        nll = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction='sum')
        total += nll.item()
        count += len(line) - 1
    return total / count, count


def write_case(name, cfg, w, forward, prefix_free_gpt2=False):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    V = cfg['vocab_size']
    g = torch.Generator().manual_seed(sum(name.encode()))
    lines = [torch.randint(0, V, (n,), generator=g).tolist() for n in (9, 16, 2, 12)]
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    tensors = dict(w)
    if cfg['model_type'] == 'gpt2' and not prefix_free_gpt2:
        tensors = {'transformer.' + k: v for k, v in w.items()}
    save_safetensors(os.path.join(d, 'model.safetensors'), tensors, {'format': 'pt'})
    with open(os.path.join(d, 'tokens.txt'), 'w') as f:
        for line in lines:
            f.write(' '.join(map(str, line)) + '\n')
    loss, count = score(forward, cfg, w, lines)
    # float64 run of the same weights, to show how far float32 itself is from exact
    w64 = {k: v.double() for k, v in w.items()}
    loss64, _ = score(forward, cfg, w64, lines)
    logits = forward(cfg, w, torch.tensor([lines[1]]))[0]
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump({'loss': loss, 'loss_float64': loss64, 'tokens': count,
                   'logits_line': 1, 'logits': [[round(x, 7) for x in row] for row in logits.tolist()]}, f)
    print('%-12s loss=%.6f (float64 %.6f) tokens=%d' % (name, loss, loss64, count))


gpt2_cfg = {'model_type': 'gpt2', 'vocab_size': 96, 'n_positions': 32, 'n_embd': 32, 'n_layer': 2, 'n_head': 4,
            'n_inner': None, 'activation_function': 'gelu_new', 'layer_norm_epsilon': 1e-5,
            'resid_pdrop': 0.0, 'embd_pdrop': 0.0, 'attn_pdrop': 0.0, 'tie_word_embeddings': True}
write_case('gpt2-tiny', gpt2_cfg, gpt2_init(gpt2_cfg), gpt2_forward)
write_case('gpt2-noprefix', gpt2_cfg, gpt2_init(gpt2_cfg), gpt2_forward, prefix_free_gpt2=True)

llama_cfg = {'model_type': 'llama', 'vocab_size': 80, 'hidden_size': 32, 'intermediate_size': 72,
             'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'rms_norm_eps': 1e-6,
             'rope_theta': 500000.0, 'max_position_embeddings': 64, 'tie_word_embeddings': False, 'hidden_act': 'silu'}
write_case('llama-gqa', llama_cfg, llama_init(llama_cfg), llama_forward)

qwen_cfg = dict(llama_cfg, model_type='qwen2', tie_word_embeddings=True, rope_theta=10000.0, num_key_value_heads=1,
                rms_norm_eps=1e-5)
write_case('qwen2-tied', qwen_cfg, llama_init(qwen_cfg), llama_forward)


# ---------------------------------------------------------------- fine-tuning contract
# `jlisa finetune --model DIR --tokens train_tokens.txt --method full --optimizer adamw --lr 0.001
#  --weight-decay 0 --steps 5 --batch-size all --no-shuffle --log-every 1` must print these losses.

def write_finetune(name, forward):
    d = os.path.join(OUT, name)
    cfg = json.load(open(os.path.join(d, 'config.json')))
    import struct as _s
    raw = open(os.path.join(d, 'model.safetensors'), 'rb').read()
    n = _s.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    w = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        t = torch.frombuffer(bytearray(raw[8 + n + b: 8 + n + e]), dtype=torch.float32).reshape(v['shape']).clone()
        w[k[len('transformer.'):] if k.startswith('transformer.') else k] = t.requires_grad_(True)
    g = torch.Generator().manual_seed(sum(name.encode()) + 1)
    lines = torch.randint(0, cfg['vocab_size'], (4, 12), generator=g)
    with open(os.path.join(d, 'train_tokens.txt'), 'w') as f:
        for line in lines.tolist():
            f.write(' '.join(map(str, line)) + '\n')
    opt = torch.optim.AdamW(list(w.values()), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    losses = []
    for step in range(5):
        opt.zero_grad()
        logits = forward(cfg, w, lines[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), lines[:, 1:].reshape(-1))
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with open(os.path.join(d, 'finetune_expected.json'), 'w') as f:
        json.dump({'losses': losses, 'command': 'finetune --method full --optimizer adamw --lr 0.001 --weight-decay 0 '
                   '--steps 5 --batch-size all --no-shuffle --log-every 1'}, f, indent=1)
    print('%-12s finetune losses %s' % (name, ' '.join('%.6f' % x for x in losses)))


write_finetune('gpt2-tiny', gpt2_forward)
write_finetune('llama-gqa', llama_forward)


# ---------------------------------------------------------------- the families built on LLaMA
# Qwen3 (modeling_qwen3.py), Gemma (modeling_gemma.py), Gemma-2 (modeling_gemma2.py), Gemma-3 text
# (modeling_gemma3.py, Gemma3ForCausalLM) and rope_scaling (modeling_rope_utils.py), ported line by line as above.
# These cases come after the ones above so that the random stream, and so the files, of those stay as they were.

GEMMA = ('gemma', 'gemma2', 'gemma3_text')


def family_init(cfg):
    t = cfg['model_type']
    w = llama_init(dict(cfg, model_type='llama'))
    C, L = cfg['hidden_size'], cfg['num_hidden_layers']
    D = cfg.get('head_dim') or C // cfg['num_attention_heads']
    if t in GEMMA:   # Gemma's norms scale by 1 + w: store w around 0
        for k in list(w):
            if k.endswith('norm.weight') or k.endswith('layernorm.weight'):
                w[k] = w[k] - 1
    for i in range(L):
        p = 'model.layers.%d.' % i
        if t in ('gemma2', 'gemma3_text'):
            w[p + 'pre_feedforward_layernorm.weight'] = 0.1 * torch.randn(C)
            w[p + 'post_feedforward_layernorm.weight'] = 0.1 * torch.randn(C)
        if t in ('qwen3', 'gemma3_text'):
            base = 0.0 if t in GEMMA else 1.0
            w[p + 'self_attn.q_norm.weight'] = base + 0.1 * torch.randn(D)
            w[p + 'self_attn.k_norm.weight'] = base + 0.1 * torch.randn(D)
    return w


def rope_inv_freq(cfg, theta, D, scaled):
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    rs = cfg.get('rope_scaling') if scaled else None
    if rs is None:
        return inv_freq
    kind = rs.get('rope_type', rs.get('type'))
    if kind == 'linear':
        return inv_freq / rs['factor']
    assert kind == 'llama3'
    factor, low, high, old = rs['factor'], rs['low_freq_factor'], rs['high_freq_factor'], rs['original_max_position_embeddings']
    low_freq_wavelen, high_freq_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old / wavelen - low) / (high - low)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def family_forward(cfg, w, ids):
    t = cfg['model_type']
    C, L = cfg['hidden_size'], cfg['num_hidden_layers']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = cfg.get('head_dim') or C // H
    eps, theta = cfg.get('rms_norm_eps', 1e-6), cfg.get('rope_theta', 10000.0)
    gemma, sandwich = t in GEMMA, t in ('gemma2', 'gemma3_text')
    B, T = ids.shape
    dtype = w['model.embed_tokens.weight'].dtype

    def norm(x, name):
        weight = w[name]
        if gemma:   # GemmaRMSNorm: x / rms in float32, times (1 + w)
            out = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)
            return (out * (1.0 + weight.float())).type_as(x)
        return rms_norm(x, weight, eps)

    def tables(theta_, scaled):
        inv_freq = rope_inv_freq(cfg, theta_, D, scaled)
        freqs = (inv_freq[None, :, None] @ torch.arange(T).float()[None, None, :]).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None].to(dtype), emb.sin()[:, None].to(dtype)

    layer_types = cfg.get('layer_types') or ['full_attention'] * L
    rope_global = tables(theta, True)
    rope_local = tables(cfg['rope_local_base_freq'], False) if t == 'gemma3_text' else rope_global
    scaling = (cfg['query_pre_attn_scalar'] if sandwich else D) ** -0.5
    softcap = cfg.get('attn_logit_softcapping')
    idx = torch.arange(T)
    causal = idx[None, :] <= idx[:, None]
    act = (lambda x: torch.nn.functional.gelu(x, approximate='tanh')) if gemma else torch.nn.functional.silu
    x = w['model.embed_tokens.weight'][ids]
    if gemma:
        x = x * torch.tensor(C ** 0.5, dtype=x.dtype)
    lin = lambda t_, name: t_ @ w[name + '.weight'].T + (w[name + '.bias'] if name + '.bias' in w else 0)
    for i in range(L):
        p = 'model.layers.%d.' % i
        sliding = layer_types[i] == 'sliding_attention'
        cos, sin = rope_local if sliding else rope_global
        h = norm(x, p + 'input_layernorm.weight')
        q = lin(h, p + 'self_attn.q_proj').view(B, T, H, D)
        k = lin(h, p + 'self_attn.k_proj').view(B, T, KV, D)
        if p + 'self_attn.q_norm.weight' in w:
            q, k = norm(q, p + 'self_attn.q_norm.weight'), norm(k, p + 'self_attn.k_norm.weight')
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = lin(h, p + 'self_attn.v_proj').view(B, T, KV, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(2, 3)) * scaling
        if softcap:
            att = torch.tanh(att / softcap) * softcap
        mask = causal & (idx[None, :] > idx[:, None] - cfg['sliding_window']) if sliding else causal
        att = torch.where(mask, att, torch.tensor(torch.finfo(att.dtype).min))
        att = torch.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        y = lin((att @ v).transpose(1, 2).reshape(B, T, H * D), p + 'self_attn.o_proj')
        if sandwich:
            x = x + norm(y, p + 'post_attention_layernorm.weight')
            h = norm(x, p + 'pre_feedforward_layernorm.weight')
            m = lin(act(lin(h, p + 'mlp.gate_proj')) * lin(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
            x = x + norm(m, p + 'post_feedforward_layernorm.weight')
        else:
            x = x + y
            h = norm(x, p + 'post_attention_layernorm.weight')
            x = x + lin(act(lin(h, p + 'mlp.gate_proj')) * lin(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
    x = norm(x, 'model.norm.weight')
    logits = x @ w.get('lm_head.weight', w['model.embed_tokens.weight']).T
    cap = cfg.get('final_logit_softcapping')
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


# the general forward must give the plain LLaMA's numbers on a plain LLaMA
_w = llama_init(llama_cfg)
_ids = torch.randint(0, llama_cfg['vocab_size'], (2, 11))
assert torch.allclose(family_forward(llama_cfg, _w, _ids), llama_forward(llama_cfg, _w, _ids), atol=1e-6)

base = dict(llama_cfg, max_position_embeddings=64)
write_case('llama3-rope-scaling', dict(base, rope_scaling={'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
           'high_freq_factor': 4.0, 'original_max_position_embeddings': 16}, rope_theta=10000.0),
           family_init(base), family_forward)
write_case('llama-linear-rope', dict(base, rope_scaling={'type': 'linear', 'factor': 4.0}),
           family_init(base), family_forward)
qwen3_cfg = dict(base, model_type='qwen3', head_dim=16, tie_word_embeddings=True, rope_theta=1000000.0,
                 attention_bias=False, use_sliding_window=False)
write_case('qwen3-tied', qwen3_cfg, family_init(qwen3_cfg), family_forward)
gemma_cfg = dict(base, model_type='gemma', head_dim=16, tie_word_embeddings=True, hidden_activation='gelu_pytorch_tanh',
                 hidden_act='gelu', num_key_value_heads=1, rms_norm_eps=1e-6)
write_case('gemma-tiny', gemma_cfg, family_init(gemma_cfg), family_forward)
gemma2_cfg = dict(gemma_cfg, model_type='gemma2', num_hidden_layers=3, num_key_value_heads=2, query_pre_attn_scalar=24,
                  attn_logit_softcapping=5.0, final_logit_softcapping=3.0, sliding_window=4,
                  layer_types=['sliding_attention', 'full_attention', 'sliding_attention'])
write_case('gemma2-tiny', gemma2_cfg, family_init(gemma2_cfg), family_forward)
gemma3_cfg = dict(gemma_cfg, model_type='gemma3_text', num_hidden_layers=3, num_key_value_heads=2, query_pre_attn_scalar=16,
                  attn_logit_softcapping=None, final_logit_softcapping=None, sliding_window=5, rope_theta=1000000.0,
                  rope_local_base_freq=10000.0, rope_scaling={'rope_type': 'linear', 'factor': 8.0},
                  layer_types=['sliding_attention', 'sliding_attention', 'full_attention'])
write_case('gemma3-tiny', gemma3_cfg, family_init(gemma3_cfg), family_forward)
