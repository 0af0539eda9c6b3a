/* dataset.c: helpers shared by the loaders. */
#include "dataset.h"

#include <string.h>

#include "common/fileio.h"

void task_options_default(task_options *o)
{
    memset(o, 0, sizeof *o);
    o->shots = -1;
    o->tool_mode = "prompt";
    o->scorer_mode = "compat";
    o->samples = 1;
    o->langdetect_dir = NULL; /* the scorer's default folder */
}

int datasets_locate(const char *data_dir, const char *rel, arena *a, const char **out, err *e)
{
    *out = NULL;
    if (!data_dir || !*data_dir)
        return err_set(e, ERR_NOTFOUND,
                       "%s: no data directory (use --data-dir, TALLY_DATA, or `tally datasets fetch`)",
                       rel);
    char *p = arena_printf(a, "%s%s%s", data_dir,
                           data_dir[strlen(data_dir) - 1] == '/' ? "" : "/", rel);
    if (!p) return err_set(e, ERR_NOMEM, "out of memory");
    if (!file_exists(p))
        return err_set(e, ERR_NOTFOUND,
                       "%s: dataset file not found (looked in %s; run `tally datasets fetch` or "
                       "pass --data-dir)",
                       p, data_dir);
    *out = p;
    return 0;
}
