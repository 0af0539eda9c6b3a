/* rundir.c: manifest, samples.jsonl with resume, results. */
#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/json.h"

int rundir_open(rundir *d, const char *path, err *e)
{
    int rc = dir_create(path, e);
    if (rc < 0) return rc;
    d->path = strdup(path);
    buf p = BUF_INIT;
    path_join(&p, path, "samples.jsonl");
    d->samples_path = strdup(p.data);
    path_join(&p, path, ".lock");
    d->lock_fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    buf_release(&p);
    if (!d->path || !d->samples_path) return err_set(e, ERR_NOMEM, "out of memory");
    if (d->lock_fd < 0) return err_errno(e, "%s: cannot create the lock file", path);
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return err_set(e, ERR_IO, "%s: another tally process is writing this run directory",
                           path);
        return err_errno(e, "%s: cannot lock", path);
    }
    return 0;
}

void rundir_close(rundir *d)
{
    if (d->samples_fd >= 0) close(d->samples_fd);
    if (d->lock_fd >= 0) close(d->lock_fd); /* releases the flock */
    free(d->path);
    free(d->samples_path);
    *d = (rundir)RUNDIR_INIT;
}

int rundir_file(const rundir *d, const char *name, buf *out)
{
    return path_join(out, d->path, name);
}

int rundir_read_manifest(const rundir *d, cJSON **out, err *e)
{
    *out = NULL;
    buf p = BUF_INIT;
    rundir_file(d, "manifest.json", &p);
    int rc = 0;
    if (file_exists(p.data)) rc = json_parse_file(p.data, out, e);
    if (rc == 0 && *out && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        rc = err_set(e, ERR_PARSE, "%s: not a JSON object", p.data);
    }
    buf_release(&p);
    return rc;
}

int rundir_write_json(const rundir *d, const char *name, const cJSON *v, err *e)
{
    buf p = BUF_INIT;
    rundir_file(d, name, &p);
    int rc = json_write_file(p.data, v, true, e);
    buf_release(&p);
    return rc;
}

static void value_text(const cJSON *v, char *out, size_t n)
{
    if (!v) {
        snprintf(out, n, "(not set)");
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    snprintf(out, n, "%s", s ? s : "?");
    cJSON_free(s);
}

int rundir_compare_field(const rundir *d, const char *label, const cJSON *a, const cJSON *b, err *e)
{
    if (!a && !b) return 0;
    if (a && b && cJSON_Compare(a, b, true)) return 0;
    char va[200], vb[200];
    value_text(a, va, sizeof va);
    value_text(b, vb, sizeof vb);
    return err_set(e, ERR_MISMATCH,
                   "%s: %s is %s here but %s in %s/manifest.json; resume with the same settings "
                   "or use another --out",
                   d->path, label, vb, va, d->path);
}

int rundir_check_resume(const rundir *d, const cJSON *old, const cJSON *now, err *e)
{
    int rc;
    if ((rc = rundir_compare_field(d, "the task", json_at(old, "task", NULL),
                                   json_at(now, "task", NULL), e)))
        return rc;
    if ((rc = rundir_compare_field(d, "the dataset's sha256", json_at(old, "dataset", "sha256"),
                                   json_at(now, "dataset", "sha256"), e)))
        return rc;
    if ((rc = rundir_compare_field(d, "--backend", json_at(old, "runner", "backend"),
                                   json_at(now, "runner", "backend"), e)))
        return rc;
    if ((rc = rundir_compare_field(d, "--model", json_at(old, "runner", "model"),
                                   json_at(now, "runner", "model"), e)))
        return rc;
    if ((rc = rundir_compare_field(d, "the model file's sha256", json_at(old, "runner", "sha256"),
                                   json_at(now, "runner", "sha256"), e)))
        return rc;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(old, "settings");
    const cJSON *sn = cJSON_GetObjectItemCaseSensitive(now, "settings");
    const cJSON *it;
    char label[128];
    cJSON_ArrayForEach(it, sn)
    {
        snprintf(label, sizeof label, "setting \"%s\"", it->string);
        if ((rc = rundir_compare_field(d, label, cJSON_GetObjectItemCaseSensitive(so, it->string),
                                       it, e)))
            return rc;
    }
    cJSON_ArrayForEach(it, so)
    {
        if (cJSON_GetObjectItemCaseSensitive(sn, it->string)) continue;
        snprintf(label, sizeof label, "setting \"%s\"", it->string);
        if ((rc = rundir_compare_field(d, label, it, NULL, e))) return rc;
    }
    return 0;
}

/* ---- samples.jsonl ---- */

static int key_of(const cJSON *doc, char *out, size_t n)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    const cJSON *sm = cJSON_GetObjectItemCaseSensitive(doc, "sample");
    if (!cJSON_IsString(id) || !cJSON_IsNumber(sm)) return -1;
    int k = snprintf(out, n, "%s\x1f%d", id->valuestring, sm->valueint);
    return k > 0 && (size_t)k < n ? k : -1;
}

