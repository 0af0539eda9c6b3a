/* score.c: outcomes and the records every scorer fills. */
#include "score.h"

#include <string.h>

static const char *const outcome_names[OUTCOME_COUNT] = {
    [OUTCOME_CORRECT] = "correct",     [OUTCOME_WRONG] = "wrong",
    [OUTCOME_NO_ANSWER] = "no_answer", [OUTCOME_TRUNCATED] = "truncated",
    [OUTCOME_TIMEOUT] = "timeout",     [OUTCOME_KILLED] = "killed",
    [OUTCOME_API_ERROR] = "api_error", [OUTCOME_PARSE_ERROR] = "parse_error",
};

const char *outcome_name(int o)
{
    if (o < 0 || o >= OUTCOME_COUNT) return "invalid";
    return outcome_names[o];
}

int outcome_from_name(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < OUTCOME_COUNT; i++)
        if (strcmp(s, outcome_names[i]) == 0) return i;
    return -1;
}

bool outcome_is_instrument_failure(int o)
{
    return o == OUTCOME_API_ERROR || o == OUTCOME_TIMEOUT || o == OUTCOME_TRUNCATED;
}

void score_record_release(score_record *r)
{
    if (r->fields) cJSON_Delete(r->fields);
    r->fields = NULL;
}

int score_generation_failure(const sample_view *s)
{
    if (!s->error && s->error_kind == SAMPLE_OK) return -1;
    if (s->error_kind == SAMPLE_ERR_TIMEOUT) return OUTCOME_TIMEOUT;
    return OUTCOME_API_ERROR;
}
