#!/usr/bin/python3
"""Trains the two demo checkpoints shipped in models/ from scratch, on 2 CPU cores.

Run (Debian 12, as root, from the repository root; ~25 minutes on 2 cores):

    apt-get install -y python3-torch python3-numpy python3-sentencepiece sentencepiece \
        libopenblas0-openmp bible-kjv bible-kjv-text
    /usr/bin/python3 tools/train/train_demo.py            # both models (--only v1 | v2 for one)

Repeat the shipped runs: add --steps-v1 N --steps-v2 M with train_steps from
models/convgpt-v{1,2}-demo/eval.json (533 and 600): same data order and schedule (seeded); identical
weights are expected with the same torch build and 2 threads (float summation order matters).
/usr/bin/python3 is Debian's interpreter (it sees the python3-* packages). libopenblas0-openmp: Debian's
torch calls the system BLAS, and the reference BLAS it pulls in otherwise makes training ~3x slower.

Corpus: the King James Version of the Bible (public domain; Debian packages bible-kjv-text, whose
/usr/lib/bible.data holds the compressed text, and bible-kjv, whose `bible` program decodes it:
`bible -f Gen1:1-Rev22:21` prints every verse as "Ref text"). The script installs both with apt-get
when /usr/lib/bible.data or /usr/bin/bible is missing. One verse per line, references stripped
(4.3 MB). The first 95% (by bytes, at a verse boundary: Genesis 1:1 .. Colossians 1:11) is the training
text; the last 5% is held out, and its final < 100 KB (1 Peter 3:11 .. Revelation 22:21, whole verses) is
models/<name>/heldout.txt.

Tokenizer: SentencePiece BPE, vocab 2048, byte_fallback (any UTF-8 text encodes), identity
normalization, no dummy prefix, whitespace kept as is and "\\n" a user-defined piece, so
decode(encode(text)) == text. Trained on the training text only; ids 0 <unk>, 1 <s> (bos), 2 </s> (eos), 3 "\\n".

Models (F16 safetensors, Hugging Face layout, see ../../../shared/spec/convgpt-v{1,2}.md):
  convgpt-v1-demo: hidden 256 (e 16, f 2, transformer_dim 64), 4 layers, 4/2 heads of 32, MLP 256, tied head.
  convgpt-v2-demo: d 128, 4 layers, MLP 384, conv1d 4, conv2d 3x3 on a 32x32 Hilbert grid (1024 tokens),
                   chunk memory every 2 layers (chunk 16, top-2, 4 heads of 32; modes rope, none).
Training: samples are 256 consecutive ids of the training stream at random offsets, run as [bos] +
the first 255 and predicting all 256 (as the evaluation windows), batch 16,
AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), linear warm-up then cosine to 10%, gradient
clipping 1.0, float32, torch.set_num_threads(2), seed 1234. Time-bounded: the step count is fitted to
--budget-minutes (default 11) per model from the time of steps 10..30, i.e. before warm-up ends, so
the run is the same as one given that count with --steps-v1/--steps-v2 (fixed data order and schedule);
--max-minutes (default 14) stops early as a hard limit. eval.json records the steps run.

Evaluation (eval.json), with the SAVED (F16-rounded) weights, compute in float64:
  ids = encode(heldout.txt) (no special tokens); windows of ctx = 256 consecutive ids (the last one
  shorter), each run as [bos] + window[:-1], predicting every id of the window: each id once. NLL summed over all ids:
  ppl = exp(NLL / n_ids), bits_per_byte = NLL / ln 2 / len(heldout.txt in UTF-8 bytes).
  ppl_prefix: the same over the first prefix_tokens ids only (what tests/e2e/test_demo_models.cpp runs).
vkconvgpt-run perplexity (tools/run/cmd_perplexity.cpp) computes exactly the same numbers.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

# Threads sleep instead of spinning at OpenMP barriers: on 2 cores shared with other work, spinning
# threads made each step ~4x more expensive in CPU time.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convgpt  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEED = 1234
CTX = 256            # eval window (bos + 255 ids) and training sample length
PREFIX_TOKENS = 1024  # 4 windows: the prefix the e2e test evaluates
HELDOUT_MAX = 100_000
VOCAB = 2048
BOS, EOS, UNK = 1, 2, 0

V1_CONFIG = {
    "architectures": ["ConvGPTForCausalLM"],
    "model_type": "convgpt",
    "vocab_size": VOCAB,
    "hidden_size": 256,
    "emb_dim_factor": 16,
    "emb_factor": 2,
    "transformer_dim": 64,
    "conv_kernel_h_w": 3,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "intermediate_size": 256,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "max_position_embeddings": CTX,
    "layer_types": ["full_attention"] * 4,
    "tie_word_embeddings": True,
    "bos_token_id": BOS,
    "eos_token_id": EOS,
    "torch_dtype": "float16",
}

V2_CONFIG = {
    "architectures": ["ConvGPTv2ForCausalLM"],
    "model_type": "convgpt_v2",
    "vocab_size": VOCAB,
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "intermediate_size": 384,
    "rms_norm_eps": 1e-6,
    "conv1d_kernel": 4,
    "conv2d_kernel": 3,
    "grid_size": 32,
    "memory_every": 2,
    "memory_chunk_size": 16,
    "memory_top_k": 2,
    "memory_heads": 4,
    "memory_head_dim": 32,
    "rope_theta": 10000.0,
    "memory_position_modes": ["rope", "none"],
    "tie_word_embeddings": True,
    "bos_token_id": BOS,
    "eos_token_id": EOS,
    "torch_dtype": "float16",
}

# key -> (folder, config, peak lr); warm-up WARMUP steps, then cosine to 10% at the last step
MODELS = {
    "v1": ("convgpt-v1-demo", V1_CONFIG, 4e-3),
    "v2": ("convgpt-v2-demo", V2_CONFIG, 3e-3),
}
BATCH = 16
WARMUP = 40
CALIBRATE = 30  # steps timed (10..CALIBRATE) to fit the step count into the time budget (< WARMUP)

PROMPTS = ["In the beginning", "And Jesus answered and said unto them,", "The LORD is my shepherd;"]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------------------------------- corpus


def kjv_lines():
    if not (os.path.exists("/usr/lib/bible.data") and os.path.exists("/usr/bin/bible")):
        log("installing bible-kjv-text and bible-kjv with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", "bible-kjv-text", "bible-kjv"], check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as d:  # bible looks for bible.data in . first: run it elsewhere
        out = subprocess.run(["/usr/bin/bible", "-f", "-p", "/usr/lib", "Gen1:1-Rev22:21"], cwd=d, check=True,
                             stdout=subprocess.PIPE).stdout.decode("utf-8")
    lines = []
    for raw in out.split("\n"):
        raw = raw.strip()
        if not raw:
            continue
        ref, _, text = raw.partition(" ")  # "Ge1:1 In the beginning ..."
        assert ":" in ref and text, raw
        lines.append(" ".join(text.split()))
    assert len(lines) == 31102, len(lines)  # every verse of the KJV
    return lines


def split_corpus(lines):
    total = sum(len(l) + 1 for l in lines)
    acc, cut = 0, 0
    for i, l in enumerate(lines):
        acc += len(l) + 1
        if acc >= 0.95 * total:
            cut = i + 1
            break
    train, held = lines[:cut], lines[cut:]
    tail, size = [], 0
    for l in reversed(held):
        if size + len(l) + 1 > HELDOUT_MAX - 4096:
            break
        tail.append(l)
        size += len(l) + 1
    tail.reverse()
    return "\n".join(train) + "\n", "\n".join(tail) + "\n"


# ----------------------------------------------------------------------------------------- tokenizer


def train_tokenizer(train_text, work):
    """Trains on the lines of train_text; sentences come from an iterator and the model goes to memory,
    so no (temporary) path is recorded in the .model file: reruns give the same bytes."""
    import io
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train_text.split("\n")[:-1]), model_writer=model, vocab_size=VOCAB,
        model_type="bpe", byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=False, user_defined_symbols=["\n"], split_digits=True,
        unk_id=UNK, bos_id=BOS, eos_id=EOS, pad_id=-1, num_threads=2, minloglevel=2)
    path = os.path.join(work, "tokenizer.model")
    with open(path, "wb") as f:
        f.write(model.getvalue())
    return path


def encode_stream(sp, text):
    """ids of text, encoded line by line (fast); identical to sp.encode(text) since "\\n" is a
    user-defined piece that no other piece crosses (checked on the held-out text)."""
    nl = sp.piece_to_id("\n")
    ids = []
    for line in text.split("\n")[:-1]:
        ids.extend(sp.encode(line))
        ids.append(nl)
    return ids


def tokenizer_config():
    return {
        "tokenizer_class": "LlamaTokenizer",
        "legacy": True,
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "model_max_length": CTX,
        "clean_up_tokenization_spaces": False,
        "sp_model_kwargs": {},
    }


# ----------------------------------------------------------------------------------------- eval


def window_nll(model, ids, ctx=CTX):
    """Sum of -log p over ids, in windows of ctx ids, each run as [bos] + window[:-1] (ctx positions)
    so that every id is predicted once. float64 logits."""
    nll, n = 0.0, 0
    for s in range(0, len(ids), ctx):
        w = ids[s:s + ctx]
        x = torch.tensor([[BOS] + w[:-1]])
        y = torch.tensor(w)
        with torch.no_grad():
            logits = model(x)[0].double()
        nll += F.cross_entropy(logits, y, reduction="sum").item()
        n += len(w)
    return nll, n


def greedy(model, sp, prompt, n=60, ctx=CTX):
    ids = [BOS] + sp.encode(prompt)
    start = len(ids)
    with torch.no_grad():
        for _ in range(n):
            if len(ids) >= ctx:
                break
            nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
            ids.append(nxt)
    return prompt + sp.decode(ids[start:])


def evaluate(out_dir, sp, heldout, info):
    model, cfg = convgpt.load_model(out_dir, torch.float64)
    model.eval()
    ids = sp.encode(heldout)
    assert ids == encode_stream(sp, heldout), "line-by-line encoding differs from whole-text encoding"
    nbytes = len(heldout.encode("utf-8"))
    nll, n = window_nll(model, ids)
    pnll, pn = window_nll(model, ids[:PREFIX_TOKENS])
    m32, _ = convgpt.load_model(out_dir, torch.float32)
    m32.eval()
    samples = [greedy(m32, sp, p) for p in PROMPTS]
    ev = {
        "heldout_file": "heldout.txt",
        "heldout_bytes": nbytes,
        "heldout_tokens": n,
        "heldout_ids_head": ids[:16],
        "ctx": CTX,
        "windows": "ids of heldout.txt (no special tokens) in windows of ctx ids, each run as [bos] + window[:-1]",
        "nll_sum": nll,
        "ppl": math.exp(nll / n),
        "bits_per_token": nll / n / math.log(2),
        "bits_per_byte": nll / math.log(2) / nbytes,
        "prefix_tokens": pn,
        "ppl_prefix": math.exp(pnll / pn),
        "weights": "model.safetensors (F16) evaluated in float64 by tools/train/convgpt.py",
        "greedy_samples": samples,
    }
    ev.update(info)
    with open(os.path.join(out_dir, "eval.json"), "w") as f:
        json.dump(ev, f, indent=2)
        f.write("\n")
    log(f"{os.path.basename(out_dir)}: held-out ppl {ev['ppl']:.3f}, {ev['bits_per_byte']:.4f} bits/byte "
        f"({n} tokens, {nbytes} bytes); prefix {pn} tokens ppl {ev['ppl_prefix']:.3f}")
    for s in samples:
        log("  sample:", repr(s))
    return ev


# ----------------------------------------------------------------------------------------- training


def train(key, train_ids, heldout_ids, budget_minutes, max_minutes, steps=0):
    """steps > 0: exactly that many steps. Else the step count is fitted to budget_minutes from the
    time of steps 10..CALIBRATE (before warm-up ends, so the run equals one with --steps <that count>)."""
    name, cfg, lr_peak = MODELS[key]
    warmup = WARMUP
    torch.manual_seed(SEED)
    model = convgpt.build_model(dict(cfg))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{name}: {n_params / 1e6:.3f} M parameters, batch {BATCH} x {CTX} tokens, "
        + (f"{steps} steps" if steps else f"steps fitted to {budget_minutes} min"))
    planned = steps or 10 ** 9
    decay = [p for n, p in zip(model.names, model.params.values()) if p.dim() >= 2]
    no_decay = [p for n, p in zip(model.names, model.params.values()) if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr_peak, betas=(0.9, 0.95), eps=1e-8)
    data = torch.tensor(train_ids, dtype=torch.long)
    gen = torch.Generator().manual_seed(SEED)
    val = heldout_ids[:4 * CTX]
    t0 = time.time()
    done = 0
    t_cal = None
    step = 0
    while step < planned:
        if not steps and step == 10:
            t_cal = time.time()
        if not steps and step == CALIBRATE:
            per = (time.time() - t_cal) / (CALIBRATE - 10)
            planned = max(warmup + 10, int((budget_minutes * 60 - (time.time() - t0)) / per) + CALIBRATE)
            log(f"{name}: {per:.2f} s/step -> {planned} steps (reproduce with --steps {planned})")
        if step < warmup:
            lr = lr_peak * (step + 1) / warmup
        else:
            pr = (step - warmup) / max(1, planned - warmup)
            lr = lr_peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * pr)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - CTX, (BATCH,), generator=gen)
        y = torch.stack([data[s:s + CTX] for s in starts.tolist()])
        x = torch.cat([torch.full((BATCH, 1), BOS, dtype=torch.long), y[:, :-1]], dim=1)
        model.train()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        done = step + 1
        el = time.time() - t0
        if step % 25 == 0 or step == planned - 1:
            msg = f"{name} step {step:5d}/{planned if planned < 10 ** 9 else '?'} loss {loss.item():.4f} lr {lr:.2e} {el:6.0f}s " \
                  f"({(step + 1) * BATCH * CTX / el:.0f} tok/s)"
            if step % 100 == 0 or step == planned - 1:
                model.eval()
                nll, n = window_nll(model, val)
                msg += f" val ppl {math.exp(nll / n):.2f}"
            log(msg)
        if el > max_minutes * 60:
            log(f"{name}: time limit of {max_minutes} min reached after {done} steps")
            break
        step += 1
    train_s = time.time() - t0
    info = {"params": n_params, "train_steps": done, "train_steps_planned": planned, "batch": BATCH,
            "seq_len": CTX, "train_tokens_seen": done * BATCH * CTX, "train_seconds": round(train_s, 1),
            "final_train_loss": round(loss.item(), 4), "lr_peak": lr_peak, "warmup": warmup, "seed": SEED,
            "torch": torch.__version__, "threads": torch.get_num_threads()}
    return model, cfg, info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["v1", "v2"], help="train one model")
    ap.add_argument("--budget-minutes", type=float, default=11.0,
                    help="training time per model the step count is fitted to")
    ap.add_argument("--max-minutes", type=float, default=14.0, help="hard stop per model")
    ap.add_argument("--steps-v1", type=int, default=0,
                    help="exact step count for v1 (reproduces a run: train_steps in its eval.json)")
    ap.add_argument("--steps-v2", type=int, default=0, help="the same for v2")
    ap.add_argument("--out", default=os.path.join(REPO, "models"), help="parent of the model folders")
    ap.add_argument("--eval-only", action="store_true", help="re-evaluate the saved models")
    args = ap.parse_args()
    torch.set_num_threads(2)
    import sentencepiece as spm

    lines = kjv_lines()
    train_text, heldout = split_corpus(lines)
    log(f"corpus: {len(lines)} verses, train {len(train_text)} bytes, heldout.txt {len(heldout)} bytes")
    keys = [args.only] if args.only else ["v1", "v2"]
    work = tempfile.mkdtemp(prefix="convgpt-train-")
    try:
        if args.eval_only:
            tok = os.path.join(args.out, MODELS[keys[0]][0], "tokenizer.model")
        else:
            tok = train_tokenizer(train_text, work)
        sp = spm.SentencePieceProcessor(model_file=tok)
        assert sp.bos_id() == BOS and sp.eos_id() == EOS and sp.get_piece_size() == VOCAB
        train_ids = encode_stream(sp, train_text)
        heldout_ids = sp.encode(heldout)
        log(f"tokens: train {len(train_ids)}, heldout {len(heldout_ids)} "
            f"({len(train_text) / len(train_ids):.2f} bytes/token)")
        for key in keys:
            name = MODELS[key][0]
            out_dir = os.path.join(args.out, name)
            if args.eval_only:
                with open(os.path.join(out_dir, "eval.json")) as f:
                    old = json.load(f)
                info = {k: old[k] for k in ("params", "train_steps", "train_steps_planned", "batch", "seq_len",
                                            "train_tokens_seen", "train_seconds", "final_train_loss", "lr_peak",
                                            "warmup", "seed", "torch", "threads", "corpus", "train_corpus_tokens") if k in old}
                evaluate(out_dir, sp, heldout, info)
                continue
            model, cfg, info = train(key, train_ids, heldout_ids, args.budget_minutes, args.max_minutes,
                                     getattr(args, "steps_" + key))
            info["corpus"] = ("King James Bible (public domain), Debian bible-kjv-text via `bible -f "
                              "Gen1:1-Rev22:21`; first 95% train, heldout.txt = last lines of the other 5%")
            info["train_corpus_tokens"] = len(train_ids)
            os.makedirs(out_dir, exist_ok=True)
            convgpt.save_model(model, cfg, out_dir, torch.float16)
            shutil.copy(tok, os.path.join(out_dir, "tokenizer.model"))
            with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
                json.dump(tokenizer_config(), f, indent=2)
                f.write("\n")
            with open(os.path.join(out_dir, "heldout.txt"), "w", encoding="utf-8") as f:
                f.write(heldout)
            evaluate(out_dir, sp, heldout, info)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
