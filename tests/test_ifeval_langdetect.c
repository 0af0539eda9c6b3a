/* test_ifeval_langdetect.c: the langdetect port against Python's langdetect
 * (tests/data/ifeval/langdetect.jsonl, made by gen_golden.py with seed 0),
 * CPython's random generator, and bad profile folders.
 *
 * The profiles are Debian's python3-langdetect data (scripts/install-deps
 * installs it); TALLY_LANGDETECT_PROFILES points elsewhere. */
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "ifeval_golden.h"
#include "scorers/ifeval/langdetect.h"
#include "scorers/ifeval/pyrand.h"
#include "test.h"

static langdetect *ld;

static void test_ifeval_langdetect__pyrand(void)
{
    /* random.seed(0); getrandbits(32), random(), gauss(0,1) twice (Python 3.11) */
    pyrand r;
    pyrand_seed(&r, 0);
    CHECK_INT(pyrand_u32(&r), 3626764237u);
    CHECK(pyrand_random(&r) == 0.3852453064766108);
    CHECK(pyrand_gauss(&r) == 0.22179928933619306);
    CHECK(pyrand_gauss(&r) == -0.1829164841327709);
    /* random.seed(0); [random.choice(range(10)) for _ in range(5)] */
    pyrand_seed(&r, 0);
    size_t want[5] = {6, 6, 0, 4, 8};
    for (int i = 0; i < 5; i++) CHECK_INT(pyrand_below(&r, 10), want[i]);
    /* random.seed(12345).getrandbits(32) */
    pyrand_seed(&r, 12345);
    CHECK_INT(pyrand_u32(&r), 1789368711u);
}

static void test_ifeval_langdetect__golden(void)
{
    golden g;
    CHECK(golden_open(&g, "langdetect.jsonl"));
    langdetect_scratch s = LANGDETECT_SCRATCH_INIT;
    cJSON *j;
    size_t cases = 0, exact = 0;
    err e = ERR_INIT;
    while ((j = golden_next(&g))) {
        const char *t = cJSON_GetObjectItem(j, "text")->valuestring;
        const cJSON *lang = cJSON_GetObjectItem(j, "lang");
        double prob = cJSON_GetObjectItem(j, "prob")->valuedouble;
        langdetect_result r;
        CHECK_INT(langdetect_detect(ld, &s, t, strlen(t), LANGDETECT_SEED, &r, NULL, &e), 0);
        if (cJSON_IsNull(lang)) {
            CHECK_MSG(r.lang == NULL, "%s:%zu: \"%.60s\": got %s, Python has no features", g.path,
                      g.it.lineno, t, r.lang);
        } else {
            CHECK_MSG(r.lang && strcmp(r.lang, lang->valuestring) == 0,
                      "%s:%zu: \"%.60s\": got %s, Python %s", g.path, g.it.lineno, t,
                      r.lang ? r.lang : "(no features)", lang->valuestring);
            /* same arithmetic in the same order: the probabilities agree to the bit */
            CHECK_MSG(r.prob == prob, "%s:%zu: p %.17g vs %.17g", g.path, g.it.lineno, r.prob,
                      prob);
        }
        exact += r.lang || cJSON_IsNull(lang);
        cJSON_Delete(j);
        cases++;
    }
    CHECK(cases >= 600);
    CHECK(exact == cases);
    langdetect_scratch_release(&s);
    langdetect_scratch_release(&s);
    golden_close(&g);
}

static void test_ifeval_langdetect__cases(void)
{
    langdetect_scratch s = LANGDETECT_SCRATCH_INIT;
    langdetect_result r;
    err e = ERR_INIT;
    /* SCORING.md 5.3: no letters, no features */
    CHECK_INT(langdetect_detect(ld, &s, "12345 !!!", 9, 0, &r, NULL, &e), 0);
    CHECK(r.lang == NULL);
    CHECK_INT(langdetect_detect(ld, &s, "", 0, 0, &r, NULL, &e), 0);
    CHECK(r.lang == NULL);
    const char *caps = "THIS IS A TEST OF THE EMERGENCY BROADCAST SYSTEM. PLEASE STAY CALM AND "
                       "LISTEN CAREFULLY TO THE INSTRUCTIONS.";
    CHECK_INT(langdetect_detect(ld, &s, caps, strlen(caps), 0, &r, NULL, &e), 0);
    CHECK_STR(r.lang, "en");
    const char *es = "Hola, me llamo Juan y vivo en Madrid con mi familia.";
    CHECK_INT(langdetect_detect(ld, &s, es, strlen(es), 0, &r, NULL, &e), 0);
    CHECK_STR(r.lang, "es");
    /* the same text always gets the same answer */
    const char *amb = "ok ok";
    langdetect_result r2;
    CHECK_INT(langdetect_detect(ld, &s, amb, 5, 0, &r, NULL, &e), 0);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(langdetect_detect(ld, &s, amb, 5, 0, &r2, NULL, &e), 0);
        CHECK(r2.lang && r.lang && strcmp(r.lang, r2.lang) == 0 && r.prob == r2.prob);
    }
    /* only URLs and e-mail addresses: nothing left */
    const char *url = "https://example.com/a?b=c someone@example.org";
    CHECK_INT(langdetect_detect(ld, &s, url, strlen(url), 0, &r, NULL, &e), 0);
    CHECK(r.lang == NULL);
    /* a long text is cut at 10,000 characters without trouble */
    size_t n = 300000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = "the cat sat on the mat "[i % 23];
    big[n] = 0;
    CHECK_INT(langdetect_detect(ld, &s, big, n, 0, &r, NULL, &e), 0);
    CHECK_STR(r.lang, "en");
    free(big);
    CHECK_INT(langdetect_n_langs(ld), 55);
    CHECK_STR(langdetect_lang(ld, 0), "af");
    CHECK(langdetect_lang(ld, 55) == NULL);
    CHECK(langdetect_has_cjk_map(ld));
    langdetect_scratch_release(&s);
}

