/** Fine-tuning a model directory from Java in one call: full fine-tuning, LoRA or LISA ({@link jlisa.finetune.FineTune}). */
module jlisa.finetune {
    requires transitive jlisa.chat;
    requires transitive jlisa.distributed;
    requires transitive jlisa.transformer;
    requires transitive jlisa.optim;
    requires transitive jlisa.nn;
    requires transitive jlisa.autograd;
    requires transitive jlisa.tensor;

    exports jlisa.finetune;
}
