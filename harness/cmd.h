/* cmd.h: the subcommands. Each harness/cmd_<name>.c owns its options and
 * usage and exports one command_def; main.c holds the table. A row with a
 * NULL `main` is a command that is not built yet: it says so and exits 2.
 */
#ifndef TALLY_HARNESS_CMD_H
#define TALLY_HARNESS_CMD_H

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "opts.h"

typedef struct command_def {
    const char *name;
    const char *summary; /* one line for `tally help` */
    const char *usage;   /* usage lines, each starting "tally <name>" */
    const char *details; /* extra help text after the options, or NULL */
    const opt_def *opts; /* the option table, or NULL */
    int (*main)(int argc, char **argv); /* argv[0] is the command name; returns the exit status */
} command_def;

extern const command_def cmd_run_def;
extern const command_def cmd_score_def;
extern const command_def cmd_datasets_def;
extern const command_def cmd_compare_def;
extern const command_def cmd_report_def;
extern const command_def cmd_diff_def;
extern const command_def cmd_tokenize_def;
extern const command_def cmd_generate_def;
extern const command_def cmd_logits_def;
extern const command_def cmd_bench_def;
extern const command_def cmd_synth_def;
extern const command_def cmd_quantdiff_def;

/* Prints "tally <cmd>: <message>" to stderr and returns the exit status for
 * the error: 2 for usage errors, 1 otherwise. */
int cmd_fail(const char *cmd, const err *e);
/* Prints the usage of a command (usage lines, options, details). */
void cmd_print_help(FILE *f, const command_def *c);
/* The list of commands, for `tally help`. */
void cmd_print_overview(FILE *f);
/* The row for a name, or NULL. */
const command_def *cmd_find(const char *name);

/* The datasets directory: `opt` (--data-dir) when given, else $TALLY_DATA,
 * else $XDG_CACHE_HOME/tally/datasets, else ~/.cache/tally/datasets. */
const char *cmd_data_dir(const char *opt, arena *a);
/* The cache of derived data: `opt` when given, else $XDG_CACHE_HOME/tally or ~/.cache/tally. */
const char *cmd_cache_dir(const char *opt, arena *a);

/* The text a command works on: the contents of `file` when it is given, else
 * `text` (NULL reads as ""), appended to `out`. 0 or a negative ERR_* with `e` set. */
int cmd_read_text(const char *file, const char *text, buf *out, err *e);

/* Set by SIGINT/SIGTERM (the one mutable global: a signal handler can reach nothing else). */
extern volatile int cmd_interrupted;
void cmd_install_signal_handlers(void);

#endif
