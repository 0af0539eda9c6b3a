/* test_ifeval_wordtok.c: nltk.word_tokenize and the capital-word count
 * against nltk's own output (tests/data/ifeval/wordtok.jsonl). */
#include "ifeval_golden.h"
#include "scorers/ifeval/wordtok.h"
#include "test.h"

static punkt_model model = PUNKT_MODEL_INIT;
static wordtok wt;

static void test_ifeval_wordtok__golden(void)
{
    golden g;
    CHECK(golden_open(&g, "wordtok.jsonl"));
    punkt_spans sp = PUNKT_SPANS_INIT;
    buf toks = BUF_INIT, all = BUF_INIT;
    cJSON *j;
    size_t cases = 0;
    err e = ERR_INIT;
    while ((j = golden_next(&g))) {
        const char *t = cJSON_GetObjectItem(j, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(j, "tokens");
        int upper = cJSON_GetObjectItem(j, "upper")->valueint;
        /* tokens: Punkt sentences, then the word tokenizer on each */
        CHECK_INT(punkt_sentences(&model, t, strlen(t), &sp, &e), 0);
        buf_reset(&all);
        size_t total = 0;
        for (size_t i = 0; i < sp.n; i++) {
            size_t c = 0;
            CHECK_INT(wordtok_tokenize(&wt, t + sp.v[i].start, sp.v[i].end - sp.v[i].start, &toks,
                                       &c, &e),
                      0);
            buf_append(&all, toks.data, toks.len);
            total += c;
        }
        bool same = total == (size_t)cJSON_GetArraySize(want);
        const char *p = all.data;
        for (size_t i = 0; same && i < total; i++) {
            same = strcmp(p, cJSON_GetArrayItem(want, (int)i)->valuestring) == 0;
            p += strlen(p) + 1;
        }
        CHECK_MSG(same, "%s:%zu: tokens of \"%.80s\" differ from nltk's", g.path, g.it.lineno, t);
        size_t k = 0;
        CHECK_INT(wordtok_count_upper(&wt, &model, t, strlen(t), &k, &e), 0);
        CHECK_MSG((int)k == upper, "%s:%zu: %zu capital words, nltk %d", g.path, g.it.lineno, k,
                  upper);
        cJSON_Delete(j);
        cases++;
    }
    CHECK(cases >= 400);
    punkt_spans_release(&sp);
    buf_release(&toks);
    buf_release(&all);
    golden_close(&g);
}

static size_t upper(const char *s)
{
    size_t k = 0;
    err e = ERR_INIT;
    CHECK_INT(wordtok_count_upper(&wt, &model, s, strlen(s), &k, &e), 0);
    return k;
}

static void test_ifeval_wordtok__facts(void)
{
    /* SCORING.md 3.3 #21, 3.5.2 and the 5.3 vector */
    CHECK_INT(upper("I LOVE NYC and U.S. trips"), 4);
    CHECK_INT(upper("DON'T"), 2);             /* DO + N'T */
    CHECK_INT(upper("NYC's parks"), 1);       /* NYC + 's */
    CHECK_INT(upper("WELL-KNOWN AND/OR"), 2); /* hyphens and slashes do not split */
    CHECK_INT(upper("ABC:def"), 1);           /* ':' before a non-digit splits */
    CHECK_INT(upper("3PM - 12:30"), 1);
    CHECK_INT(upper("CANNOT"), 2); /* CAN + NOT */
    CHECK_INT(upper(""), 0);
    CHECK_INT(upper("-- ... !!!"), 0);
    buf toks = BUF_INIT;
    size_t c = 0;
    err e = ERR_INIT;
    CHECK_INT(wordtok_tokenize(&wt, "\"Hi,\" she said.", 15, &toks, &c, &e), 0);
    CHECK_INT(c, 7);
    CHECK_STR(toks.data, "``");
    buf_release(&toks);
}

int main(void)
{
    err e = ERR_INIT;
    if (punkt_load(&model, golden_punkt_dir(), &e) < 0 || wordtok_init(&wt, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    RUN(test_ifeval_wordtok__golden);
    RUN(test_ifeval_wordtok__facts);
    wordtok_release(&wt);
    wordtok_release(&wt);
    punkt_release(&model);
    return test_report();
}
