package jlisa.chat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
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
                .withElResolver(resolver)
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", JinjaExtensions.class, "raiseException", Object.class));
        return jinjava;
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
