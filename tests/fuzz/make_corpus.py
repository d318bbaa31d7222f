#!/usr/bin/env python3
"""Writes the seed corpus tests/fuzz/corpus/<target>/ (small handcrafted files plus excerpts of the
fixtures and models/). Re-run after changing it: python3 tests/fuzz/make_corpus.py [FIXTURES_DIR].
Crash inputs found later are added by hand as corpus/<target>/crash-*; this script leaves them alone."""
import json, os, re, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '..', 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def safetensors(tensors, metadata=None, pad=b' ', raw_header=None):
    """tensors: [(name, dtype, shape, bytes)] -> file image."""
    h, off, body = {}, 0, b''
    if metadata is not None:
        h['__metadata__'] = metadata
    for name, dt, shape, data in tensors:
        h[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(data)]}
        off += len(data)
        body += data
    text = raw_header if raw_header is not None else json.dumps(h).encode()
    text += pad * ((8 - len(text) % 8) % 8)
    return struct.pack('<Q', len(text)) + text + body


# ---- safetensors ----
f32 = struct.pack('<6f', 1, -2, 0.5, 3e38, -0.0, 1e-40)
put('safetensors', 'f32', safetensors([('w', 'F32', [2, 3], f32)], {'format': 'pt'}))
put('safetensors', 'mixed', safetensors([('a', 'BF16', [2], b'\x80\x3f\x00\xc0'), ('b', 'F16', [1, 2], b'\x00\x3c\xff\x7c'),
                                         ('c', 'F64', [1], struct.pack('<d', 2.5)), ('d', 'I64', [1], b'\1' * 8),
                                         ('e', 'BOOL', [3], b'\0\1\0'), ('f', 'F32', [0, 4], b''), ('s', 'F32', [], b'\0' * 4)]))
put('safetensors', 'nul-padded', safetensors([('x', 'I8', [3], b'abc')], pad=b'\0'))
put('safetensors', 'overlap', safetensors([], raw_header=b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
                                                         b'"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}') + b'abcd')
put('safetensors', 'huge-shape', safetensors([], raw_header=b'{"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}'))
put('safetensors', 'truncated', safetensors([('w', 'F32', [2, 3], f32)])[:-5])
put('safetensors', 'dup-key', safetensors([], raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                                         b'"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}') + b'z')

# ---- sharded index ----
put('safetensors_index', 'two-shards', json.dumps({'metadata': {'total_size': 64}, 'weight_map': {
    'model.embed_tokens.weight': 'model-00001-of-00002.safetensors', 'lm_head.weight': 'model-00002-of-00002.safetensors'}}))
put('safetensors_index', 'escape', '{"weight_map": {"a": "../x.safetensors", "b": "/etc/passwd", "c": 3}}')
put('safetensors_index', 'empty', '{"weight_map": {}}')

# ---- config.json: fixtures, models/, edge cases ----
for d in sorted(os.listdir(FIX)):
    for sub in ('', 'f32', 'bf16'):
        p = os.path.join(FIX, d, sub, 'config.json')
        if os.path.exists(p):
            put('config', d + ('-' + sub if sub else ''), open(p, 'rb').read())
            break
for d in sorted(os.listdir(os.path.join(ROOT, 'models'))):
    p = os.path.join(ROOT, 'models', d, 'config.json')
    if os.path.exists(p):
        put('config', d, open(p, 'rb').read())
put('config', 'huge-dims', '{"model_type":"convgpt","vocab_size":2147483647,"emb_dim_factor":46341,"emb_factor":1,'
    '"num_hidden_layers":2147483647,"num_attention_heads":1,"num_key_value_heads":1,"head_dim":2147483647,'
    '"intermediate_size":2147483647,"eos_token_id":[1,2]}')
put('config', 'v2-zero', '{"model_type":"convgpt_v2","vocab_size":1,"hidden_size":1,"num_hidden_layers":1,'
    '"memory_every":0,"grid_size":0,"rope_theta":1e400}')

# ---- tokenizer.json: the fixtures cut down to a few hundred tokens, plus handcrafted ----
def shrink(path, keep):
    j = json.load(open(path, encoding='utf-8'))
    m = j['model']
    vocab = {k: v for k, v in m['vocab'].items() if v < keep}
    merges = []
    for mg in m['merges']:
        a, b = mg.split(' ', 1) if isinstance(mg, str) else mg
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(mg)
    m['vocab'], m['merges'] = vocab, merges
    j['added_tokens'] = [t for t in j['added_tokens'] if t['id'] < keep]
    return json.dumps(j, ensure_ascii=False, separators=(',', ':'))

for name in ('bytelevel-bpe', 'metaspace-bpe'):
    p = os.path.join(FIX, 'tokenizers', name + '.json')
    if os.path.exists(p):
        put('tokenizer', name, shrink(p, 300))
tiny = {'added_tokens': [{'id': 0, 'content': '<s>', 'special': True}, {'id': 6, 'content': '<|x|>', 'lstrip': True,
                                                                        'rstrip': True, 'single_word': True}],
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'NFD'}, {'type': 'Lowercase'}]},
        'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [{'type': 'Digits', 'individual_digits': True},
                                                               {'type': 'Split', 'pattern': {'String': ' '}, 'behavior': 'Isolated'}]},
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '_'}, 'content': ' '},
                                                     {'type': 'ByteFallback'}, {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                                                                    {'Sequence': {'id': 'A', 'type_id': 0}}],
                           'special_tokens': {'<s>': {'id': '<s>', 'ids': [0], 'tokens': ['<s>']}}},
        'model': {'type': 'BPE', 'unk_token': '<unk>', 'byte_fallback': True, 'fuse_unk': True,
                  'vocab': {'<s>': 0, '<unk>': 1, 'a': 2, 'b': 3, 'ab': 4, '<0x41>': 5}, 'merges': [['a', 'b']]}}
