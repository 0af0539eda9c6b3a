/* ifeval.c: IFEval scoring (strict and loose per instruction) and its four metrics. */
#include "ifeval.h"

#include <stdio.h>
#include <string.h>

#include "checkers.h"
#include "common/util.h"
#include "datasets/ifeval.h"
#include "langdetect.h"
#include "scorers/metric.h"
#include "ustr.h"

const char *const ifeval_metric_names[] = {"prompt_strict", "prompt_loose", "inst_strict",
                                           "inst_loose", NULL};

/* ------------------------------------------------------- reasoning blocks */

static size_t skip_ws(const char *t, size_t n, size_t i)
{
    while (i < n) {
        size_t j = i;
        if (!ustr_isspace(ustr_next(t, n, &j))) break;
        i = j;
    }
    return i;
}

int ifeval_strip_think(const char *text, size_t n, buf *out)
{
    static const char open_tag[] = "<think>", close_tag[] = "</think>";
    const size_t ol = sizeof open_tag - 1, cl = sizeof close_tag - 1;
    size_t start = out->len, pos = 0;
    int status = IFEVAL_THINK_NONE;
    const char *o = mem_find(text, n, open_tag, ol);
    const char *c = mem_find(text, n, close_tag, cl);
    if (c && (!o || c < o)) {
        /* the template opened the block: everything up to its end is reasoning */
        pos = skip_ws(text, n, (size_t)(c - text) + cl);
        status = IFEVAL_THINK_REMOVED;
    }
    while (pos < n) {
        o = mem_find(text + pos, n - pos, open_tag, ol);
        size_t upto = o ? (size_t)(o - text) : n;
        if (buf_append(out, text + pos, upto - pos) < 0) return ERR_NOMEM;
        if (!o) break;
        c = mem_find(o + ol, n - (upto + ol), close_tag, cl);
        if (!c) {
            buf_truncate(out, start);
            return IFEVAL_THINK_UNCLOSED;
        }
        pos = skip_ws(text, n, (size_t)(c - text) + cl);
        status = IFEVAL_THINK_REMOVED;
    }
    return status;
}

/* --------------------------------------------------------------- scoring */

static int classify(bool all, const sample_view *s, bool blank)
{
    if (all) return OUTCOME_CORRECT;
    if (s->finish_reason && strcmp(s->finish_reason, "length") == 0) return OUTCOME_TRUNCATED;
    if (blank) return OUTCOME_NO_ANSWER;
    return OUTCOME_WRONG;
}

static void put_info(cJSON *info, const char *key, cJSON *v)
{
    if (!v) return;
    cJSON_DeleteItemFromObjectCaseSensitive(info, key);
    cJSON_AddItemToObject(info, key, v);
}

