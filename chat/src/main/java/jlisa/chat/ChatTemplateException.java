package jlisa.chat;

/**
 * A chat template failed to render: a syntax or evaluation error (the message names the template and line), or the
 * template itself rejected the conversation with {@code raise_exception(msg)} ({@link #raisedByTemplate()}; the
 * message is then exactly {@code msg}). Immutable once thrown, like any exception; safe to share between threads.
 */
public final class ChatTemplateException extends RuntimeException {

    private final boolean raisedByTemplate;

    ChatTemplateException(String message, boolean raisedByTemplate, Throwable cause) {
        super(message, cause);
        this.raisedByTemplate = raisedByTemplate;
    }

    /** Whether the template called {@code raise_exception} (the conversation was rejected, the template is fine). */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