put('tokenizer', 'tiny-sequence', json.dumps(tiny))

# ---- tokenizer_config.json ----
for d in sorted(os.listdir(os.path.join(ROOT, 'models'))):
    p = os.path.join(ROOT, 'models', d, 'tokenizer_config.json')
    if os.path.exists(p):
        put('tokenizer_config', d, open(p, 'rb').read())
        break
put('tokenizer_config', 'template-list', json.dumps({'bos_token': {'content': '<s>'}, 'eos_token': '</s>', 'add_bos_token': True,
    'chat_template': [{'name': 'default', 'template': '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}'},
                      {'name': 'tool_use', 'template': 3}],
    'added_tokens_decoder': {'0': {'content': '<s>', 'special': True}, 'x': {}}}))
put('tokenizer_config', 'template-string', json.dumps({'pad_token': None, 'unk_token': ['<unk>'], 'chat_template':
    "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] | trim }}{% endfor %}"}))

# ---- chat templates: those of tests/text/test_chat_template.cpp ----
src = open(os.path.join(ROOT, 'tests', 'text', 'test_chat_template.cpp'), encoding='utf-8').read()
for name, body in re.findall(r'const char\* (\w+) = R"\((.*?)\)";', src, re.S):
    put('chat_template', name, body)
put('chat_template', 'exprs', "{% set ns = namespace(n=0) %}{% for x in range(3) if x is odd %}{% set ns.n = ns.n + x ** 2 %}"
    "{{ loop.index }}{% else %}none{% endfor %}{{ ns.n | string | length }}{{ [1, 2, 3][1:] | join(',') }}"
    "{{ {'a': 1}.items() | list | tojson(indent=2) }}{{ 'x' if messages | length > 2 else 'y' }}"
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | first }}"
    "{%- generation %}{{ 7 // 2 }}{{ -3 % 2 }}{{ '%s' ~ 1.5 }}{% endgeneration %}{# c #}")
put('chat_template', 'raise', "{{ raise_exception('no ' ~ messages[0].role) }}")

# ---- GGUF (v3): a ConvGPT-style file with F32 and Q8_0 tensors ----
def gguf_str(s):
    b = s.encode()
    return struct.pack('<Q', len(b)) + b

def gguf(kv, tensors, align=32):
    out = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv))
    for k, (t, v) in kv.items():
        out += gguf_str(k) + struct.pack('<I', t) + v
    off, data = 0, b''
    for name, ty, ne, blob in tensors:
        out += gguf_str(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne) + struct.pack('<IQ', ty, off)
        data += blob + b'\0' * ((align - len(blob) % align) % align)
        off = len(data)
    out += b'\0' * ((align - len(out) % align) % align)
    return out + data

q8 = struct.pack('<e', 0.5) + bytes(range(32))  # one Q8_0 block: f16 scale + 32 int8
put('gguf', 'convgpt', gguf({'general.architecture': (8, gguf_str('convgpt')), 'convgpt.cols.m': (4, struct.pack('<I', 30)),
                             'general.alignment': (4, struct.pack('<I', 32))},
                            [('v', 0, [4], struct.pack('<4f', 1, 2, 3, 4)), ('m', 8, [32, 2], q8 + q8)]))
put('gguf', 'arrays', gguf({'a': (9, struct.pack('<IQ', 5, 3) + struct.pack('<3i', 1, -2, 3)),
                            's': (9, struct.pack('<IQ', 8, 2) + gguf_str('x') + gguf_str('yz')),
                            'f': (6, struct.pack('<f', 1.5)), 'b': (7, b'\1')}, []))

# ---- server request bodies: first byte = endpoint (bit 0: chat) and options ----
put('server_request', 'completion', b'\x06' + json.dumps({'model': 'convgpt', 'prompt': 'Hello', 'max_tokens': 16,
    'temperature': 0.7, 'top_p': 0.9, 'top_k': 40, 'stop': ['\n', 'END'], 'seed': 42, 'stream': True,
    'stream_options': {'include_usage': True}, 'logprobs': 2}).encode())
put('server_request', 'completion-ids', b'\x00' + json.dumps({'prompt': [1, 2, 3], 'max_tokens': 1e9, 'ignore_eos': True}).encode())
put('server_request', 'chat', b'\x07' + json.dumps({'model': 'convgpt', 'messages': [{'role': 'system', 'content': 'Be brief.'},
    {'role': 'user', 'content': [{'type': 'text', 'text': 'hi'}]}], 'presence_penalty': 0.5, 'frequency_penalty': -0.5,
    'repetition_penalty': 1.1, 'min_p': 0.05, 'max_completion_tokens': 8, 'logprobs': True, 'top_logprobs': 3}).encode())
put('server_request', 'bad', b'\x01{"messages": [{"role": "tool"}], "n": 2, "stop": [1]}')

# ---- text for the fixture tokenizers ----
cases = os.path.join(FIX, 'tokenizers', 'cases.json')
if os.path.exists(cases):
    seen = set()
    for lst in json.load(open(cases, encoding='utf-8')).values():
        for i, c in enumerate(lst):
            if c['text'] not in seen and len(seen) < 12:
                seen.add(c['text'])
                put('tokenize_text', 'case%02d' % len(seen), c['text'])
put('tokenize_text', 'invalid-utf8', b'ok \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xff')
put('tokenize_text', 'specials', '<|im_start|>user\n<|endoftext|><unk><s></s>\u2581\u2581 \t\r\n \u00a0\ufb01\u0301e\u0301')
