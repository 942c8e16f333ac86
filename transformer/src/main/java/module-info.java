/**
 * Transformer models (GPT-2, LLaMA), safetensors and Hugging Face model directories, BPE tokenizers,
 * generation and LoRA.
 */
module jlisa.transformer {
    requires transitive jlisa.nn;
    // Jackson is used through its tree model only (no data binding to jlisa classes), so nothing is opened to it.
    requires com.fasterxml.jackson.databind;

    exports jlisa.transformer.generate;
    exports jlisa.transformer.io;
    exports jlisa.transformer.lora;
    exports jlisa.transformer.model;
    exports jlisa.transformer.tokenizer;
}
