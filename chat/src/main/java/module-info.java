/**
 * Chat templates: the Jinja templates of a model's {@code tokenizer_config.json}, rendered as Hugging Face's
 * {@code apply_chat_template} renders them ({@link jlisa.chat.ChatTemplate}).
 */
module jlisa.chat {
    requires transitive jlisa.transformer;
    // Jinjava ships no module descriptor: it is the automatic module named after its jar, "jinjava".
    requires jinjava;
    requires com.fasterxml.jackson.databind;
    // Jinjava's ELResolver API names java.beans.FeatureDescriptor.
    requires java.desktop;

    exports jlisa.chat;
}
