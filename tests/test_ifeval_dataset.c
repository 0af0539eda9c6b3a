/* test_ifeval_dataset.c: the IFEval loader and prompt builder (datasets/ifeval)
 * on the real input_data.jsonl and on broken lines. */
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/util.h"
#include "datasets/ifeval.h"
#include "scorers/ifeval/checkers.h"
#include "test.h"

static void test_ifeval_dataset__real(void)
{
    arena a = ARENA_INIT;
    item_set set;
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    err e = ERR_INIT;
    CHECK_INT(ifeval_load(&o, NULL, &a, &set, &e), 0);
    CHECK_INT(set.n, 541);
    CHECK_STR(set.sha256, "67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49");
    CHECK_STR(set.items[0].id, "1000");
    /* SCORING.md 3.1: 834 instructions, these counts per id */
    static const struct {
        const char *id;
        int n;
    } want[] = {
        {"change_case:capital_word_frequency", 25},
        {"change_case:english_capital", 25},
        {"change_case:english_lowercase", 39},
        {"combination:repeat_prompt", 41},
        {"combination:two_responses", 24},
        {"detectable_content:number_placeholders", 27},
        {"detectable_content:postscript", 26},
        {"detectable_format:constrained_response", 10},
        {"detectable_format:json_format", 17},
        {"detectable_format:multiple_sections", 14},
        {"detectable_format:number_bullet_lists", 31},
        {"detectable_format:number_highlighted_sections", 48},
        {"detectable_format:title", 37},
        {"keywords:existence", 39},
        {"keywords:forbidden_words", 49},
        {"keywords:frequency", 42},
        {"keywords:letter_frequency", 33},
        {"language:response_language", 31},
        {"length_constraints:nth_paragraph_first_word", 12},
        {"length_constraints:number_paragraphs", 27},
        {"length_constraints:number_sentences", 52},
        {"length_constraints:number_words", 52},
        {"punctuation:no_comma", 66},
        {"startend:end_checker", 26},
        {"startend:quotation", 41},
    };
    int counts[ARRAY_LEN(want)] = {0};
    size_t total = 0;
    ifeval_settings s;
    ifeval_settings_default(&s);
    s.data_dir = o.data_dir;
    ifeval_env *env[2] = {NULL, NULL};
    CHECK_INT(ifeval_env_open(&env[0], &s, &e), 0);
    s.mode = IFEVAL_MODE_FIXED;
    CHECK_INT(ifeval_env_open(&env[1], &s, &e), 0);
    for (size_t i = 0; i < set.n; i++) {
        const ifeval_record *r = set.items[i].data;
        CHECK(r->n >= 1 && r->n <= 3);
        for (size_t k = 0; k < r->n; k++) {
            total++;
            for (size_t w = 0; w < ARRAY_LEN(want); w++)
                if (strcmp(r->ids[k], want[w].id) == 0) counts[w]++;
            /* every instruction of the dataset builds, in both modes */
            for (int m = 0; m < 2; m++) {
                ifeval_inst in;
                int rc = ifeval_inst_build(env[m], r->ids[k], &r->kwargs[k], r->prompt, &in, &e);
                CHECK_MSG(rc == 0, "key %ld: %s", r->key, e.msg);
                if (rc == 0) ifeval_inst_release(&in);
            }
        }
    }
    CHECK_INT(total, 834);
    for (size_t w = 0; w < ARRAY_LEN(want); w++)
        CHECK_MSG(counts[w] == want[w].n, "%s: %d, want %d", want[w].id, counts[w], want[w].n);
    /* the two non-letter letters (SCORING.md 3.3 #4) and the upstream spelling */
    bool hash = false, spliter = false;
    for (size_t i = 0; i < set.n; i++) {
        const ifeval_record *r = set.items[i].data;
        for (size_t k = 0; k < r->n; k++) {
            if (r->key == 1122 && r->kwargs[k].letter) hash = strcmp(r->kwargs[k].letter, "#") == 0;
            if (r->kwargs[k].section_spliter) spliter = true;
        }
    }
    CHECK(hash);
    CHECK(spliter);
    /* prompts: verbatim, chat = one user message, 1280 tokens, no stop, no reference */
    prompt p;
    const ifeval_record *r0 = set.items[0].data;
    CHECK_INT(ifeval_build(&o, NULL, &set.items[0], &a, &p, &e), 0);
    CHECK(p.text == r0->prompt && !p.messages);
    CHECK_INT(p.max_tokens, 1280);
    CHECK(p.n_stop == 0 && !p.reference && !p.reference_tool_calls);
    CHECK_STR(p.alt_key, r0->prompt);
    o.chat = true;
    CHECK_INT(ifeval_build(&o, NULL, &set.items[0], &a, &p, &e), 0);
    CHECK(!p.text && p.n_messages == 1);
    CHECK_STR(p.messages[0].role, "user");
    CHECK_STR(p.messages[0].content, r0->prompt);
    CHECK_INT(ifeval_build(&o, NULL, NULL, &a, &p, &e), ERR_INVALID);
    ifeval_env_close(env[0]);
    ifeval_env_close(env[1]);
    arena_release(&a);
}

