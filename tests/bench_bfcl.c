/* bench_bfcl.c: scoring speed of BFCL's single-turn categories (3641 entries).
 *
 * Writes a replay file with one answer per entry in each tool mode (the
 * oracle's answer for half of them, a perturbed one for the rest: a changed
 * value, prose around the call, a fence, positional arguments, a dropped or
 * renamed parameter, a repeated call, broken JSON arguments), then times, five
 * times over: reading the replay file into samples, bfcl_score on all of
 * them, bfcl_aggregate. Loading the dataset is timed apart. Prints figures;
 * asserts nothing about time (meson test --benchmark bfcl --verbose). */
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "datasets/bfcl.h"
#include "scorers/bfcl.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUNS 5

static const char *data_dir(void)
{
    const char *d = getenv("TALLY_DATA");
    return d ? d : "../shared/datasets";
}

/* A perturbed prompt-mode answer (kind 0..6). */
static void perturb_text(buf *o, const char *ref, unsigned kind)
{
    switch (kind) {
    case 0:
        buf_printf(o, "Sure! Here is the call: %s", ref);
        break;
    case 1:
        buf_printf(o, "```python\n%s\n```", ref);
        break;
    case 2: { /* the first name= becomes positional */
        const char *eq = strchr(ref, '='), *open = strchr(ref, '(');
        if (eq && open && open < eq) {
            buf_append(o, ref, (size_t)(open - ref) + 1);
            buf_puts(o, eq + 1);
        } else {
            buf_puts(o, ref);
        }
        break;
    }
    case 3: { /* a digit changes */
        buf_puts(o, ref);
        for (size_t i = 0; i < o->len; i++)
            if (o->data[i] >= '0' && o->data[i] <= '8') {
                o->data[i]++;
                break;
            }
        break;
    }
    case 4: { /* the call twice */
        size_t n = strlen(ref);
        if (n > 2 && ref[0] == '[')
            buf_printf(o, "%.*s, %s", (int)(n - 1), ref, ref + 1);
        else
            buf_puts(o, ref);
        break;
    }
    case 5: { /* a renamed function */
        const char *open = strchr(ref, '(');
        if (open)
            buf_printf(o, "%.*s_v2%s", (int)(open - ref), ref, open);
        else
            buf_puts(o, ref);
        break;
    }
    default: { /* the last argument dropped */
        const char *comma = strrchr(ref, ',');
        if (comma)
            buf_printf(o, "%.*s)]", (int)(comma - ref), ref);
        else
            buf_puts(o, ref);
        break;
    }
    }
}

