/* main.c: the dispatcher: finds the command and runs it. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "version.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_print_overview(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("tally %s\n", TALLY_VERSION);
        return 0;
    }
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
    const command_def *c = cmd_find(name);
    if (!c) {
        fprintf(stderr, "tally: unknown command \"%s\"; 'tally help' lists the commands\n", name);
        return 2;
    }
    if (!c->main) {
        fprintf(stderr, "tally %s: not built yet\n", c->name);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cmd_print_help(stdout, c);
            return 0;
        }
        if (!strcmp(argv[i], "--")) break;
    }
    int status = c->main(argc - 1, argv + 1);
    /* a full disk or a closed pipe must not pass silently */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tally %s: error writing to standard output\n", c->name);
        if (status == 0) status = 1;
    }
    return status;
}