int samples_add(sample_store *st, cJSON *doc, err *e)
{
    char key[4200];
    int kl = key_of(doc, key, sizeof key);
    if (kl < 0) {
        cJSON_Delete(doc);
        return err_set(e, ERR_PARSE, "samples.jsonl: a line without \"id\"/\"sample\"");
    }
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 1024;
        cJSON **nd = realloc(st->docs, nc * sizeof *nd);
        if (!nd) {
            cJSON_Delete(doc);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        st->docs = nd;
        st->cap = nc;
    }
    size_t prev;
    if (strmap_get(&st->index, key, (size_t)kl, &prev)) {
        cJSON_Delete(st->docs[prev]);
        st->docs[prev] = NULL;
        st->superseded++;
    }
    st->docs[st->n] = doc;
    if (strmap_put(&st->index, key, (size_t)kl, st->n) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    st->n++;
    return 0;
}

int samples_load(const char *path, sample_store *st, err *e)
{
    buf data = BUF_INIT;
    if (!file_exists(path)) return 0;
    int ret = file_read_all(path, &data, e);
    if (ret < 0) goto out;
    line_iter it = line_iter_start(data.data, data.len);
    const char *line;
    size_t len;
    while (line_iter_next(&it, &line, &len)) {
        bool last = it.p >= it.end;
        char where[1200];
        snprintf(where, sizeof where, "%s:%zu", path, it.lineno);
        if (len == 0) continue;
        cJSON *doc = NULL;
        if (last && it.last_unterminated) {
            /* a line without its newline was torn by a crash, even if it parses */
            st->torn = true;
            break;
        }
        ret = json_parse(line, len, where, &doc, e);
        if (ret < 0) {
            if (last) {
                st->torn = true;
                err_clear(e);
                ret = 0;
                break;
            }
            err_prefix(e, "a malformed line in the middle of samples.jsonl (not a crash; fix or "
                          "remove it)");
            goto out;
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
        const cJSON *sm = cJSON_GetObjectItemCaseSensitive(doc, "sample");
        if (!cJSON_IsString(id) || !cJSON_IsNumber(sm)) {
            cJSON_Delete(doc);
            ret = err_set(e, ERR_PARSE, "%s: the line has no \"id\" string and \"sample\" number",
                          where);
            goto out;
        }
        if ((ret = samples_add(st, doc, e)) < 0) goto out;
    }
out:
    buf_release(&data);
    return ret;
}

const cJSON *samples_get(const sample_store *st, const char *id, int sample)
{
    char key[4200];
    int kl = snprintf(key, sizeof key, "%s\x1f%d", id, sample);
    size_t v;
    if (kl < 0 || (size_t)kl >= sizeof key || !strmap_get(&st->index, key, (size_t)kl, &v))
        return NULL;
    return st->docs[v];
}

bool sample_has_error(const cJSON *doc)
{
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(doc, "error");
    return er && !cJSON_IsNull(er);
}

int samples_compact(const char *path, sample_store *st, bool drop_errors, err *e)
{
    buf out = BUF_INIT;
    int ret = 0;
    sample_store kept = SAMPLE_STORE_INIT;
    for (size_t i = 0; i < st->n; i++) {
        cJSON *doc = st->docs[i];
        if (!doc) continue;
        st->docs[i] = NULL;
        if (drop_errors && sample_has_error(doc)) {
            cJSON_Delete(doc);
            continue;
        }
        char *s = cJSON_PrintUnformatted(doc);
        if (!s || buf_puts(&out, s) < 0 || buf_putc(&out, '\n') < 0) {
            cJSON_free(s);
            cJSON_Delete(doc);
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        cJSON_free(s);
        if ((ret = samples_add(&kept, doc, e)) < 0) goto out;
    }
    ret = file_write_atomic(path, out.data, out.len, e);
out:
    samples_release(st);
    *st = kept;
    buf_release(&out);
    return ret;
}

void samples_release(sample_store *st)
{
    for (size_t i = 0; i < st->n; i++) cJSON_Delete(st->docs[i]);
    free(st->docs);
    strmap_release(&st->index);
    *st = (sample_store)SAMPLE_STORE_INIT;
}

static int put_str(buf *b, const char *key, const char *v)
{
    int rc = buf_printf(b, ",\"%s\":", key);
    if (!rc) rc = json_append_str(b, v, strlen(v));
    return rc;
}

int samples_format_line(buf *out, const gen_request *q, const gen_response *r,
                        const char *prompt_sha256, const char *completion)
{
    int rc = buf_puts(out, "{\"id\":");
    if (!rc) rc = json_append_str(out, q->item_id, strlen(q->item_id));
    if (!rc) rc = buf_printf(out, ",\"sample\":%d", q->sample);
    if (!rc && prompt_sha256) rc = put_str(out, "prompt_sha256", prompt_sha256);
    if (!rc) rc = put_str(out, "completion", completion ? completion : "");
    if (!rc && r->n_tool_calls) {
        rc = buf_puts(out, ",\"tool_calls\":[");
        for (size_t i = 0; i < r->n_tool_calls && !rc; i++) {
            const gen_tool_call *t = &r->tool_calls[i];
            rc = buf_puts(out, i ? ",{" : "{");
            if (!rc && t->id) {
                rc = buf_puts(out, "\"id\":");
                if (!rc) rc = json_append_str(out, t->id, strlen(t->id));
                if (!rc) rc = buf_putc(out, ',');
            }
            if (!rc) rc = buf_puts(out, "\"name\":");
            if (!rc) rc = json_append_str(out, t->name ? t->name : "", t->name ? strlen(t->name) : 0);
            if (!rc) rc = buf_puts(out, ",\"arguments\":");
            if (!rc)
                rc = json_append_str(out, t->arguments ? t->arguments : "",
                                     t->arguments ? strlen(t->arguments) : 0);
            if (!rc) rc = buf_putc(out, '}');
        }
        if (!rc) rc = buf_putc(out, ']');
    }
    if (!rc && r->reasoning) rc = put_str(out, "reasoning", r->reasoning);
    if (!rc) rc = put_str(out, "finish_reason", r->finish_reason ? r->finish_reason : "stop");
    if (!rc && r->prompt_tokens >= 0) rc = buf_printf(out, ",\"prompt_tokens\":%d", r->prompt_tokens);
    if (!rc && r->completion_tokens >= 0)
        rc = buf_printf(out, ",\"completion_tokens\":%d", r->completion_tokens);
    if (!rc) rc = buf_printf(out, ",\"latency_ms\":%.3f", isfinite(r->latency_ms) ? r->latency_ms : 0);
    if (!rc) rc = buf_printf(out, ",\"attempts\":%d", r->attempts);
    if (!rc && r->error) {
        rc = put_str(out, "error", r->error);
        if (!rc) rc = buf_printf(out, ",\"error_kind\":%d", r->error_kind ? r->error_kind : 1);
    }
    if (!rc && r->rendered_prompt) rc = put_str(out, "prompt", r->rendered_prompt);
    if (!rc && r->prompt_tokens_ids) rc = buf_printf(out, ",\"prompt_token_ids\":%s", r->prompt_tokens_ids);
    if (!rc) rc = buf_puts(out, "}\n");
    return rc;
}

int rundir_samples_open(rundir *d, err *e)
{
    if (d->samples_fd >= 0) return 0;
    int fd = file_open_append(d->samples_path, e);
    if (fd < 0) return fd;
    d->samples_fd = fd;
    return 0;
}

int rundir_samples_append(rundir *d, const buf *line, err *e)
{
    return file_append(d->samples_fd, line->data, line->len, d->samples_path, e);
}
