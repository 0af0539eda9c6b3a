/* runner.c: the registry of runners and the calls that dispatch to them. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

extern const runner_ops replay_runner_ops;
extern const runner_ops openai_runner_ops;
extern const runner_ops native_runner_ops;

/* To add a runner: implement its runner_ops in runners/<name>.c and add a row. */
static const runner_ops *const runners[] = {
    &replay_runner_ops,
    &openai_runner_ops,
    &native_runner_ops,
};

void gen_response_release(gen_response *r)
{
    free(r->text);
    free(r->reasoning);
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        free(r->tool_calls[i].id);
        free(r->tool_calls[i].name);
        free(r->tool_calls[i].arguments);
    }
    free(r->tool_calls);
    free(r->error);
    free(r->rendered_prompt);
    free(r->prompt_tokens_ids);
    memset(r, 0, sizeof *r);
}

void runner_settings_default(runner_settings *s)
{
    memset(s, 0, sizeof *s);
    s->concurrency = 8;
    s->max_retries = 5;
    s->timeout_s = 600;
    s->batch = 1;
    s->n_per_request = 1;
    s->retry_base_s = 0.5;
    s->retry_max_s = 8;
}

const runner_ops *runner_find(const char *name)
{
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++)
        if (strcmp(runners[i]->name, name) == 0) return runners[i];
    return NULL;
}

int runner_open(runner **out, const char *backend, const runner_settings *s, err *e)
{
    *out = NULL;
    const runner_ops *ops = runner_find(backend);
    if (!ops) return err_set(e, ERR_USAGE, "--backend: unknown backend \"%s\"", backend);
    runner *r = calloc(1, sizeof *r);
    if (!r) return err_set(e, ERR_NOMEM, "out of memory");
    r->ops = ops;
    int rc = ops->open(&r->state, s, e);
    if (rc < 0) {
        ops->close(r->state);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int runner_describe(runner *r, cJSON *obj, err *e)
{
    return r->ops->describe ? r->ops->describe(r->state, obj, e) : 0;
}

int runner_generate(runner *r, const gen_request *reqs, size_t n, runner_on_done on_done,
                    void *ctx, err *e)
{
    return r->ops->generate(r->state, reqs, n, on_done, ctx, e);
}

int runner_notes(runner *r, buf *out)
{
    return r->ops->notes ? r->ops->notes(r->state, out) : 0;
}

int runner_default_chat(const char *backend, const runner_settings *s, bool *chat_out, err *e)
{
    const runner_ops *ops = runner_find(backend);
    if (!ops || !ops->default_chat) return 0;
    int rc = ops->default_chat(s, chat_out, e);
    return rc < 0 ? rc : 1;
}

void runner_close(runner *r)
{
    if (!r) return;
    r->ops->close(r->state);
    free(r);
}
