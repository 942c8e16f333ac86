package jlisa.transformer.io;

/**
 * A safetensors file or checkpoint directory that is malformed or cannot be loaded; the message names
 * the file and says what was expected and what was found.
 *
 * <p>Immutable, like every exception; safe to pass between threads.
 */
public class SafeTensorsException extends IllegalArgumentException {
    public SafeTensorsException(String message) { super(message); }

    public SafeTensorsException(String message, Throwable cause) { super(message, cause); }
}
