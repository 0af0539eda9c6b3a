/* test_ifeval_ustr.c: Python str semantics (scorers/ifeval/ustr) and Python
 * re scanning (scorers/ifeval/pyre). Expected values are what Python 3.11
 * answers for the same strings. */
#include "common/util.h"
#include "scorers/ifeval/pyre.h"
#include "scorers/ifeval/ustr.h"
#include "test.h"

static const char *lower(const char *s)
{
    static buf b = BUF_INIT;
    buf_reset(&b);
    CHECK_INT(ustr_lower(&b, s, strlen(s)), 0);
    return b.data;
}

static void test_ifeval_ustr__decode(void)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀 */
    size_t n = strlen(s), i = 0;
    CHECK_INT(ustr_next(s, n, &i), 'a');
    CHECK_INT(ustr_next(s, n, &i), 0xE9);
    CHECK_INT(ustr_next(s, n, &i), 0x20AC);
    CHECK_INT(ustr_next(s, n, &i), 0x1F600);
    CHECK_INT(i, n);
    CHECK_INT(ustr_prev(s, &i), 0x1F600);
    CHECK_INT(ustr_prev(s, &i), 0x20AC);
    CHECK_INT(ustr_prev(s, &i), 0xE9);
    CHECK_INT(ustr_prev(s, &i), 'a');
    CHECK_INT(i, 0);
    /* bad bytes decode one at a time as U+FFFD and never read past n */
    const char *bad[] = {"\xff",         "\xc0\xaf",         "\xe2\x82",
                         "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"};
    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        size_t j = 0, bn = strlen(bad[k]);
        CHECK_INT(ustr_next(bad[k], bn, &j), USTR_REPLACEMENT);
        CHECK_INT(j, 1);
        CHECK(!ustr_valid(bad[k], bn));
    }
    /* a truncated sequence at the end of the given length */
    i = 0;
    CHECK_INT(ustr_next("\xe2\x82\xac", 2, &i), USTR_REPLACEMENT);
    CHECK(ustr_valid(s, n));
    CHECK(ustr_valid("\xef\xbf\xbd", 3)); /* a real U+FFFD is fine */
    buf b = BUF_INIT;
    CHECK_INT(ustr_sanitize(&b, "a\xffz\xed\xa0\x80!", 7), 0);
    CHECK_STR(b.data, "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
    CHECK(ustr_valid(b.data, b.len));
    buf_reset(&b);
    CHECK_INT(ustr_sanitize(&b, s, n), 0);
    CHECK_STR(b.data, s);
    buf_release(&b);
    char enc[4];
    CHECK_INT(ustr_encode(0x10FFFF, enc), 4);
    CHECK_INT(ustr_encode(0x7FF, enc), 2);
    CHECK_INT(ustr_length("a\xc3\xa9\xe2\x82\xac", 6), 3);
}

