package jlisa.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each Jinja2 feature that JinjaExtensions adds or adapts, and the errors a template can give. */
class ChatTemplateTest {

    private static String render(String source, Map<String, ?> extra) {
        return ChatTemplate.of(source, Map.of("bos_token", "<s>")).render(List.of(ChatMessage.user(" Hi ")), false, extra);
    }

    @Test
    void pythonStringMethodsWork() {
        assertThat(render("{{ messages[0].content.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' a '.lstrip() }}|{{ ' a '.rstrip() }}", Map.of()))
                .isEqualTo("Hi|a|a | a");
        assertThat(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith('c') }}", Map.of()))
                .isEqualTo("true true false");
        assertThat(render("{{ 'a</t>b</t>c'.split('</t>')[-1] }}{{ ' x  y '.split()|length }}{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}", Map.of()))
                .isEqualTo("c2ABab");
    }

    @Test
    void stepSlicesReverseAndStride() {
        assertThat(render("{% for x in xs[::-1] %}{{ x }}{% endfor %}|{{ xs[::2]|join(',') }}|{{ xs[1:]|join(',') }}|{{ 'abc'[::-1] }}",
                Map.of("xs", List.of(1, 2, 3)))).isEqualTo("321|1,3|2,3|cba");
    }

    @Test
    void namespaceKeywordValuesAreWholeExpressions() {
        assertThat(render("{% set ns = namespace(n=xs|length - 1, f=true) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}",
                Map.of("xs", List.of(1, 2, 3)))).isEqualTo("8");
    }

    @Test
    void notBindsLooserThanATest() {
        assertThat(render("{% if not missing is defined %}undefined{% endif %}{% if not bos_token is none %} has bos{% endif %}", Map.of()))
                .isEqualTo("undefined has bos");
    }

    @Test
    void whitespaceControlAndBlocksTrimAsInTransformers() {
        assertThat(render("{% if true %}\n  a\n{% endif %}\n  {{- ' b' }}  {{- '!' -}}  \n", Map.of())).isEqualTo("  a\n b!");  // as @huggingface/jinja renders it
    }

    @Test
    void messageTextIsNeverInterpretedAgain() {
        ChatTemplate t = ChatTemplate.of("{{ messages[0].content }}", Map.of());
        assertThat(t.render(List.of(ChatMessage.user("{{ 1 + 1 }} {% raw %}")), false)).isEqualTo("{{ 1 + 1 }} {% raw %}");
    }

    @Test
    void raiseExceptionGivesTheTemplatesMessage() {
        ChatTemplate t = ChatTemplate.of("{% if messages[0].role != 'system' %}{{ raise_exception('need a system message') }}{% endif %}", Map.of());
        assertThatThrownBy(() -> t.render(List.of(ChatMessage.user("x")), true))
                .isInstanceOfSatisfying(ChatTemplateException.class, e -> assertThat(e.raisedByTemplate()).isTrue())
                .hasMessage("need a system message");
    }

    @Test
    void syntaxErrorNamesTemplateAndLine() {
        ChatTemplate t = ChatTemplate.of("my-model", "ok\n{% for m in messages %}{{ m.content }}", Map.of());
        assertThatThrownBy(() -> t.render(List.of(ChatMessage.user("x")), true))
                .isInstanceOfSatisfying(ChatTemplateException.class, e -> assertThat(e.raisedByTemplate()).isFalse())
                .hasMessageStartingWith("my-model, line 2:");
    }

    @Test
    void forModelReadsTemplateAndSpecialTokens(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
                 "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}"}
                """);
        ChatTemplate t = ChatTemplate.forModel(dir);
        assertThat(t.render(List.of(ChatMessage.system("S"), ChatMessage.user("U")), false)).isEqualTo("<s>[system]S</s>[user]U</s>");
    }

    @Test
    void forModelWithoutTemplateSaysWhatIsMissing(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> ChatTemplate.forModel(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has no chat template").hasMessageContaining("there is no such file");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        assertThatThrownBy(() -> ChatTemplate.forModel(dir)).hasMessageContaining("the file has none");
    }
}
