/** The README's quickstart as a named module: on the module path it sees only what jlisa.finetune exports. */
module jlisa.example.quickstart {
    requires jlisa.finetune;
}