static void write_file(const char *dir, const char *name, const char *text, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(text, 1, n, f);
    fclose(f);
}

static void test_ifeval_langdetect__bad_profiles(void)
{
    char dir[] = "/tmp/tally-ld-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    langdetect *x = NULL;
    err e = ERR_INIT;
    CHECK_INT(langdetect_open(&x, "/nonexistent/profiles", &e), ERR_IO);
    CHECK(strstr(e.msg, "python3-langdetect") != NULL);
    CHECK(x == NULL);
    CHECK_INT(langdetect_open(&x, dir, &e), ERR_NOTFOUND); /* empty folder */
    const char *a =
        "{\"freq\":{\"a\":5,\"ab\":2,\"abc\":1,\"abcd\":9},\"n_words\":[10,4,2],\"name\":\"xa\"}";
    const char *b = "{\"freq\":{\"b\":5,\"ba\":2},\"n_words\":[10,4,2],\"name\":\"xb\"}";
    write_file(dir, "xa", a, strlen(a));
    write_file(dir, "xb", b, strlen(b));
    CHECK_INT(langdetect_open(&x, dir, &e), 0);
    if (x) {
        CHECK_INT(langdetect_n_langs(x), 2);
        CHECK(!langdetect_has_cjk_map(x));
        langdetect_scratch s = LANGDETECT_SCRATCH_INIT;
        langdetect_result r;
        CHECK_INT(langdetect_detect(x, &s, "aaa abc", 7, 0, &r, NULL, &e), 0);
        CHECK_STR(r.lang, "xa");
        CHECK_INT(langdetect_detect(x, &s, "bbb ba", 6, 0, &r, NULL, &e), 0);
        CHECK_STR(r.lang, "xb");
        langdetect_scratch_release(&s);
        langdetect_close(x);
        x = NULL;
    }
    /* every proper prefix of a profile is refused, naming the file */
    size_t n = strlen(a);
    for (size_t k = 0; k < n; k++) {
        write_file(dir, "xa", a, k);
        int rc = langdetect_open(&x, dir, &e);
        CHECK_MSG(rc < 0 && x == NULL, "prefix %zu accepted", k);
        if (rc < 0) CHECK_MSG(strstr(e.msg, "xa") != NULL, "prefix %zu: %s", k, e.msg);
        langdetect_close(x);
        x = NULL;
    }
    const char *bad[] = {
        "[]",
        "{\"freq\":{\"a\":5},\"n_words\":[10,4],\"name\":\"xa\"}",
        "{\"freq\":{\"a\":5},\"n_words\":[10,4,2],\"name\":5}",
        "{\"freq\":{\"a\":\"5\"},\"n_words\":[10,4,2],\"name\":\"xa\"}",
        "{\"freq\":{\"ab\":5},\"n_words\":[10,0,2],\"name\":\"xa\"}",
        "{\"freq\":{\"a\":5},\"n_words\":[10,4,2],\"name\":\"xb\"}", /* duplicate language */
        "{\"freq\":{\"a\":5},\"n_words\":[-1,4,2],\"name\":\"xa\"}",
    };
    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        write_file(dir, "xa", bad[k], strlen(bad[k]));
        CHECK_MSG(langdetect_open(&x, dir, &e) < 0, "bad profile %zu accepted", k);
        CHECK(x == NULL);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/xa", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/xb", dir);
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    err e = ERR_INIT;
    const char *dir = getenv("TALLY_LANGDETECT_PROFILES");
    if (langdetect_open(&ld, dir, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    RUN(test_ifeval_langdetect__pyrand);
    RUN(test_ifeval_langdetect__golden);
    RUN(test_ifeval_langdetect__cases);
    RUN(test_ifeval_langdetect__bad_profiles);
    langdetect_close(ld);
    return test_report();
}
