// vkconvgpt-server through the official openai npm client (node --test). Env: VKC_PORT, VKC_MODEL_NAME,
// VKC_API_KEY (the server's). Greedy requests with ignore_eos (a vLLM extension the client passes
// through) so token counts are exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `http://127.0.0.1:${process.env.VKC_PORT}/v1`;
const model = process.env.VKC_MODEL_NAME;
const client = new OpenAI({ baseURL, apiKey: process.env.VKC_API_KEY, maxRetries: 0 });
const greedy = { temperature: 0, ignore_eos: true };

test('models list', async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [model]);
});

test('completions, non-streaming and streaming agree', async () => {
  const r = await client.completions.create({ model, prompt: 'In the beginning', max_tokens: 8, ...greedy });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 8);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 8);
  const stream = await client.completions.create({
    model, prompt: 'In the beginning', max_tokens: 8, stream: true, stream_options: { include_usage: true }, ...greedy,
  });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, r.choices[0].text);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 8);
});

test('chat completions, non-streaming and streaming agree', async () => {
  const messages = [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Who made the heaven?' }];
  const r = await client.chat.completions.create({ model, messages, max_tokens: 6, seed: 7, ...greedy });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.usage.completion_tokens, 6);
  const stream = await client.chat.completions.create({ model, messages, max_tokens: 6, stream: true, ...greedy });
  let text = '';
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    const d = chunk.choices[0]?.delta ?? {};
    if (d.role) role = d.role;
    text += d.content ?? '';
  }
  assert.equal(role, 'assistant');
  assert.equal(text, r.choices[0].message.content);
});

test('stop strings and sampling parameters', async () => {
  const base = await client.completions.create({ model, prompt: 'And God said', max_tokens: 10, ...greedy });
  const t = base.choices[0].text;
  const stop = t.slice(Math.floor(t.length / 2), Math.floor(t.length / 2) + 3);
  const r = await client.completions.create({ model, prompt: 'And God said', max_tokens: 10, stop: [stop], ...greedy });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].text, t.slice(0, t.indexOf(stop)));
  const a = await client.completions.create({
    model, prompt: 'And God said', max_tokens: 6, temperature: 0.9, top_p: 0.9, top_k: 20, min_p: 0.05, seed: 123,
    presence_penalty: 0.5, frequency_penalty: 0.5, ignore_eos: true,
  });
  const b = await client.completions.create({
    model, prompt: 'And God said', max_tokens: 6, temperature: 0.9, top_p: 0.9, top_k: 20, min_p: 0.05, seed: 123,
    presence_penalty: 0.5, frequency_penalty: 0.5, ignore_eos: true,
  });
  assert.equal(a.choices[0].text, b.choices[0].text, 'same seed, same text');
});

test('errors surface as the client\'s typed errors', async () => {
  await assert.rejects(client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 2 }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(client.completions.create({ model, prompt: 'x', max_tokens: 100000 }),
    (e) => e instanceof OpenAI.BadRequestError && /context/.test(e.message));
  const wrong = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});
