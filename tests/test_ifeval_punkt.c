/* test_ifeval_punkt.c: the Punkt sentence splitter against nltk's own output
 * (tests/data/ifeval/punkt.jsonl, made by gen_golden.py), the SCORING.md
 * 3.5.1 facts, and bad parameter tables. */
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/util.h"
#include "ifeval_golden.h"
#include "scorers/ifeval/punkt.h"
#include "test.h"

static punkt_model model = PUNKT_MODEL_INIT;

static size_t count(const char *s)
{
    size_t n = 0;
    err e = ERR_INIT;
    CHECK_INT(punkt_count(&model, s, strlen(s), &n, &e), 0);
    return n;
}

static void test_ifeval_punkt__golden(void)
{
    golden g;
    CHECK(golden_open(&g, "punkt.jsonl"));
    punkt_spans sp = PUNKT_SPANS_INIT;
    cJSON *j;
    size_t cases = 0;
    err e = ERR_INIT;
    while ((j = golden_next(&g))) {
        const char *t = cJSON_GetObjectItem(j, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(j, "sentences");
        CHECK_INT(punkt_sentences(&model, t, strlen(t), &sp, &e), 0);
        bool same = sp.n == (size_t)cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < sp.n; i++) {
            const char *w = cJSON_GetArrayItem(want, (int)i)->valuestring;
            same = strlen(w) == sp.v[i].end - sp.v[i].start &&
                   memcmp(w, t + sp.v[i].start, strlen(w)) == 0;
        }
        CHECK_MSG(same, "%s:%zu: sentences of \"%.80s\" differ from nltk's", g.path, g.it.lineno,
                  t);
        cJSON_Delete(j);
        cases++;
    }
    CHECK(cases >= 400);
    punkt_spans_release(&sp);
    golden_close(&g);
}

static void test_ifeval_punkt__facts(void)
{
    /* SCORING.md 3.5.1 key facts and 5.3 vectors */
    CHECK_INT(count("Item one\nItem two\nItem three"), 1); /* newlines never split */
    CHECK_INT(count("Hello.World"), 1);
    CHECK_INT(count("We use e.g. apples here. Fine."), 3);
    CHECK_INT(count("1. Apples are red.\n2. Bananas are yellow."), 4);
    CHECK_INT(count(""), 0);
    CHECK_INT(count(" \n\t "), 0);
    CHECK_INT(count("end."), 1);
    CHECK_INT(count("Mr. Smith left. He came back."), 2); /* mr is an abbreviation */
    CHECK_INT(count("It is 5 p.m. The show starts."),
              2); /* ortho: "the" seen lower-case mid-sentence */
    CHECK_INT(count("He said \"Stop.\" Then he left."),
              2); /* the quote moves to the first sentence */
    punkt_spans sp = PUNKT_SPANS_INIT;
    err e = ERR_INIT;
    const char *t = "He said \"Stop.\" Then he left.";
    CHECK_INT(punkt_sentences(&model, t, strlen(t), &sp, &e), 0);
    CHECK_INT(sp.n, 2);
    if (sp.n == 2) {
        CHECK_INT(sp.v[0].end, 15); /* includes the closing quote */
        CHECK_INT(sp.v[1].start, 16);
    }
    punkt_spans_release(&sp);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_ifeval_punkt__bad_tables(void)
{
    char dir[] = "/tmp/tally-punkt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    punkt_model m = PUNKT_MODEL_INIT;
    err e = ERR_INIT;
    /* missing folder and missing files */
    CHECK_INT(punkt_load(&m, "/nonexistent/punkt", &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "abbrev_types.txt") != NULL);
    CHECK(strstr(e.msg, "tally datasets fetch") != NULL);
    CHECK_INT(punkt_load(&m, "", &e), ERR_INVALID);
    write_file(dir, "abbrev_types.txt", "dr\nmr");
    write_file(dir, "collocations.tab", "##number##\tinternational");
    write_file(dir, "sent_starters.txt", "the\nhowever");
    CHECK_INT(punkt_load(&m, dir, &e), ERR_NOTFOUND); /* no ortho_context.tab */
    CHECK(strstr(e.msg, "ortho_context.tab") != NULL);
    /* malformed lines name file and line */
    const char *bad_ortho[] = {"the\t32\nfoo", "the\t",        "the\tx1",
                               "\t4",          "the\t1234567", "a\t\xff"};
    for (size_t k = 0; k < ARRAY_LEN(bad_ortho); k++) {
        write_file(dir, "ortho_context.tab", bad_ortho[k]);
        CHECK_MSG(punkt_load(&m, dir, &e) == ERR_PARSE, "ortho %zu", k);
        CHECK(strstr(e.msg, "ortho_context.tab:") != NULL);
    }
    write_file(dir, "ortho_context.tab", "the\t32\nhowever\t2");
    const char *bad_colloc[] = {"nottab", "\tx", "x\t", "a\tb\tc"};
    for (size_t k = 0; k < ARRAY_LEN(bad_colloc); k++) {
        write_file(dir, "collocations.tab", bad_colloc[k]);
        CHECK_MSG(punkt_load(&m, dir, &e) == ERR_PARSE, "colloc %zu", k);
    }
    write_file(dir, "collocations.tab", "##number##\tinternational\r\n");
    write_file(dir, "abbrev_types.txt", "dr\xc3");
    CHECK_INT(punkt_load(&m, dir, &e), ERR_PARSE); /* invalid UTF-8 */
    write_file(dir, "abbrev_types.txt", "dr\nmr\n");
    CHECK_INT(punkt_load(&m, dir, &e), 0);
    size_t n = 0;
    CHECK_INT(punkt_count(&m, "Mr. Smith is here. Dr. Who too.", 31, &n, &e), 0);
    CHECK_INT(n, 2);
    punkt_release(&m);
    punkt_release(&m); /* twice is fine */
    /* an unloaded model is refused, not crashed on */
    CHECK_INT(punkt_count(&m, "a. b.", 5, &n, &e), ERR_INVALID);
    const char *names[] = {"abbrev_types.txt", "collocations.tab", "sent_starters.txt",
                           "ortho_context.tab"};
    for (size_t k = 0; k < ARRAY_LEN(names); k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        unlink(p);
    }
    rmdir(dir);
}

static void test_ifeval_punkt__hostile(void)
{
    /* long runs that make naive implementations quadratic or overflow */
    size_t n = 200000;
    char *s = malloc(n + 1);
    const char pattern[] = ". ! ? .. -- \xc2\xa0\n\"')";
    for (size_t i = 0; i < n; i++) s[i] = pattern[i % (sizeof pattern - 1)];
    s[n] = 0;
    /* cut at a character boundary */
    while (n && ((unsigned char)s[n - 1] & 0xC0) == 0x80) s[--n] = 0;
    if (n && (unsigned char)s[n - 1] >= 0xC0) s[--n] = 0;
    size_t k = 0;
    err e = ERR_INIT;
    CHECK_INT(punkt_count(&model, s, n, &k, &e), 0);
    CHECK(k > 0);
    memset(s, '.', n);
    CHECK_INT(punkt_count(&model, s, n, &k, &e), 0);
    CHECK_INT(k, 1);
    free(s);
}

int main(void)
{
    err e = ERR_INIT;
    if (punkt_load(&model, golden_punkt_dir(), &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    RUN(test_ifeval_punkt__golden);
    RUN(test_ifeval_punkt__facts);
    RUN(test_ifeval_punkt__bad_tables);
    RUN(test_ifeval_punkt__hostile);
    punkt_release(&model);
    return test_report();
}
