/* test.h: the tiny assertion header every unit test uses.
 *
 *   static void test_buf__append(void) { ... CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(test_buf__append); return test_report(); }
 *
 * A failed CHECK prints file:line and the expression and marks the case
 * failed; the case goes on (so one run shows every failure). test_report
 * returns the exit status (0 when all passed). TEST_DATA_DIR is the shared
 * datasets folder, from $TALLY_DATA (set by meson), TEST_FIXTURES the fixtures.
 */
#ifndef TALLY_TESTS_TEST_H
#define TALLY_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_;
static int test_checks_;
static int test_cases_;
static const char *test_current_;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        test_checks_++;                                                                     \
        if (!(cond)) {                                                                      \
            test_failures_++;                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,            \
                    test_current_, #cond);                                                  \
        }                                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                \
    do {                                                                                    \
        test_checks_++;                                                                     \
        if (!(cond)) {                                                                      \
            test_failures_++;                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed: ", __FILE__, __LINE__,            \
                    test_current_, #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
        }                                                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        test_checks_++;                                                                     \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                            \
            test_failures_++;                                                               \
            fprintf(stderr, "%s:%d: %s: %s == %s failed:\n  got      \"%s\"\n  expected \"%s\"\n", \
                    __FILE__, __LINE__, test_current_, #a, #b, a_ ? a_ : "(null)",          \
                    b_ ? b_ : "(null)");                                                    \
        }                                                                                   \
    } while (0)

#define CHECK_INT(a, b)                                                                     \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        test_checks_++;                                                                     \
        if (a_ != b_) {                                                                     \
            test_failures_++;                                                               \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: got %lld, expected %lld\n",        \
                    __FILE__, __LINE__, test_current_, #a, #b, a_, b_);                     \
        }                                                                                   \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                               \
    do {                                                                                    \
        double a_ = (double)(a), b_ = (double)(b);                                          \
        test_checks_++;                                                                     \
        if (!(fabs(a_ - b_) <= (tol))) {                                                    \
            test_failures_++;                                                               \
            fprintf(stderr, "%s:%d: %s: %s ~ %s failed: got %.17g, expected %.17g\n",       \
                    __FILE__, __LINE__, test_current_, #a, #b, a_, b_);                     \
        }                                                                                   \
    } while (0)

#define RUN(fn)                                                                             \
    do {                                                                                    \
        int before_ = test_failures_;                                                       \
        test_current_ = #fn;                                                                \
        test_cases_++;                                                                      \
        fn();                                                                               \
        if (getenv("TEST_VERBOSE") || test_failures_ != before_)                            \
            fprintf(stderr, "%s %s\n", test_failures_ == before_ ? "ok  " : "FAIL", #fn);   \
    } while (0)

static inline int test_report(void)
{
    fprintf(stderr, "%d cases, %d checks, %d failed\n", test_cases_, test_checks_,
            test_failures_);
    return test_failures_ ? 1 : 0;
}

/* The shared datasets folder (TALLY_DATA) and fixtures folder (TALLY_FIXTURES). */
static inline const char *test_data_dir(void)
{
    const char *d = getenv("TALLY_DATA");
    return d ? d : "../shared/datasets";
}

static inline const char *test_fixtures_dir(void)
{
    const char *d = getenv("TALLY_FIXTURES");
    return d ? d : "../shared/fixtures";
}

#endif
