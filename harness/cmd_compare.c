/* cmd_compare.c: `tally compare`: runs side by side, paired tests, CI gates. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "reports/compare.h"
#include "reports/table.h"
#include "runset.h"

typedef struct compare_opts {
    const char *format, *out, *gates, *max_failures, *data_dir;
    double fail_if_worse, alpha;
    int bootstrap, max_ids;
    uint64_t seed;
    bool holm, quiet;
    str_list reference, label;
} compare_opts;

#define O(f) offsetof(compare_opts, f)
static const opt_def compare_opt_defs[] = {
    {"format", OPT_STR, O(format), "md|csv|json|html|junit", "output format (default md)", 0},
    {"out", OPT_STR, O(out), "FILE", "write the table there instead of to standard output", 0},
    {"fail-if-worse", OPT_DOUBLE, O(fail_if_worse), "PTS",
     "exit 3 when a declared metric drops by more than PTS points, significantly", 0},
    {"gates", OPT_STR, O(gates), "FILE.json",
     "per-metric gates: {\"default\": PTS, \"gates\": {\"TASK/METRIC\": PTS}}", 0},
    {"alpha", OPT_DOUBLE, O(alpha), "A", "significance level (default 0.05)", 0},
    {"max-failures", OPT_STR, O(max_failures), "N|F|P%",
     "exit 4 when a run has more instrument failures (count, fraction or percent)", 0},
    {"reference", OPT_LIST, O(reference), "FILE.json",
     "published numbers as an extra column (repeatable)", 0},
    {"label", OPT_LIST, O(label), "NAME",
     "names of the runs, in order (repeatable; default the folder names)", 0},
    {"bootstrap", OPT_INT, O(bootstrap), "N", "paired bootstrap resamples (default 1000; 0 = none)",
     0},
    {"seed", OPT_U64, O(seed), "S", "the bootstrap's seed (default 20250101)", 0},
    {"holm", OPT_BOOL, O(holm), NULL,
     "Holm-adjust p-values over the tested family (default on; --no-holm)", 0},
    {"max-ids", OPT_INT, O(max_ids), "N", "flipped item ids listed per metric (default 20)", 0},
    {"data-dir", OPT_STR, O(data_dir), "DIR",
     "datasets, for aggregates that read items (default $TALLY_DATA)", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no verdict lines on standard error", 0},
    {0},
};
#undef O

static int cmd_compare_main(int argc, char **argv)
{
    compare_opts co = {0};
    co.fail_if_worse = NAN;
    co.alpha = 0.05;
    co.bootstrap = 1000;
    co.seed = 20250101;
    co.holm = true;
    co.max_ids = 20;
    opts_result res;
    err e = ERR_INIT;
    int status = 0;
    cmp_job job = {0};
    buf out = BUF_INIT;
    cmp_settings s;
    cmp_settings_default(&s);
    if (opts_parse(compare_opt_defs, &co, argc, argv, 1, &res, &e) < 0) goto fail;
    int format = cmp_format_from_name(co.format ? co.format : "md");
    if (format < 0) {
        err_set(&e, ERR_USAGE, "--format: \"%s\" is not md, csv, json, html or junit", co.format);
        goto fail;
    }
    if (!res.n_pos) {
        err_set(&e, ERR_USAGE, "no run directory given");
        goto fail;
    }
    if (!(co.alpha > 0 && co.alpha < 1)) {
        err_set(&e, ERR_USAGE, "--alpha: must be between 0 and 1 (got %g)", co.alpha);
        goto fail;
    }
    if (co.bootstrap < 0 || co.max_ids < 0) {
        err_set(&e, ERR_USAGE, "--%s: must not be negative",
                co.bootstrap < 0 ? "bootstrap" : "max-ids");
        goto fail;
    }
    if (!isnan(co.fail_if_worse) && !(co.fail_if_worse >= 0)) {
        err_set(&e, ERR_USAGE, "--fail-if-worse: must be a number of points >= 0");
        goto fail;
    }
    s.alpha = co.alpha;
    s.bootstrap = (size_t)co.bootstrap;
    s.seed = co.seed;
    s.holm = co.holm;
    s.max_ids = (size_t)co.max_ids;
    s.fail_if_worse = co.fail_if_worse;
    if (co.max_failures &&
        runset_parse_max_failures(co.max_failures, &s.max_failures, &s.max_failure_rate, &e) < 0)
        goto fail;
    if (co.gates) {
        double dflt;
        if (runset_load_gates(co.gates, &job.gates_doc, &job.gates, &job.n_gates, &dflt, &e) < 0)
            goto fail;
        s.gates = job.gates;
        s.n_gates = job.n_gates;
        if (isnan(s.fail_if_worse)) s.fail_if_worse = dflt;
    }
    bool gated = s.n_gates || !isnan(s.fail_if_worse);
    if (gated && res.n_pos != 2) {
        err_set(&e, ERR_USAGE, "gates compare exactly two runs (BASELINE CANDIDATE); %zu given",
                res.n_pos);
        goto fail;
    }
    if (co.label.n > res.n_pos) {
        err_set(&e, ERR_USAGE, "--label given %zu times for %zu runs", co.label.n, res.n_pos);
        goto fail;
    }
    job.data_dir = co.data_dir;
    if (cmp_job_run(&job, res.pos, res.n_pos, &co.label, &co.reference, &s, &e) < 0) goto fail;
    if (cmp_render(&job.table, format, &out, &e) < 0) goto fail;
    if (co.out) {
        if (file_write_atomic(co.out, out.data, out.len, &e) < 0) goto fail;
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    status = cmp_verdict(&job.table);
    if (!co.quiet)
        for (size_t i = 0; i < job.table.n_messages; i++)
            fprintf(stderr, "tally compare: %s\n", job.table.messages[i]);
    goto out;
fail:
    status = cmd_fail("compare", &e);
out:
    cmp_job_release(&job);
    buf_release(&out);
    opts_release(&res);
    str_list_release(&co.reference);
    str_list_release(&co.label);
    return status;
}

const command_def cmd_compare_def = {
    .name = "compare",
    .summary = "tables of several runs side by side, with paired tests and CI gates",
    .usage = "tally compare DIR DIR... [--format md|csv|json|html|junit] [--fail-if-worse PTS] "
             "[options]",
    .details =
        "One row per task metric (per-category metrics folded below), a column per run, each\n"
        "score with its 95% interval. For two runs A B: the difference B - A on the items both\n"
        "share, McNemar's exact test for pass/fail metrics and a paired bootstrap otherwise,\n"
        "Holm over the family, the flip table with the ids that flipped, and the smallest\n"
        "difference the data can tell from noise. Settings that differ are listed; runs that\n"
        "measure different things are flagged as not comparable.\n"
        "\n"
        "Exit status: 0 ok; 1 error; 2 usage error; 3 regression (a gated metric dropped by\n"
        "more than its gate and the drop is significant at --alpha); 4 instrument failures\n"
        "(api_error, timeout, truncated) above --max-failures; 5 the gated runs are not\n"
        "comparable. When several apply: 5, then 4, then 3.\n",
    .opts = compare_opt_defs,
    .main = cmd_compare_main,
};
