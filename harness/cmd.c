/* cmd.c: the table of subcommands, help, and what every command shares. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/fileio.h"
#include "version.h"

static int cmd_help_main(int argc, char **argv);

static const command_def cmd_help_def = {
    .name = "help",
    .summary = "show the commands, or the options of one command",
    .usage = "tally help [COMMAND]",
    .main = cmd_help_main,
};

/* Commands in the order `tally help` lists them. A row without `main` is
 * planned but not built: it answers with one line and exit status 2. To add
 * a command, write harness/cmd_<name>.c exporting its command_def and put it here. */
static const command_def *const commands[] = {
    &cmd_run_def,
    &cmd_score_def,
    &cmd_compare_def,
    &cmd_report_def,
    &cmd_diff_def,
    &cmd_quantdiff_def,
    &cmd_bench_def,
    &cmd_generate_def,
    &cmd_tokenize_def,
    &cmd_logits_def,
    &cmd_synth_def,
    &cmd_datasets_def,
    &cmd_help_def,
};

volatile int cmd_interrupted;

static void on_signal(int sig)
{
    cmd_interrupted = sig;
}

void cmd_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char *cache_root(arena *a)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg) return arena_printf(a, "%s/tally", xdg);
    const char *home = getenv("HOME");
    return arena_printf(a, "%s/.cache/tally", home && *home ? home : ".");
}

const char *cmd_data_dir(const char *opt, arena *a)
{
    if (opt) return opt;
    const char *d = getenv("TALLY_DATA");
    if (d && *d) return d;
    return arena_printf(a, "%s/datasets", cache_root(a));
}

const char *cmd_cache_dir(const char *opt, arena *a)
{
    return opt ? opt : cache_root(a);
}

int cmd_read_text(const char *file, const char *text, buf *out, err *e)
{
    if (file) return file_read_all(file, out, e);
    int rc = buf_puts(out, text ? text : "");
    return rc < 0 ? err_set(e, rc, "out of memory") : 0;
}

const command_def *cmd_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

int cmd_fail(const char *cmd, const err *e)
{
    fprintf(stderr, "tally %s: %s\n", cmd, e->msg[0] ? e->msg : err_code_name(e->code));
    if (e->code == ERR_USAGE) {
        fprintf(stderr, "Try 'tally help %s'.\n", cmd);
        return 2;
    }
    return 1;
}

void cmd_print_help(FILE *f, const command_def *c)
{
    fprintf(f, "usage: %s\n\n%s.\n", c->usage ? c->usage : c->name, c->summary);
    if (c->opts) {
        fprintf(f, "\noptions:\n");
        opts_print_help(f, c->opts);
    }
    if (c->details) fprintf(f, "\n%s", c->details);
}

void cmd_print_overview(FILE *f)
{
    fprintf(f, "usage: tally <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s%s\n", commands[i]->name, commands[i]->summary,
                commands[i]->main ? "" : " (not built yet)");
    fprintf(f, "\n'tally help COMMAND' shows a command's options. 'tally --version' prints the "
               "version.\n");
}

static int cmd_help_main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_print_overview(stdout);
        return 0;
    }
    const command_def *c = cmd_find(argv[1]);
    if (!c) {
        fprintf(stderr, "tally help: unknown command \"%s\"\n", argv[1]);
        return 2;
    }
    if (!c->main) {
        printf("tally %s: %s; not built yet.\n", c->name, c->summary);
        return 0;
    }
    cmd_print_help(stdout, c);
    return 0;
}

