/** Optimizers (SGD, AdamW), LISA layer sampling, the training loop, data pipelines and checkpoints. */
module jlisa.optim {
    requires transitive jlisa.autograd;
    requires jdk.incubator.vector; // AdamW's update is a Vector API loop

    exports jlisa.optim;
    exports jlisa.optim.data;
    exports jlisa.optim.train;
}