/* The replay file of one tool mode; returns the number of lines. */
static size_t write_replay(const item_set *set, bool native, const char *path)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = data_dir();
    o.tool_mode = native ? "native" : "prompt";
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    buf line = BUF_INIT, t = BUF_INIT;
    for (size_t i = 0; i < set->n; i++) {
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        prompt p;
        if (bfcl_build(&o, NULL, &set->items[i], &a, &p, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "id", set->items[i].id);
        bool perturb = i % 2 == 1;
        if (!native || !p.reference_tool_calls) {
            buf_reset(&t);
            if (perturb)
                perturb_text(&t, p.reference, (unsigned)(i / 2) % 7);
            else
                buf_puts(&t, p.reference);
            cJSON_AddStringToObject(row, "completion", t.data);
        } else {
            cJSON *tc = cJSON_Parse(p.reference_tool_calls);
            if (perturb) {
                cJSON *args = cJSON_GetObjectItem(cJSON_GetArrayItem(tc, 0), "arguments");
                const char *s = args->valuestring;
                buf_reset(&t);
                if ((i / 2) % 2)
                    buf_append(&t, s, strlen(s) > 2 ? strlen(s) - 2 : 0); /* broken JSON */
                else
                    buf_printf(&t, "{\"unexpected\": 1, %s", s + 1);
                cJSON_SetValuestring(args, t.data);
            }
            cJSON_AddItemToObject(row, "tool_calls", tc);
        }
        char *s = cJSON_PrintUnformatted(row);
        fprintf(f, "%s\n", s);
        cJSON_free(s);
        cJSON_Delete(row);
        arena_release(&a);
    }
    buf_release(&line);
    buf_release(&t);
    fclose(f);
    return set->n;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(void)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = data_dir();
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    item_set set;
    double t0 = time_now_ms();
    if (bfcl_load(&o, NULL, &a, &set, &e) < 0) {
        fprintf(stderr, "bench_bfcl: %s\n", e.msg);
        return 1;
    }
    double load_ms = time_now_ms() - t0;
    printf("bfcl: loaded %zu entries (13 categories, %.1f MiB arena) in %.1f ms\n", set.n,
           (double)arena_high_water(&a) / (1 << 20), load_ms);
    char path[] = "/tmp/tally_bench_bfcl_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    for (int native = 0; native < 2; native++) {
        o.tool_mode = native ? "native" : "prompt";
        size_t n = write_replay(&set, native, path);
        double read_ms[RUNS], score_ms[RUNS], agg_ms[RUNS], total[RUNS];
        size_t outcomes[OUTCOME_COUNT] = {0};
        for (int run = 0; run < RUNS; run++) {
            arena ra = ARENA_INIT;
            double r0 = time_now_ms();
            /* read the replay file into samples */
            buf b = BUF_INIT;
            file_read_all(path, &b, &e);
            sample_view *sv = arena_calloc(&ra, n, sizeof *sv);
            cJSON **docs = calloc(n, sizeof *docs);
            line_iter it = line_iter_start(b.data, b.len);
            const char *l;
            size_t len, k = 0;
            while (line_iter_next(&it, &l, &len) && k < n) {
                docs[k] = cJSON_ParseWithLength(l, len);
                const cJSON *c = cJSON_GetObjectItem(docs[k], "completion");
                sv[k] = (sample_view){.it = &set.items[k],
                                      .completion = cJSON_IsString(c) ? c->valuestring : "",
                                      .tool_calls = cJSON_GetObjectItem(docs[k], "tool_calls"),
                                      .finish_reason = "stop"};
                k++;
            }
            double r1 = time_now_ms();
            score_record *rec = arena_calloc(&ra, n, sizeof *rec);
            score_ctx c = {&o, NULL, &ra, cJSON_CreateObject()};
            if (bfcl_score(&c, sv, n, rec, &e) < 0) {
                fprintf(stderr, "bench_bfcl: %s\n", e.msg);
                return 1;
            }
            double r2 = time_now_ms();
            cJSON *metrics = cJSON_CreateObject();
            bfcl_aggregate(&c, sv, rec, n, metrics, &e);
            double r3 = time_now_ms();
            read_ms[run] = r1 - r0;
            score_ms[run] = r2 - r1;
            agg_ms[run] = r3 - r2;
            total[run] = r3 - r0;
            for (size_t i = 0; i < n; i++) {
                if (run == 0) outcomes[rec[i].outcome]++;
                score_record_release(&rec[i]);
                cJSON_Delete(docs[i]);
            }
            free(docs);
            cJSON_Delete(metrics);
            cJSON_Delete(c.info);
            buf_release(&b);
            arena_release(&ra);
        }
        qsort(read_ms, RUNS, sizeof(double), cmp_double);
        qsort(score_ms, RUNS, sizeof(double), cmp_double);
        qsort(agg_ms, RUNS, sizeof(double), cmp_double);
        qsort(total, RUNS, sizeof(double), cmp_double);
        printf("%s mode, %zu samples (half perturbed): correct %zu, wrong %zu, parse_error %zu\n",
               o.tool_mode, n, outcomes[OUTCOME_CORRECT], outcomes[OUTCOME_WRONG],
               outcomes[OUTCOME_PARSE_ERROR]);
        printf(
            "  median of %d (min..max) ms: read replay %.1f (%.1f..%.1f), score %.1f (%.1f..%.1f), "
            "aggregate %.2f, total %.1f (%.1f..%.1f)\n",
            RUNS, read_ms[RUNS / 2], read_ms[0], read_ms[RUNS - 1], score_ms[RUNS / 2], score_ms[0],
            score_ms[RUNS - 1], agg_ms[RUNS / 2], total[RUNS / 2], total[0], total[RUNS - 1]);
        printf("  %.1f us per sample scored\n", 1000.0 * score_ms[RUNS / 2] / (double)n);
    }
    unlink(path);
    arena_release(&a);
    return 0;
}
