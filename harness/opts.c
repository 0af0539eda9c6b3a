/* opts.c: parsing argv against an option table. */
#include "opts.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void str_list_release(str_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void opts_release(opts_result *res)
{
    free(res->pos);
    res->pos = NULL;
    res->n_pos = 0;
}

static const opt_def *find_def(const opt_def *defs, const char *name, size_t len, size_t *idx)
{
    for (size_t i = 0; defs[i].name; i++) {
        if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0) {
            *idx = i;
            return &defs[i];
        }
    }
    return NULL;
}

static int set_value(const opt_def *d, void *target, const char *val, err *e)
{
    char *slot = (char *)target + d->offset;
    char *end = NULL;
    errno = 0;
    switch (d->type) {
    case OPT_INT: {
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < INT_MIN || v > INT_MAX)
            return err_set(e, ERR_USAGE, "--%s: \"%s\" is not an integer", d->name, val);
        *(int *)slot = (int)v;
        return 0;
    }
    case OPT_U64: {
        if (val[0] == '-')
            return err_set(e, ERR_USAGE, "--%s: \"%s\" is not a non-negative integer", d->name, val);
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || end == val || *end)
            return err_set(e, ERR_USAGE, "--%s: \"%s\" is not a non-negative integer", d->name, val);
        *(uint64_t *)slot = (uint64_t)v;
        return 0;
    }
    case OPT_DOUBLE: {
        double v = strtod(val, &end);
        if (errno || end == val || *end)
            return err_set(e, ERR_USAGE, "--%s: \"%s\" is not a number", d->name, val);
        *(double *)slot = v;
        return 0;
    }
    case OPT_STR:
        *(const char **)slot = val;
        return 0;
    case OPT_LIST: {
        str_list *l = (str_list *)slot;
        const char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
        if (!nv) return err_set(e, ERR_NOMEM, "out of memory");
        nv[l->n++] = val;
        l->v = nv;
        return 0;
    }
    }
    return err_set(e, ERR_INTERNAL, "--%s: bad option type", d->name);
}

int opts_parse(const opt_def *defs, void *target, int argc, char **argv, int start,
               opts_result *res, err *e)
{
    memset(res, 0, sizeof *res);
    bool only_pos = false;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || strncmp(a, "--", 2) != 0 || strcmp(a, "-") == 0) {
            if (!only_pos && a[0] == '-' && a[1] && strcmp(a, "-") != 0 && strncmp(a, "--", 2) != 0)
                return err_set(e, ERR_USAGE, "unknown option \"%s\" (options start with --)", a);
            const char **np = realloc(res->pos, (res->n_pos + 1) * sizeof *np);
            if (!np) return err_set(e, ERR_NOMEM, "out of memory");
            res->pos = np;
            res->pos[res->n_pos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        size_t idx = 0;
        const opt_def *d = find_def(defs, name, len, &idx);
        bool negated = false;
        if (!d && len > 3 && strncmp(name, "no-", 3) == 0) {
            d = find_def(defs, name + 3, len - 3, &idx);
            if (d && d->type != OPT_BOOL) d = NULL;
            negated = d != NULL;
        }
        if (!d) return err_set(e, ERR_USAGE, "unknown option \"--%.*s\"", (int)len, name);
        if (idx < OPTS_MAX) res->seen[idx] = true;
        if (d->type == OPT_BOOL) {
            if (eq) {
                const char *v = eq + 1;
                bool b;
                if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) b = true;
                else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) b = false;
                else return err_set(e, ERR_USAGE, "--%s: \"%s\" is not true or false", d->name, v);
                *(bool *)((char *)target + d->offset) = negated ? !b : b;
            } else {
                *(bool *)((char *)target + d->offset) = !negated;
            }
            continue;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return err_set(e, ERR_USAGE, "--%s needs a value (%s)", d->name,
                               d->metavar ? d->metavar : "VALUE");
            val = argv[++i];
        }
        int rc = set_value(d, target, val, e);
        if (rc < 0) return rc;
    }
    return 0;
}

bool opts_seen(const opt_def *defs, const opts_result *res, const char *name)
{
    for (size_t i = 0; defs[i].name && i < OPTS_MAX; i++)
        if (strcmp(defs[i].name, name) == 0) return res->seen[i];
    return false;
}

void opts_print_help(FILE *f, const opt_def *defs)
{
    for (size_t i = 0; defs[i].name; i++) {
        const opt_def *d = &defs[i];
        if (d->flags & OPT_HIDDEN) continue;
        char left[64];
        if (d->metavar) snprintf(left, sizeof left, "--%s %s", d->name, d->metavar);
        else snprintf(left, sizeof left, "--%s", d->name);
        fprintf(f, "  %-26s %s\n", left, d->help);
    }
}