static void test_ifeval_dataset__bad_lines(void)
{
    arena a = ARENA_INIT;
    ifeval_record r;
    err e = ERR_INIT;
    const char *good = "{\"key\": 7, \"prompt\": \"Write.\", \"instruction_id_list\": "
                       "[\"punctuation:no_comma\", \"length_constraints:number_words\"], "
                       "\"kwargs\": [{}, {\"num_words\": 5, \"relation\": \"at least\"}]}";
    CHECK_INT(ifeval_parse_line(good, strlen(good), "t:1", &a, &r, &e), 0);
    CHECK_INT(r.key, 7);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.kwargs[1].num_words, 5);
    CHECK_INT(r.kwargs[1].relation, IFEVAL_REL_AT_LEAST);
    CHECK(r.kwargs[1].present == (1u << IFEVAL_KW_NUM_WORDS | 1u << IFEVAL_KW_RELATION));
    /* every proper prefix is an error, never a crash */
    for (size_t k = 0; k < strlen(good); k++)
        CHECK_MSG(ifeval_parse_line(good, k, "t:1", &a, &r, &e) < 0, "prefix %zu accepted", k);
    const char *bad[] = {
        "[]",
        "{\"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": [{}]}",
        "{\"key\": \"7\", \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": [{}]}",
        "{\"key\": 7.5, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": [{}]}",
        "{\"key\": 7, \"prompt\": 1, \"instruction_id_list\": [\"a:b\"], \"kwargs\": [{}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [], \"kwargs\": []}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": []}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [1], \"kwargs\": [{}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": [[]]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"num_words\": \"5\"}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"num_words\": 2.5}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"relation\": \"at most\"}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"section_splitter\": \"X\"}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"keywords\": [\"a\", 2]}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"keywords\": \"a\"}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"letter\": 1}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"\"], \"kwargs\": [{}]}",
        "{\"key\": 7, \"prompt\": \"x\", \"instruction_id_list\": [\"a:b\"], \"kwargs\": "
        "[{\"num_words\": 1e12}]}",
    };
    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        int rc = ifeval_parse_line(bad[k], strlen(bad[k]), "t:9", &a, &r, &e);
        CHECK_MSG(rc == ERR_PARSE, "case %zu: rc %d", k, rc);
        CHECK_MSG(strncmp(e.msg, "t:9", 3) == 0, "case %zu: %s", k, e.msg);
    }
    /* the Hugging Face layout: every key present, unused ones null */
    const char *hf =
        "{\"key\": 8, \"prompt\": \"x\", \"instruction_id_list\": [\"punctuation:no_comma\"], "
        "\"kwargs\": [{\"num_words\": null, \"relation\": null, \"keywords\": null}]}";
    CHECK_INT(ifeval_parse_line(hf, strlen(hf), "t:2", &a, &r, &e), 0);
    CHECK_INT(r.kwargs[0].present, 0);
    arena_release(&a);
}

static void test_ifeval_dataset__files(void)
{
    char dir[] = "/tmp/tally-ifeval-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[600], path[700];
    snprintf(sub, sizeof sub, "%s/ifeval", dir);
    mkdir(sub, 0755);
    snprintf(path, sizeof path, "%s/input_data.jsonl", sub);
    arena a = ARENA_INIT;
    item_set set;
    task_options o;
    task_options_default(&o);
    o.data_dir = dir;
    err e = ERR_INIT;
    /* missing file: says where it looked and how to get it */
    CHECK_INT(ifeval_load(&o, NULL, &a, &set, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "tally datasets fetch") != NULL);
    o.data_dir = NULL;
    CHECK_INT(ifeval_load(&o, NULL, &a, &set, &e), ERR_NOTFOUND);
    o.data_dir = dir;
    const char *line = "{\"key\": 1, \"prompt\": \"p\", \"instruction_id_list\": "
                       "[\"punctuation:no_comma\"], \"kwargs\": [{}]}\n";
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n%s", line, line); /* a blank line is skipped; the key repeats */
    fclose(f);
    CHECK_INT(ifeval_load(&o, NULL, &a, &set, &e), ERR_PARSE);
    CHECK(strstr(e.msg, ":3: key 1 appears twice") != NULL);
    f = fopen(path, "w");
    fclose(f);
    CHECK_INT(ifeval_load(&o, NULL, &a, &set, &e), ERR_PARSE); /* empty */
    f = fopen(path, "w");
    fprintf(f, "%s{\"key\": 2, \"prompt\"", line); /* torn last line */
    fclose(f);
    CHECK_INT(ifeval_load(&o, NULL, &a, &set, &e), ERR_PARSE);
    CHECK(strstr(e.msg, ":2:") != NULL);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
    arena_release(&a);
}

int main(void)
{
    RUN(test_ifeval_dataset__real);
    RUN(test_ifeval_dataset__bad_lines);
    RUN(test_ifeval_dataset__files);
    return test_report();
}
