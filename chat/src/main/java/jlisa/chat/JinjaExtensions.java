package jlisa.chat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The one place where Jinjava is made to render Hugging Face chat templates as Python's Jinja2 does: the
 * environment options transformers uses ({@code trim_blocks}, {@code lstrip_blocks}), {@code raise_exception}, and
 * the Python {@code str} methods templates call ({@code .strip()}, {@code .startswith()}, {@code .split()}, ...).
 */
final class JinjaExtensions {

    private JinjaExtensions() {}

    /** Thrown by {@code raise_exception(msg)}; found again in Jinjava's error list to keep the template's message. */
    static final class RaisedByTemplate extends RuntimeException {
        RaisedByTemplate(String message) {
            super(message, null, false, false);
        }
    }

    /** {@code raise_exception(msg)}, which transformers adds to the template's globals. */
    public static Object raiseException(Object message) {
        throw new RaisedByTemplate(String.valueOf(message));
    }

    /** A Jinjava configured like transformers' ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True). */
    static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                // Jinja2 never renders a value's text again; Jinjava would, so "{% raw %}" in a message broke it.
                .withNestedInterpretationEnabled(false)
                .withElResolver(resolver)
                // Jinjava's switches towards Jinja2's semantics: "{{-" strips like "{%-", Python's operator
                // precedence, dict literals with evaluated keys, iterating a dict gives its keys, none stays none.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", JinjaExtensions.class, "raiseException", Object.class));
        jinjava.getGlobalContext().registerFilter(new PySliceFilter());
        return jinjava;
    }

    /**
     * The template source as Jinjava must read it to mean what Jinja2 reads. Jinjava binds a keyword argument's
     * {@code =} tighter than arithmetic, so Qwen3's {@code namespace(last_query_index=messages|length - 1)} became
     * {@code (last_query_index=messages|length) - 1}; every keyword argument's value is put in parentheses (a no-op
     * for Jinja2). Only the inside of {@code {{ }}} and {@code {% %}} is touched, never literal text or strings.
     */
    static String adaptSource(String source) {
        StringBuilder out = new StringBuilder(source.length() + 16);
        int i = 0;
        while (i < source.length()) {
            int open = nextTagStart(source, i);
            if (open < 0) {
                out.append(source, i, source.length());
                break;
            }
            String close = source.charAt(open + 1) == '{' ? "}}" : "%}";
            int end = endOfTag(source, open + 2, close);
            out.append(source, i, open + 2);
            out.append(parenthesizeKeywordArguments(stepSlicesAsFilter(notBindsLooserThanIs(source.substring(open + 2, end)))));
            i = end;
        }
        return out.toString();
    }

    private static int nextTagStart(String s, int from) {
        for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%') return i;
            if (c == '#') {  // a comment: skip it whole
                int e = s.indexOf("#}", i + 2);
                if (e < 0) return -1;
                i = e;
            }
        }
        return -1;
    }

    /** Where {@code close} ends the tag whose inside starts at {@code from}, skipping string literals. */
    private static int endOfTag(String s, int from, String close) {
        char quote = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') i++;
                else if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (s.startsWith(close, i)) {
                return i;
            }
        }
        return s.length();  // unterminated: Jinjava reports the syntax error
    }

    private static final Pattern NOT_IS = Pattern.compile(
            "\\bnot\\s+([A-Za-z_][\\w.]*(?:\\[[^\\]]*\\])*\\s+is\\s+(?:not\\s+)?[A-Za-z_]\\w*)\\b(?!\\s*\\()");

    /**
     * In Jinja2 a test binds tighter than {@code not}: DeepSeek-V3's {@code not add_generation_prompt is defined}
     * means {@code not (add_generation_prompt is defined)}; Jinjava reads {@code (not add_generation_prompt) is
     * defined}. The parentheses are written out for a name (with attributes and subscripts) and an argument-less test.
     */
    static String notBindsLooserThanIs(String code) {
        return NOT_IS.matcher(code).replaceAll("not ($1)");
    }

    private static final Pattern STEP_SLICE =
            Pattern.compile("\\[\\s*([^\\[\\]:'\"]*?)\\s*:\\s*([^\\[\\]:'\"]*?)\\s*:\\s*([^\\[\\]:'\"]*?)\\s*\\]");

    /**
     * Jinjava parses {@code x[a:b]} but not a slice with a step, {@code x[a:b:c]} (Qwen3 walks {@code messages[::-1]});
     * it becomes the filter {@code x|py_slice(a, b, c)}, an empty bound passed as {@code none}. Filters bind to the
     * whole postfix chain before them, as the subscript did.
     */
    static String stepSlicesAsFilter(String code) {
        java.util.regex.Matcher m = STEP_SLICE.matcher(code);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String args = orNone(m.group(1)) + ", " + orNone(m.group(2)) + ", " + orNone(m.group(3));
            m.appendReplacement(out, java.util.regex.Matcher.quoteReplacement("|py_slice(" + args + ")"));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String orNone(String bound) {
        return bound.isBlank() ? "none" : bound;
    }

    /** {@code py_slice(start, stop, step)}: Python's {@code seq[start:stop:step]} on a list or a string. */
    static final class PySliceFilter implements Filter {
        @Override public String getName() {
            return "py_slice";
        }

        @Override public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            throw new IllegalStateException("py_slice is called with typed arguments");
        }

        @Override public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            List<Object> items = new ArrayList<>();
            if (var instanceof String s) {
                s.codePoints().forEach(cp -> items.add(Character.toString(cp)));
            } else if (var instanceof Iterable<?> it) {
                it.forEach(items::add);
            } else {
                throw new IllegalArgumentException("slice: expected a list or a string, got " + (var == null ? "none" : var.getClass().getSimpleName()));
            }
            int n = items.size();
            long step = args.length > 2 && args[2] != null ? ((Number) args[2]).longValue() : 1;
            if (step == 0) throw new IllegalArgumentException("slice step cannot be zero");
            // Python's slice.indices(n): defaults and clamping depend on the step's sign.
            long start = bound(args, 0, n, step, step > 0 ? 0 : n - 1);
            long stop = bound(args, 1, n, step, step > 0 ? n : -1);
            List<Object> picked = new ArrayList<>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) picked.add(items.get((int) i));
            if (var instanceof String) {
                StringBuilder sb = new StringBuilder();
                picked.forEach(sb::append);
                return sb.toString();
            }
            return picked;
        }

        private static long bound(Object[] args, int k, int n, long step, long dflt) {
            if (args.length <= k || args[k] == null) return dflt;
            long v = ((Number) args[k]).longValue();
            if (v < 0) v += n;
            return step > 0 ? Math.clamp(v, 0, n) : Math.clamp(v, -1, n - 1);
        }
    }

    /** In one tag's inside: {@code f(a, k=expr)} becomes {@code f(a, k=(expr))}. */
    static String parenthesizeKeywordArguments(String code) {
        StringBuilder out = new StringBuilder(code.length() + 8);
        // For each open bracket: whether it is a call's '(' and whether a keyword value is open in it.
        java.util.ArrayDeque<int[]> stack = new java.util.ArrayDeque<>();  // {isCall, valueOpen}
        char quote = 0;
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (quote != 0) {
                out.append(c);
                if (c == '\\' && i + 1 < code.length()) out.append(code.charAt(++i));
                else if (c == quote) quote = 0;
                continue;
            }
            switch (c) {
                case '\'', '"' -> { quote = c; out.append(c); }
                case '(', '[', '{' -> {
                    boolean call = c == '(' && precededByName(code, i);
                    stack.push(new int[] {call ? 1 : 0, 0});
                    out.append(c);
                }
                case ',', ')', ']', '}' -> {
                    int[] top = stack.peek();
                    if (top != null && top[1] == 1 && (c == ',' || c == ')')) {
                        out.append(')');
                        top[1] = 0;
                    }
                    if (c != ',' && !stack.isEmpty()) stack.pop();
                    out.append(c);
                }
                case '=' -> {
                    int[] top = stack.peek();
                    boolean comparison = i + 1 < code.length() && code.charAt(i + 1) == '='
                            || i > 0 && "=!<>".indexOf(code.charAt(i - 1)) >= 0;
                    if (top != null && top[0] == 1 && top[1] == 0 && !comparison) {
                        out.append("=(");
                        top[1] = 1;
                    } else {
                        out.append(c);
                        if (comparison && i + 1 < code.length() && code.charAt(i + 1) == '=') out.append(code.charAt(++i));
                    }
                }
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean precededByName(String code, int paren) {
        int j = paren - 1;
        while (j >= 0 && code.charAt(j) == ' ') j--;
        return j >= 0 && (Character.isLetterOrDigit(code.charAt(j)) || code.charAt(j) == '_');
    }

    /** Python's {@code str} methods on Java strings, for the ones chat templates use. */
    static final class PythonStringMethods extends ELResolver {

        @Override public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] args) {
            if (!(base instanceof String s) || method == null) {
                return null;
            }
            Object result = call(s, method.toString(), args == null ? new Object[0] : args);
            if (result != NOT_A_METHOD) {
                context.setPropertyResolved(true);
                return result;
            }
            return null;
        }

        private static final Object NOT_A_METHOD = new Object();

        static Object call(String s, String method, Object[] args) {
            return switch (method) {
                case "startswith" -> s.startsWith(arg(args, 0));
                case "endswith" -> s.endsWith(arg(args, 0));
                case "strip" -> rstrip(lstrip(s, optArg(args)), optArg(args));
                case "lstrip" -> lstrip(s, optArg(args));
                case "rstrip" -> rstrip(s, optArg(args));
                case "split" -> split(s, optArg(args));
                case "upper" -> s.toUpperCase(Locale.ROOT);
                case "lower" -> s.toLowerCase(Locale.ROOT);
                case "replace" -> s.replace(arg(args, 0), arg(args, 1));
                default -> NOT_A_METHOD;
            };
        }

        private static String arg(Object[] args, int i) {
            if (args.length <= i || args[i] == null) {
                throw new IllegalArgumentException("string method expects argument " + (i + 1) + ", got " + args.length);
            }
            return args[i].toString();
        }

        private static String optArg(Object[] args) {
            return args.length == 0 || args[0] == null ? null : args[0].toString();
        }

        /** Python's whitespace for strip() without arguments (str.isspace). */
        private static boolean strippable(char c, String chars) {
            return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
        }

        static String lstrip(String s, String chars) {
            int i = 0;
            while (i < s.length() && strippable(s.charAt(i), chars)) i++;
            return s.substring(i);
        }

        static String rstrip(String s, String chars) {
            int j = s.length();
            while (j > 0 && strippable(s.charAt(j - 1), chars)) j--;
            return s.substring(0, j);
        }

        /** {@code split()} drops empty pieces and splits on whitespace runs; {@code split(sep)} keeps every piece. */
        static List<String> split(String s, String sep) {
            if (sep == null) {
                String t = s.strip();
                return t.isEmpty() ? new ArrayList<>() : new ArrayList<>(Arrays.asList(t.split("\\s+")));
            }
            if (sep.isEmpty()) {
                throw new IllegalArgumentException("split: empty separator");
            }
            return new ArrayList<>(Arrays.asList(s.split(Pattern.quote(sep), -1)));
        }

        @Override public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override public void setValue(ELContext context, Object base, Object property, Object value) {}

        @Override public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override public Iterator<java.beans.FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }
    }
}
