#!/usr/bin/python3
"""PyTorch ConvGPT v1 and v2, written from ../../../shared/spec/convgpt-v1.md and convgpt-v2.md.

Used by train_demo.py to train the demo checkpoints in models/. The forward functions follow the specs
literally (v1: per-token 1 x k causal conv over the e x e embedding grid, f x f average pool, ScaleNorm,
GQA decoder with q/k RMSNorm + RoPE, tied scale_up head or untied head; v2: 1D causal depthwise conv and
2D Hilbert "active causal gather" conv branches with gated fusion, and sparse chunk memory with top-K
routing). The chunk memory is computed for every query over all positions with a mask that keeps
exactly the tokens the spec attends to (the selected chunks plus the open chunk up to t), i.e. the
spec's function; routing is a hard top-K (no gradient through the selection itself).

Checkpoint I/O is plain safetensors (written/read with struct + json; no extra packages needed), with
the Hugging Face tensor names the runtime loads.

Check against the reference fixtures (float64 compute):
    /usr/bin/python3 tools/train/convgpt.py --check /work/shared/fixtures
prints max |logit error| / max |logit| for v1-tiny-tied (f32 weights) and v2-tiny (and the other
fixtures found there) and exits non-zero if any exceeds 1e-4.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------- safetensors

_ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}


def load_safetensors(path):
    """-> (dict name -> tensor (CPU, a copy), metadata dict or None)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, info in header.items():
        dt = _ST_DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        if b > a:
            t = torch.frombuffer(bytearray(data[base + a:base + b]), dtype=dt)
        else:
            t = torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out, meta


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> tensor (written in its own dtype, names sorted)."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype in (torch.float16, torch.bfloat16):
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------- configs


def _rope_theta(cfg):
    if "rope_theta" in cfg:
        return float(cfg["rope_theta"])
    rp = cfg.get("rope_parameters") or {}
    return float(rp.get("rope_theta", 10000.0))


