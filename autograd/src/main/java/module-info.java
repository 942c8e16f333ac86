/**
 * Reverse-mode automatic differentiation over tensors: {@link jlisa.autograd.Variable},
 * {@link jlisa.autograd.Parameter}, {@link jlisa.autograd.Function} and {@link jlisa.autograd.Gradcheck}.
 *
 * <p>The op functions in {@code jlisa.autograd.functions} are internal; {@code Variable}'s methods are their
 * public face. They are exported only to the jlisa modules that build graphs from them directly.
 */
module jlisa.autograd {
    requires transitive jlisa.tensor;

    exports jlisa.autograd;
    exports jlisa.autograd.functions to jlisa.transformer;
}
