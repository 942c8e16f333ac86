#!/usr/bin/env python3
"""Golden file for jlisa's BF16 conversion: float32 values and the bfloat16 bits PyTorch rounds them to.

jlisa writes BF16 safetensors (Models.save with DType.BF16, or a model loaded from a BF16 checkpoint); the file
must hold the bits `tensor.to(torch.bfloat16)` gives, so a checkpoint saved here is the one PyTorch would save.
The values cover normal numbers at many scales, exact halfway cases (ties to even), subnormals, the largest
floats (which round to infinity), signed zeros, infinities and NaN.
Run with Debian's python3-torch:   /usr/bin/python3 make_bf16_golden.py [OUT_FILE]
The build never runs this; its output is committed as src/test/resources/bf16/rounding.safetensors.
"""
import json, os, struct, sys
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'resources', 'bf16',
                                                          'rounding.safetensors')
g = torch.Generator().manual_seed(16)
parts = [torch.randn(2048, generator=g) * torch.pow(10.0, torch.randint(-30, 30, (2048,), generator=g).float())]
# exact ties: the low 16 bits are 0x8000, so the result depends on the kept bit (round half to even)
hi = torch.randint(0, 1 << 15, (256,), generator=g, dtype=torch.int32) << 16
parts.append((hi | 0x8000).view(torch.float32))
parts.append(((hi | (1 << 16)) | 0x8000).view(torch.float32))
# just below and above a tie, and subnormals
parts.append((hi | 0x7FFF).view(torch.float32))
parts.append((hi | 0x8001).view(torch.float32))
parts.append(torch.randint(1, 1 << 23, (128,), generator=g, dtype=torch.int32).view(torch.float32))
specials = [0.0, -0.0, float('inf'), float('-inf'), float('nan'), 3.4028235e38, -3.4028235e38, 3.3961776e38,
            1.0, -1.0, 1.1754944e-38, 1.4e-45, 65504.0, 1.0 / 3.0]
parts.append(torch.tensor(specials, dtype=torch.float32))
f32 = torch.cat(parts).contiguous()
bf16 = f32.to(torch.bfloat16)

header, blobs, offset = {}, [], 0
for name, t in (('bf16', bf16), ('f32', f32)):
    raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
    header[name] = {'dtype': 'BF16' if t.dtype == torch.bfloat16 else 'F32', 'shape': list(t.shape),
                    'data_offsets': [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
header['__metadata__'] = {'torch': torch.__version__, 'made_by': 'make_bf16_golden.py'}
h = json.dumps(header, separators=(',', ':')).encode()
h += b' ' * ((8 - len(h) % 8) % 8)
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'wb') as f:
    f.write(struct.pack('<Q', len(h)))
    f.write(h)
    for b in blobs:
        f.write(b)
print('%s: %d values (torch %s)' % (OUT, f32.numel(), torch.__version__))