static cJSON *str_or_null(const char *s)
{
    return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Appends ", id" (or "id") to a list of failed instructions. */
static int list_add(buf *b, const char *id)
{
    return buf_printf(b, "%s%s", b->len ? ", " : "", id);
}

typedef struct sample_result {
    cJSON *fields;
    bool all_strict, all_loose, blank;
    int think;
    buf failed_strict, failed_loose, limited;
} sample_result;

/* Checks every instruction of one answer. */
static int score_answer(ifeval_env *env, const ifeval_record *rec, ifeval_response *resp,
                        sample_result *res, cJSON *instr, cJSON *strict, cJSON *loose, err *e)
{
    for (size_t k = 0; k < rec->n; k++) {
        ifeval_inst in;
        int rc = ifeval_inst_build(env, rec->ids[k], &rec->kwargs[k], rec->prompt, &in, e);
        if (rc < 0) return err_prefix(e, "ifeval key %ld", rec->key);
        ifeval_verdict v;
        rc = ifeval_inst_eval(env, &in, resp, false, &v, e);
        ifeval_inst_release(&in);
        if (rc < 0) return err_prefix(e, "ifeval key %ld, %s", rec->key, rec->ids[k]);
        cJSON_AddItemToArray(instr, cJSON_CreateString(rec->ids[k]));
        cJSON_AddItemToArray(strict, cJSON_CreateBool(v.strict));
        cJSON_AddItemToArray(loose, cJSON_CreateBool(v.loose));
        if ((!v.strict && list_add(&res->failed_strict, rec->ids[k]) < 0) ||
            (!v.loose && list_add(&res->failed_loose, rec->ids[k]) < 0) ||
            (v.limited && list_add(&res->limited, rec->ids[k]) < 0))
            return err_set(e, ERR_NOMEM, "out of memory");
        res->all_strict = res->all_strict && v.strict;
        res->all_loose = res->all_loose && v.loose;
    }
    return 0;
}

static const char *make_reason(arena *a, const sample_result *res, const char *error)
{
    if (error) return arena_strdup(a, error);
    if (res->all_strict && !res->limited.len) return NULL;
    buf b = BUF_INIT;
    if (res->think == IFEVAL_THINK_UNCLOSED)
        buf_puts(&b, "unclosed <think> block, empty answer: ");
    else if (res->blank)
        buf_puts(&b, "empty answer: ");
    if (!res->all_strict) {
        buf_printf(&b, "not followed: %s", res->failed_strict.data);
        if (res->all_loose)
            buf_puts(&b, " (all followed loose)");
        else if (strcmp(res->failed_loose.data, res->failed_strict.data) != 0)
            buf_printf(&b, " (loose: %s)", res->failed_loose.data);
    }
    if (res->limited.len)
        buf_printf(&b, "%sregex backtracking limit hit in %s", res->all_strict ? "" : "; ",
                   res->limited.data);
    const char *r = arena_strdup(a, b.data);
    buf_release(&b);
    return r;
}

int ifeval_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e)
{
    if (!c || !c->a || (n && (!s || !out)))
        return err_set(e, ERR_INVALID, "ifeval_score: missing context or samples");
    const task_options *o = c->o;
    ifeval_settings st;
    ifeval_settings_default(&st);
    if (o) {
        st.mode = ifeval_mode_from_name(o->scorer_mode);
        if (st.mode < 0)
            return err_set(e, ERR_USAGE, "--scorer-mode %s: IFEval knows \"compat\" and \"fixed\"",
                           o->scorer_mode);
        st.data_dir = o->data_dir;
        st.langdetect_dir = o->langdetect_dir;
    }
    for (size_t i = 0; i < n; i++) memset(&out[i], 0, sizeof out[i]);
    ifeval_env *env = NULL;
    int rc = ifeval_env_open(&env, &st, e);
    if (rc < 0) return rc;
    ifeval_response resp = IFEVAL_RESPONSE_INIT;
    buf answer = BUF_INIT;
    sample_result res = {NULL, true, true, false, 0, BUF_INIT, BUF_INIT, BUF_INIT};
    for (size_t i = 0; i < n && rc == 0; i++) {
        const sample_view *sv = &s[i];
        const ifeval_record *rec = sv->it ? sv->it->data : NULL;
        if (!rec) {
            rc = err_set(e, ERR_INVALID, "ifeval_score: sample %zu has no item", i);
            break;
        }
        buf_reset(&res.failed_strict);
        buf_reset(&res.failed_loose);
        buf_reset(&res.limited);
        res.all_strict = res.all_loose = true;
        res.blank = false;
        res.think = IFEVAL_THINK_NONE;
        cJSON *fields = cJSON_CreateObject();
        cJSON *instr = cJSON_AddArrayToObject(fields, "instructions");
        cJSON *strict = cJSON_AddArrayToObject(fields, "strict");
        cJSON *loose = cJSON_AddArrayToObject(fields, "loose");
        cJSON *metrics = cJSON_AddObjectToObject(fields, "metrics");
        if (!fields || !instr || !strict || !loose || !metrics) {
            cJSON_Delete(fields);
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        out[i].fields = fields;
        int fail = score_generation_failure(sv);
        int o_strict, o_loose;
        if (fail >= 0) {
            /* no answer to check: nothing is followed */
            for (size_t k = 0; k < rec->n; k++) {
                cJSON_AddItemToArray(instr, cJSON_CreateString(rec->ids[k]));
                cJSON_AddItemToArray(strict, cJSON_CreateFalse());
                cJSON_AddItemToArray(loose, cJSON_CreateFalse());
            }
            o_strict = o_loose = fail;
            out[i].reason = make_reason(c->a, &res, sv->error ? sv->error : "generation failed");
        } else {
            const char *text = sv->completion ? sv->completion : "";
            buf_reset(&answer);
            res.think = ifeval_strip_think(text, strlen(text), &answer);
            if (res.think < 0 || ifeval_response_set(&resp, answer.data, answer.len, e) < 0) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            res.blank = ustr_is_blank(resp.v[0].data, resp.v[0].len);
            if ((rc = score_answer(env, rec, &resp, &res, instr, strict, loose, e)) < 0) break;
            o_strict = classify(res.all_strict, sv, res.blank);
            o_loose = classify(res.all_loose, sv, res.blank);
            if (res.think != IFEVAL_THINK_NONE)
                cJSON_AddStringToObject(
                    fields, "think", res.think == IFEVAL_THINK_UNCLOSED ? "unclosed" : "removed");
            out[i].reason = make_reason(c->a, &res, NULL);
        }
        cJSON_AddStringToObject(metrics, "prompt_strict", outcome_name(o_strict));
        cJSON_AddStringToObject(metrics, "prompt_loose", outcome_name(o_loose));
        out[i].outcome = o_strict;
        out[i].score = o_strict == OUTCOME_CORRECT ? 1.0 : 0.0;
    }
    if (rc == 0 && c->info) {
        put_info(c->info, "ifeval_think",
                 cJSON_CreateString("<think>...</think> blocks removed before checking; an "
                                    "unclosed one leaves an empty answer"));
        put_info(c->info, "ifeval_punkt_tables", str_or_null(ifeval_env_punkt_dir(env)));
        cJSON *ld = cJSON_CreateObject();
        if (ld) {
            cJSON_AddItemToObject(ld, "profiles", str_or_null(ifeval_env_langdetect_dir(env)));
            cJSON_AddNumberToObject(ld, "seed", st.langdetect_seed);
        }
        put_info(c->info, "ifeval_langdetect", ld);
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++) score_record_release(&out[i]);
    buf_release(&res.failed_strict);
    buf_release(&res.failed_loose);
    buf_release(&res.limited);
    buf_release(&answer);
    ifeval_response_release(&resp);
    ifeval_env_close(env);
    return rc;
}

/* ----------------------------------------------------------- aggregation */

#define MAX_IDS 64

typedef struct tally {
    size_t strict, loose, total;
} tally;

int ifeval_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                     cJSON *metrics, err *e)
{
    (void)c;
    tally prompts = {0, 0, 0}, insts = {0, 0, 0}, per_id[MAX_IDS], per_cat[MAX_IDS];
    const char *cats[MAX_IDS];
    size_t n_ids = 0, n_cats = 0, cat_of[MAX_IDS];
    memset(per_id, 0, sizeof per_id);
    memset(per_cat, 0, sizeof per_cat);
    for (const ifeval_checker *d; (d = ifeval_checker_at(n_ids)) && n_ids < MAX_IDS; n_ids++) {
        size_t k = 0;
        while (k < n_cats && strcmp(cats[k], d->category) != 0) k++;
        if (k == n_cats) cats[n_cats++] = d->category;
        cat_of[n_ids] = k;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *f = r[i].fields;
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(f, "instructions");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(f, "strict");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(f, "loose");
        const ifeval_record *rec = s && s[i].it ? s[i].it->data : NULL;
        size_t k_n;
        if (cJSON_IsArray(ids) && cJSON_IsArray(st) && cJSON_IsArray(lo) &&
            cJSON_GetArraySize(ids) == cJSON_GetArraySize(st) &&
            cJSON_GetArraySize(ids) == cJSON_GetArraySize(lo)) {
            k_n = (size_t)cJSON_GetArraySize(ids);
        } else if (rec) {
            /* a record without verdicts (not scored): none followed */
            ids = st = lo = NULL;
            k_n = rec->n;
        } else {
            return err_set(e, ERR_INVALID, "ifeval_aggregate: record %zu has no verdicts", i);
        }
        bool all_s = true, all_l = true;
        for (size_t k = 0; k < k_n; k++) {
            const cJSON *idj = ids ? cJSON_GetArrayItem(ids, (int)k) : NULL;
            const char *id = ids ? (cJSON_IsString(idj) ? idj->valuestring : NULL) : rec->ids[k];
            bool vs = st && cJSON_IsTrue(cJSON_GetArrayItem(st, (int)k));
            bool vl = lo && cJSON_IsTrue(cJSON_GetArrayItem(lo, (int)k));
            all_s = all_s && vs;
            all_l = all_l && vl;
            insts.total++, insts.strict += vs, insts.loose += vl;
            for (size_t d = 0; id && d < n_ids; d++) {
                if (strcmp(ifeval_checker_at(d)->id, id) != 0) continue;
                per_id[d].total++, per_id[d].strict += vs, per_id[d].loose += vl;
                tally *t = &per_cat[cat_of[d]];
                t->total++, t->strict += vs, t->loose += vl;
                break;
            }
        }
        prompts.total++, prompts.strict += all_s, prompts.loose += all_l;
    }
    int rc = 0;
    rc |= metric_put(metrics, "prompt_strict", metric_proportion(prompts.strict, prompts.total));
    rc |= metric_put(metrics, "prompt_loose", metric_proportion(prompts.loose, prompts.total));
    rc |= metric_put(metrics, "inst_strict", metric_proportion(insts.strict, insts.total));
    rc |= metric_put(metrics, "inst_loose", metric_proportion(insts.loose, insts.total));
    char name[200];
    for (size_t d = 0; d < n_ids; d++) {
        if (!per_id[d].total) continue;
        const char *id = ifeval_checker_at(d)->id;
        snprintf(name, sizeof name, "inst_strict/%s", id);
        rc |= metric_put(metrics, name, metric_proportion(per_id[d].strict, per_id[d].total));
        snprintf(name, sizeof name, "inst_loose/%s", id);
        rc |= metric_put(metrics, name, metric_proportion(per_id[d].loose, per_id[d].total));
    }
    for (size_t k = 0; k < n_cats; k++) {
        if (!per_cat[k].total) continue;
        snprintf(name, sizeof name, "category_strict/%s", cats[k]);
        rc |= metric_put(metrics, name, metric_proportion(per_cat[k].strict, per_cat[k].total));
        snprintf(name, sizeof name, "category_loose/%s", cats[k]);
        rc |= metric_put(metrics, name, metric_proportion(per_cat[k].loose, per_cat[k].total));
    }
    if (rc) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}