class V1Config:
    def __init__(self, cfg):
        self.raw = cfg
        self.vocab_size = int(cfg["vocab_size"])
        self.hidden_size = H = int(cfg["hidden_size"])
        self.e = int(cfg.get("emb_dim_factor", math.isqrt(H)))
        assert self.e * self.e == H, "hidden_size must be a perfect square"
        self.f = int(cfg.get("emb_factor", math.isqrt(self.e) // 2))
        self.td = int(cfg.get("transformer_dim", H // (self.f * self.f)))
        assert self.td * self.f * self.f == H
        self.conv_k = int(cfg.get("conv_kernel_h_w", 3))
        self.n_layers = int(cfg["num_hidden_layers"])
        self.n_heads = int(cfg["num_attention_heads"])
        self.n_kv_heads = int(cfg.get("num_key_value_heads", self.n_heads))
        self.head_dim = int(cfg.get("head_dim", self.td // self.n_heads))
        self.intermediate_size = int(cfg["intermediate_size"])
        self.rms_norm_eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.rope_theta = _rope_theta(cfg)
        self.sliding_window = int(cfg.get("sliding_window") or 0)
        if "layer_types" in cfg:
            self.sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
        else:
            mwl = int(cfg.get("max_window_layers", 0))
            self.sliding = [self.sliding_window > 0 and i >= mwl for i in range(self.n_layers)]
        self.tie = bool(cfg.get("tie_word_embeddings", True))


class V2Config:
    def __init__(self, cfg):
        self.raw = cfg
        self.vocab_size = int(cfg["vocab_size"])
        self.d = int(cfg["hidden_size"])
        self.n_layers = int(cfg["num_hidden_layers"])
        self.intermediate_size = int(cfg["intermediate_size"])
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.k1 = int(cfg["conv1d_kernel"])
        self.k2 = int(cfg["conv2d_kernel"])
        self.G = int(cfg["grid_size"])
        self.m = int(cfg["memory_every"])
        self.C = int(cfg["memory_chunk_size"])
        self.K = int(cfg["memory_top_k"])
        self.Hm = int(cfg["memory_heads"])
        self.Dm = int(cfg["memory_head_dim"])
        self.rope_theta = _rope_theta(cfg)
        n_mem = self.n_layers // self.m
        modes = cfg.get("memory_position_modes")
        if modes is None:
            modes = ["rope" if i % 2 == 0 else "none" for i in range(n_mem)]
        self.mem_rope = [x == "rope" for x in modes]
        self.tie = bool(cfg.get("tie_word_embeddings", True))

    def has_memory(self, i):
        return (i + 1) % self.m == 0


# ----------------------------------------------------------------------------------------- common ops


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_cos_sin(T, hd, theta, dtype, device=None, pos0=0):
    """cos, sin [T, hd/2] for positions pos0..pos0+T-1; computed in float64 (as the reference)."""
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(pos0, pos0 + T, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().to(dtype=dtype, device=device), ang.sin().to(dtype=dtype, device=device)


def apply_rope(x, cos, sin):
    """x [..., T, heads, hd] rotate-half (NeoX); cos/sin [T, hd/2]."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([a * c - b * s, b * c + a * s], dim=-1)


def swiglu_mlp(x, gate, up, down):
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


def _param(shape, std):
    return nn.Parameter(torch.randn(*shape) * std)


# ----------------------------------------------------------------------------------------- ConvGPT v1


class ConvGPTv1(nn.Module):
    def __init__(self, cfg_dict, init_std=0.02):
        super().__init__()
        c = self.c = V1Config(cfg_dict)
        H, td, hd = c.hidden_size, c.td, c.head_dim
        p = {}
        p["model.embed_tokens.weight"] = _param((c.vocab_size, H), init_std)
        p["model.conv.weight"] = _param((c.e, c.e, 1, c.conv_k), 1.0 / math.sqrt(c.e * c.conv_k))
        p["model.norm_emb.g"] = nn.Parameter(torch.ones(1))
        out_std = init_std / math.sqrt(2 * c.n_layers)
        for i in range(c.n_layers):
            q = f"model.layers.{i}."
            p[q + "self_attn.q_proj.weight"] = _param((c.n_heads * hd, td), init_std)
            p[q + "self_attn.k_proj.weight"] = _param((c.n_kv_heads * hd, td), init_std)
            p[q + "self_attn.v_proj.weight"] = _param((c.n_kv_heads * hd, td), init_std)
            p[q + "self_attn.o_proj.weight"] = _param((td, c.n_heads * hd), out_std)
            p[q + "self_attn.q_norm.weight"] = nn.Parameter(torch.ones(hd))
            p[q + "self_attn.k_norm.weight"] = nn.Parameter(torch.ones(hd))
            p[q + "mlp.gate_proj.weight"] = _param((c.intermediate_size, td), init_std)
            p[q + "mlp.up_proj.weight"] = _param((c.intermediate_size, td), init_std)
            p[q + "mlp.down_proj.weight"] = _param((td, c.intermediate_size), out_std)
            p[q + "norm1.weight"] = nn.Parameter(torch.ones(td))
            p[q + "norm2.weight"] = nn.Parameter(torch.ones(td))
        if c.tie:
            p["model.scale_up.gate_proj.weight"] = _param((4 * H, td), init_std)
            p["model.scale_up.up_proj.weight"] = _param((4 * H, td), init_std)
            p["model.scale_up.down_proj.weight"] = _param((H, 4 * H), init_std)
            p["model.norm.weight"] = nn.Parameter(torch.ones(H))
        else:
            p["model.norm.weight"] = nn.Parameter(torch.ones(td))
            p["lm_head.weight"] = _param((c.vocab_size, td), init_std)
        self.names = list(p)
        self.params = nn.ParameterDict({k.replace(".", "__"): v for k, v in p.items()})

    def w(self, name):
        return self.params[name.replace(".", "__")]

    def state(self):
        return {n: self.w(n) for n in self.names}

    def embed(self, ids):
        """ids [B, T] -> [B, T, td] (spec steps 1-4, per token)."""
        c = self.c
        B, T = ids.shape
        x = F.embedding(ids, self.w("model.embed_tokens.weight"))          # [B, T, H]
        x = x.reshape(B * T, c.e, 1, c.e)                                   # channels = grid rows, width = w
        x = F.pad(x, (c.conv_k - 1, 0))                                     # causal: k-1 zeros on the left
        y = F.conv2d(x, self.w("model.conv.weight"))                        # [N, e, 1, e]
        y = y.reshape(B * T, 1, c.e, c.e)                                   # Y[o][w]
        pooled = F.avg_pool2d(y, c.f).reshape(B, T, c.td)                   # row-major flatten
        n = pooled.norm(dim=-1, keepdim=True) * (c.td ** -0.5)
        return pooled / n.clamp(min=1e-5) * self.w("model.norm_emb.g")

    def forward(self, ids, return_hidden=False):
        c = self.c
        B, T = ids.shape
        h = self.embed(ids)
        hd, nh, nkv = c.head_dim, c.n_heads, c.n_kv_heads
        cos, sin = rope_cos_sin(T, hd, c.rope_theta, h.dtype, h.device)
        i = torch.arange(T, device=h.device)
        causal = i[None, :] <= i[:, None]                                   # [T(query), T(key)]
        for l in range(c.n_layers):
            p = f"model.layers.{l}."
            a = rmsnorm(h, self.w(p + "norm1.weight"), 1e-6)
            q = F.linear(a, self.w(p + "self_attn.q_proj.weight")).view(B, T, nh, hd)
            k = F.linear(a, self.w(p + "self_attn.k_proj.weight")).view(B, T, nkv, hd)
            v = F.linear(a, self.w(p + "self_attn.v_proj.weight")).view(B, T, nkv, hd)
            q = apply_rope(rmsnorm(q, self.w(p + "self_attn.q_norm.weight"), c.rms_norm_eps), cos, sin)
            k = apply_rope(rmsnorm(k, self.w(p + "self_attn.k_norm.weight"), c.rms_norm_eps), cos, sin)
            rep = nh // nkv
            q = q.transpose(1, 2)                                           # [B, nh, T, hd]
            k = k.transpose(1, 2).repeat_interleave(rep, dim=1)
            v = v.transpose(1, 2).repeat_interleave(rep, dim=1)
            mask = causal
            if c.sliding[l] and c.sliding_window > 0:
                mask = mask & ((i[:, None] - i[None, :]) < c.sliding_window)
            s = (q @ k.transpose(-1, -2)) * (hd ** -0.5)
            s = s.masked_fill(~mask, float("-inf"))
            att = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
            h = h + F.linear(att, self.w(p + "self_attn.o_proj.weight"))
            m = rmsnorm(h, self.w(p + "norm2.weight"), 1e-6)
            h = h + swiglu_mlp(m, self.w(p + "mlp.gate_proj.weight"), self.w(p + "mlp.up_proj.weight"),
                               self.w(p + "mlp.down_proj.weight"))
        if c.tie:
            z = swiglu_mlp(h, self.w("model.scale_up.gate_proj.weight"), self.w("model.scale_up.up_proj.weight"),
                           self.w("model.scale_up.down_proj.weight"))
            z = rmsnorm(z, self.w("model.norm.weight"), 1e-6)
            logits = F.linear(z, self.w("model.embed_tokens.weight"))
        else:
            z = rmsnorm(h, self.w("model.norm.weight"), 1e-6)
            logits = F.linear(z, self.w("lm_head.weight"))
        return (logits, z) if return_hidden else logits


# ----------------------------------------------------------------------------------------- ConvGPT v2


def hilbert_d2xy(G, t):
    x = y = 0
    s, rest = 1, t
    while s < G:
        rx = 1 & (rest // 2)
        ry = 1 & (rest ^ rx)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        x += s * rx
        y += s * ry
        rest //= 4
        s *= 2
    return x, y


def hilbert_xy2d(G, x, y):
    d = 0
    s = G // 2
    while s > 0:
        rx = 1 if (x & s) > 0 else 0
        ry = 1 if (y & s) > 0 else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = G - 1 - x, G - 1 - y
            x, y = y, x
        s //= 2
    return d


_gather_cache = {}


def hilbert_gather_table(G, k2, T):
    """-> (idx [T, k2*k2] long, valid [T, k2*k2] bool): tap n = (dy+r)*k2 + (dx+r) of position t reads
    a[idx[t, n]] when valid (cell inside the grid and its position p <= t)."""
    key = (G, k2, T)
    if key not in _gather_cache:
        r = k2 // 2
        idx = np.zeros((T, k2 * k2), dtype=np.int64)
        valid = np.zeros((T, k2 * k2), dtype=bool)
        for t in range(T):
            x, y = hilbert_d2xy(G, t)
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    nx, ny = x + dx, y + dy
                    if nx < 0 or ny < 0 or nx >= G or ny >= G:
                        continue
                    p = hilbert_xy2d(G, nx, ny)
                    if p > t:
                        continue
                    n = (dy + r) * k2 + (dx + r)
                    idx[t, n] = p
                    valid[t, n] = True
        _gather_cache[key] = (torch.from_numpy(idx), torch.from_numpy(valid))
    return _gather_cache[key]


class ConvGPTv2(nn.Module):
    def __init__(self, cfg_dict, init_std=0.02):
        super().__init__()
        c = self.c = V2Config(cfg_dict)
        d, I = c.d, c.intermediate_size
        p = {}
        p["model.embed_tokens.weight"] = _param((c.vocab_size, d), init_std)
        out_std = init_std / math.sqrt(2 * c.n_layers)
        for i in range(c.n_layers):
            q = f"model.layers.{i}."
            p[q + "mixer_norm.weight"] = nn.Parameter(torch.ones(d))
            p[q + "mixer.in_proj.weight"] = _param((2 * d, d), init_std)
            p[q + "mixer.conv1d.weight"] = _param((d, 1, c.k1), 1.0 / math.sqrt(c.k1))
            p[q + "mixer.conv1d.bias"] = nn.Parameter(torch.zeros(d))
            p[q + "mixer.conv2d.weight"] = _param((d, 1, c.k2, c.k2), 1.0 / c.k2)
            p[q + "mixer.conv2d.bias"] = nn.Parameter(torch.zeros(d))
            p[q + "mixer.conv2d_norm.weight"] = nn.Parameter(torch.ones(d))
            p[q + "mixer.gate_proj.weight"] = _param((d, d), init_std)
            p[q + "mixer.out_proj.weight"] = _param((d, d), out_std)
            if c.has_memory(i):
                hm = c.Hm * c.Dm
                p[q + "memory_norm.weight"] = nn.Parameter(torch.ones(d))
                p[q + "memory.q_proj.weight"] = _param((hm, d), init_std)
                p[q + "memory.k_proj.weight"] = _param((hm, d), init_std)
                p[q + "memory.v_proj.weight"] = _param((hm, d), init_std)
                p[q + "memory.o_proj.weight"] = _param((d, hm), out_std)
            p[q + "mlp_norm.weight"] = nn.Parameter(torch.ones(d))
            p[q + "mlp.gate_proj.weight"] = _param((I, d), init_std)
            p[q + "mlp.up_proj.weight"] = _param((I, d), init_std)
            p[q + "mlp.down_proj.weight"] = _param((d, I), out_std)
        p["model.norm.weight"] = nn.Parameter(torch.ones(d))
        if not c.tie:
            p["lm_head.weight"] = _param((c.vocab_size, d), init_std)
        self.names = list(p)
        self.params = nn.ParameterDict({k.replace(".", "__"): v for k, v in p.items()})

    def w(self, name):
        return self.params[name.replace(".", "__")]

    def state(self):
        return {n: self.w(n) for n in self.names}

    def memory(self, h, l, mem_index):
        """h [B, T, d] (memory_norm applied) -> o [B, T, Hm*Dm] (spec step 5, before o_proj)."""
        c = self.c
        B, T, _ = h.shape
        Hm, Dm, C, K = c.Hm, c.Dm, c.C, c.K
        p = f"model.layers.{l}."
        q = F.linear(h, self.w(p + "memory.q_proj.weight")).view(B, T, Hm, Dm)
        k = F.linear(h, self.w(p + "memory.k_proj.weight")).view(B, T, Hm, Dm)
        v = F.linear(h, self.w(p + "memory.v_proj.weight")).view(B, T, Hm, Dm)
        if c.mem_rope[mem_index]:
            cos, sin = rope_cos_sin(T, Dm, c.rope_theta, h.dtype, h.device)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B, Hm, T, Dm]
        pos = torch.arange(T, device=h.device)
        chunk = pos // C                                                     # chunk of each position
        n_full = T // C                                                      # closed chunks (summaries)
        allowed = (chunk[None, :] == chunk[:, None]) & (pos[None, :] <= pos[:, None])  # open chunk, <= t
        allowed = allowed[None, None].expand(B, Hm, T, T)
        if n_full > 0:
            kbar = k[:, :, :n_full * C].reshape(B, Hm, n_full, C, Dm).mean(3)            # [B, Hm, n, Dm]
            route = q @ kbar.transpose(-1, -2)                                            # [B, Hm, T, n]
            past = torch.arange(n_full, device=h.device)[None, :] < chunk[:, None]      # j < c  [T, n]
            route = route.detach().masked_fill(~past, float("-inf"))
            kk = min(K, n_full)
            # top-K by score; ties (measure zero) would go to torch.topk's order instead of lower j
            top = route.topk(kk, dim=-1).indices
            sel = torch.zeros_like(route, dtype=torch.bool).scatter_(-1, top, True) & past  # [B, Hm, T, n]
            # token s is visible through chunk selection iff its chunk is a selected closed chunk
            key_chunk = chunk.clamp(max=n_full - 1)
            via = sel.gather(-1, key_chunk[None, None, None, :].expand(B, Hm, T, T))
            via = via & (chunk[None, :] < n_full)[None, None]
            allowed = allowed | via
        s = (q @ k.transpose(-1, -2)) * (Dm ** -0.5)
        s = s.masked_fill(~allowed, float("-inf"))
        o = s.softmax(-1) @ v                                                # [B, Hm, T, Dm]
        return o.transpose(1, 2).reshape(B, T, Hm * Dm)

    def forward(self, ids, return_hidden=False):
        c = self.c
        B, T = ids.shape
        assert T <= c.G * c.G
        d = c.d
        x = F.embedding(ids, self.w("model.embed_tokens.weight"))
        idx, valid = hilbert_gather_table(c.G, c.k2, T)
        idx, valid = idx.to(x.device), valid.to(x.device)
        mem_index = 0
        for l in range(c.n_layers):
            p = f"model.layers.{l}."
            h = rmsnorm(x, self.w(p + "mixer_norm.weight"), c.eps)
            u = F.linear(h, self.w(p + "mixer.in_proj.weight"))
            a, z = u[..., :d], u[..., d:]
            # 1D branch: depthwise causal conv
            c1 = F.conv1d(F.pad(a.transpose(1, 2), (c.k1 - 1, 0)), self.w(p + "mixer.conv1d.weight"),
                          self.w(p + "mixer.conv1d.bias"), groups=d).transpose(1, 2)
            # 2D branch: Hilbert active causal gather
            g = a[:, idx.reshape(-1)].reshape(B, T, c.k2 * c.k2, d)                # taps of every t
            w2 = self.w(p + "mixer.conv2d.weight").reshape(d, c.k2 * c.k2).t()    # [taps, d]
            wt = w2[None] * valid[:, :, None].to(a.dtype)                           # [T, taps, d], 0 if masked
            c2 = (g * wt[None]).sum(2) + self.w(p + "mixer.conv2d.bias")
            c2 = rmsnorm(c2, self.w(p + "mixer.conv2d_norm.weight"), c.eps)
            gate = torch.sigmoid(F.linear(h, self.w(p + "mixer.gate_proj.weight")))
            mix = gate * F.silu(c1) + (1 - gate) * F.silu(c2)
            x = x + F.linear(mix * F.silu(z), self.w(p + "mixer.out_proj.weight"))
            if c.has_memory(l):
                hm = rmsnorm(x, self.w(p + "memory_norm.weight"), c.eps)
                o = self.memory(hm, l, mem_index)
                mem_index += 1
                x = x + F.linear(o, self.w(p + "memory.o_proj.weight"))
            m = rmsnorm(x, self.w(p + "mlp_norm.weight"), c.eps)
            x = x + swiglu_mlp(m, self.w(p + "mlp.gate_proj.weight"), self.w(p + "mlp.up_proj.weight"),
                               self.w(p + "mlp.down_proj.weight"))
        z = rmsnorm(x, self.w("model.norm.weight"), c.eps)
        head = self.w("model.embed_tokens.weight") if c.tie else self.w("lm_head.weight")
        logits = F.linear(z, head)
        return (logits, z) if return_hidden else logits


# ----------------------------------------------------------------------------------------- loading


def build_model(cfg):
    mt = cfg.get("model_type")
    if mt == "convgpt":
        return ConvGPTv1(cfg)
    if mt == "convgpt_v2":
        return ConvGPTv2(cfg)
    raise ValueError(f"unknown model_type {mt!r}")


def load_model(model_dir, dtype=torch.float32):
    """Loads config.json + model.safetensors (single file) into a model with parameters in dtype."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = build_model(cfg)
    tensors, _ = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    with torch.no_grad():
        for n in model.names:
            if n not in tensors:
                raise KeyError(f"{model_dir}: tensor {n} missing")
            t = tensors[n]
            w = model.w(n)
            if tuple(t.shape) != tuple(w.shape):
                raise ValueError(f"{n}: shape {tuple(t.shape)}, expected {tuple(w.shape)}")
            w.data = t.to(dtype).clone()
        extra = set(tensors) - set(model.names) - {"lm_head.weight"}
        if extra:
            raise KeyError(f"{model_dir}: unexpected tensors {sorted(extra)}")
    return model, cfg


def save_model(model, cfg, out_dir, dtype=torch.bfloat16):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    save_safetensors(os.path.join(out_dir, "model.safetensors"),
                     {n: model.w(n).detach().to(dtype) for n in model.names}, {"format": "pt"})


# ----------------------------------------------------------------------------------------- check


def check(fixtures_dir):
    torch.set_num_threads(min(2, torch.get_num_threads()))
    cases = [("v1-tiny-tied", "v1-tiny-tied/f32"), ("v2-tiny", "v2-tiny"),
             ("v1-tiny-untied", "v1-tiny-untied/f32"), ("v1-tiny-swa", "v1-tiny-swa/f32"),
             ("v1-tiny-tied/bf16", "v1-tiny-tied/bf16"), ("v2-tiny-g256", "v2-tiny-g256")]
    worst = 0.0
    ok = True
    for name, sub in cases:
        mdir = os.path.join(fixtures_dir, sub)
        exp_path = os.path.join(fixtures_dir, name.split("/")[0], "expected.safetensors")
        if not os.path.isdir(mdir) or not os.path.exists(exp_path):
            if name in ("v1-tiny-tied", "v2-tiny"):
                print(f"{name}: MISSING ({mdir})")
                ok = False
            continue
        exp, _ = load_safetensors(exp_path)
        for dtype, tol in ((torch.float64, 1e-4), (torch.float32, 1e-4)):
            model, _ = load_model(mdir, dtype)
            ids = exp["input_ids"].long()[None]
            with torch.no_grad():
                logits = model(ids)[0].double()
            ref = exp["logits"].double()
            err = ((logits - ref).abs().max() / ref.abs().max()).item()
            passed = err < tol
            ok &= passed
            worst = max(worst, err)
            print(f"{name:20s} compute {str(dtype).replace('torch.', ''):8s} T={ids.shape[1]:4d} "
                  f"max|logit err|/max|logit| = {err:.3e}  {'ok' if passed else 'FAIL'}")
    print("all fixtures within 1e-4" if ok else "FAILED")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", metavar="FIXTURES_DIR", help="compare against the reference fixtures")
    args = ap.parse_args()
    if args.check:
        sys.exit(check(args.check))
    ap.print_help()


if __name__ == "__main__":
    main()