static void test_ifeval_ustr__classes(void)
{
    /* Python's str.isspace(): includes the information separators U+001C..U+001F */
    const uint32_t ws[] = {0x9,  0xA,    0xB,    0xC,    0xD,    0x1C,   0x1F,   0x20,   0x85,
                           0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    for (size_t k = 0; k < ARRAY_LEN(ws); k++) CHECK_MSG(ustr_isspace(ws[k]), "U+%04X", ws[k]);
    const uint32_t not_ws[] = {0x8, 0x1B, 0x200B, 0xFEFF, 0x180E, 'a', 0x21};
    for (size_t k = 0; k < ARRAY_LEN(not_ws); k++) CHECK(!ustr_isspace(not_ws[k]));
    /* \w: letters and numbers of every script, '_'; not combining marks */
    CHECK(ustr_isword('_'));
    CHECK(ustr_isword(0xE9));   /* é */
    CHECK(ustr_isword(0xB2));   /* ² (No) */
    CHECK(ustr_isword(0xBD));   /* ½ */
    CHECK(ustr_isword(0x915));  /* क */
    CHECK(!ustr_isword(0x93F)); /* ि (Mc) */
    CHECK(!ustr_isword(0x94D)); /* ् (Mn) */
    CHECK(!ustr_isword('-'));
    CHECK(ustr_isdecimal(0x967)); /* Devanagari one */
    CHECK(!ustr_isdecimal(0xB2));
    /* case properties */
    CHECK(ustr_islower_cp(0xDF));   /* ß */
    CHECK(ustr_islower_cp(0x24D0)); /* ⓐ, Other_Lowercase */
    CHECK(ustr_islower_cp(0xAA));   /* ª */
    CHECK(ustr_isupper_cp(0x2160)); /* Ⅰ, Other_Uppercase */
    CHECK(ustr_istitle_cp(0x1C5));  /* ǅ */
    CHECK(!ustr_isupper_cp(0x1C5) && !ustr_islower_cp(0x1C5));
}

static void test_ifeval_ustr__strings(void)
{
    CHECK(ustr_isupper("HELLO, WORLD 2", 14));
    CHECK(!ustr_isupper("123", 3));
    CHECK(ustr_isupper("I", 1));
    CHECK(!ustr_isupper("", 0));
    CHECK(!ustr_isupper("NYC's", 5));
    CHECK(ustr_isupper("N'T", 3));
    CHECK(ustr_isupper("U.S.", 4));
    CHECK(!ustr_isupper("\xc7\x85", 2)); /* ǅ is title case */
    CHECK(!ustr_islower("\xc7\x85", 2));
    CHECK(ustr_islower("stra\xc3\x9f"
                       "e 1",
                       9)); /* straße 1 */
    CHECK(!ustr_islower("Hello", 5));
    CHECK(ustr_isupper("\xc3\x9c"
                       "BER",
                       5)); /* ÜBER */

    CHECK_STR(lower("Hello WORLD"), "hello world");
    CHECK_STR(lower("\xc4\xb0"), "i\xcc\x87");                /* İ -> i + U+0307 */
    CHECK_STR(lower("\xce\x91\xce\xa3"), "\xce\xb1\xcf\x82"); /* ΑΣ -> ας */
    CHECK_STR(lower("\xce\x91\xce\xa3 \xce\x92"), "\xce\xb1\xcf\x82 \xce\xb2");
    CHECK_STR(lower("\xce\xa3"), "\xcf\x83");                                 /* lone Σ -> σ */
    CHECK_STR(lower("\xce\x91\xce\xa3\xce\x91"), "\xce\xb1\xcf\x83\xce\xb1"); /* ΑΣΑ -> ασα */
    CHECK_STR(lower("\xce\xa3."), "\xcf\x83.");
    CHECK_STR(lower("\xce\x91\xce\xa3."), "\xce\xb1\xcf\x82.");
    CHECK_STR(lower("\xe2\x84\xaa"), "k");        /* Kelvin sign */
    CHECK_STR(lower("\xe1\xba\x9e"), "\xc3\x9f"); /* ẞ -> ß */
    CHECK_STR(lower(""), "");

    size_t b, e;
    const char *s = "\x1c a b \xe3\x80\x80";
    ustr_strip(s, strlen(s), &b, &e);
    CHECK_INT(b, 2);
    CHECK_INT(e, 5);
    s = "\xe2\x80\x8b a"; /* U+200B is not whitespace */
    ustr_strip(s, strlen(s), &b, &e);
    CHECK_INT(b, 0);
    CHECK(ustr_is_blank(" \t\n\xc2\xa0", 5));
    CHECK(!ustr_is_blank(" x ", 3));
    CHECK(ustr_is_blank("", 0));
    s = "  first\xc2\xa0second";
    CHECK(ustr_first_field(s, strlen(s), &b, &e));
    CHECK_INT(b, 2);
    CHECK_INT(e, 7);
    CHECK(!ustr_first_field("  \n", 3, &b, &e));
}

static void test_ifeval_ustr__words(void)
{
    /* nltk RegexpTokenizer(r"\w+"), SCORING.md 3.3 #8 and 3.5.4 */
    const struct {
        const char *s;
        size_t n;
    } cases[] = {
        {"Don't stop-me now", 5},
        {"3.14", 2},
        {"pi_value", 1},
        {"", 0},
        {"   ", 0},
        {"\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87 "
         "\xe0\xa4\xa6\xe0\xa5\x81\xe0\xa4\xa8\xe0\xa4\xbf\xe0\xa4\xaf\xe0\xa4\xbe",
         5}, /* नमस्ते दुनिया */
        {"caf\xc3\xa9 na\xc3\xafve", 2},
        {"**bold** _under_ #tag", 3},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++)
        CHECK_MSG(ustr_count_words(cases[k].s, strlen(cases[k].s)) == cases[k].n, "%s", cases[k].s);
}

static size_t count(const char *pat, unsigned flags, const char *s)
{
    pyre *re = NULL;
    pyre_scan sc = PYRE_SCAN_INIT;
    err e = ERR_INIT;
    size_t n = (size_t)-1;
    if (pyre_compile(&re, pat, flags, &e) < 0 || pyre_scan_init(&sc, &e) < 0 ||
        pyre_count(re, &sc, s, strlen(s), &n, &e) < 0)
        fprintf(stderr, "%s\n", e.msg);
    pyre_scan_release(&sc);
    pyre_free(re);
    return n;
}

static const char *sub(const char *pat, const char *s, const char *repl)
{
    static buf b = BUF_INIT;
    pyre *re = NULL;
    pyre_scan sc = PYRE_SCAN_INIT;
    err e = ERR_INIT;
    buf_reset(&b);
    if (pyre_compile(&re, pat, 0, &e) < 0 || pyre_scan_init(&sc, &e) < 0 ||
        pyre_sub(re, &sc, s, strlen(s), repl, &b, &e) < 0)
        fprintf(stderr, "%s\n", e.msg);
    pyre_scan_release(&sc);
    pyre_free(re);
    return b.data;
}

static void test_ifeval_ustr__pyre(void)
{
    /* len(re.findall(...)) as Python 3.11 gives it */
    CHECK_INT(count("cat", PYRE_IGNORECASE, "Cat, cats, concatenate."), 3);
    CHECK_INT(count("", 0, "abc"), 4);
    CHECK_INT(count("x*", 0, "abxd"), 5);
    CHECK_INT(count("\\bart\\b", PYRE_IGNORECASE, "start ART, art"), 2);
    CHECK_INT(count("^" PYRE_WS "*-.*$", PYRE_MULTILINE, "- a\n-b\n x\n  - c"), 3);
    CHECK_INT(count("\\w+", 0, "\xc3\xa9t\xc3\xa9 2\xc2\xbd"), 2);
    CHECK_INT(count("a.b", 0, "a\nb a\rb"), 1); /* . excludes only \n */
    CHECK_INT(count("\\s", 0, "\x1c"), 0);      /* PCRE's \s lacks U+001C: PYRE_WS has it */
    CHECK_INT(count(PYRE_WS, 0, "\x1c"), 1);
    /* re.sub with groups; an unset group gives "" */
    CHECK_STR(sub("x*", "abxd", "-"), "-a-b--d-");
    CHECK_STR(sub("(a)|(b)", "ab", "[$1$2]"), "[a][b]");
    CHECK_STR(sub("(\\d+)", "a1b22", "<${1}>$$"), "a<1>$b<22>$");
    pyre *re = NULL;
    err e = ERR_INIT;
    CHECK_INT(pyre_compile(&re, "a(b", 0, &e), ERR_INVALID);
    CHECK(re == NULL);
    CHECK(strstr(e.msg, "a(b") != NULL);
    CHECK_INT(pyre_compile(&re, "\xff", 0, &e), ERR_INVALID); /* bad UTF-8 in a pattern */
    /* a literal pattern: metacharacters are plain characters */
    CHECK_INT(count("C++", PYRE_LITERAL | PYRE_IGNORECASE, "c++ and C++"), 2);
    /* the backtracking limit turns into ERR_LIMIT, not a hang */
    pyre_scan sc = PYRE_SCAN_INIT;
    CHECK_INT(pyre_compile(&re, "(a+)+$", 0, &e), 0);
    CHECK_INT(pyre_scan_init(&sc, &e), 0);
    char s[64];
    memset(s, 'a', 40);
    s[40] = 'b';
    s[41] = 0;
    size_t ms, me;
    CHECK_INT(pyre_search(re, &sc, s, 41, 0, false, &ms, &me, &e), ERR_LIMIT);
    pyre_scan_release(&sc);
    pyre_free(re);
}

int main(void)
{
    RUN(test_ifeval_ustr__decode);
    RUN(test_ifeval_ustr__classes);
    RUN(test_ifeval_ustr__strings);
    RUN(test_ifeval_ustr__words);
    RUN(test_ifeval_ustr__pyre);
    return test_report();
}
