/* fake_server.h: starts and stops tests/fake_openai.c for a test, and reads its request log.
 *
 *   fake_server f;
 *   if (fake_server_start(&f, (const char *[]){"--delay-ms", "5", NULL}) < 0) ...
 *   ... http://127.0.0.1:<f.port>/v1 ...
 *   cJSON *log = fake_server_log(&f);   // array of the logged requests; caller deletes
 *   fake_server_stop(&f);
 *
 * The server's stdin is a pipe held here: stopping closes it, and a test
 * that dies takes its server with it. The binary is $TALLY_FAKE_OPENAI.
 */
#ifndef TALLY_TESTS_FAKE_SERVER_H
#define TALLY_TESTS_FAKE_SERVER_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"

typedef struct fake_server {
    pid_t pid;
    int stdin_fd;
    int port;
    char dir[64];
    char log_path[128];
    char base_url[64];
} fake_server;

/* Starts the server with extra arguments (NULL-terminated, may be NULL);
 * `log` = false leaves the request log off (benchmarks). */
static inline int fake_server_start_log(fake_server *f, const char *const *args, bool log)
{
    memset(f, 0, sizeof *f);
    f->pid = -1;
    f->stdin_fd = -1;
    const char *bin = getenv("TALLY_FAKE_OPENAI");
    if (!bin) {
        fprintf(stderr, "TALLY_FAKE_OPENAI is not set\n");
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/tally-fake-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->log_path, sizeof f->log_path, "%s/requests.jsonl", f->dir);
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0) return -1;
    const char *argv[64];
    size_t n = 0;
    argv[n++] = bin;
    if (log) {
        argv[n++] = "--log";
        argv[n++] = f->log_path;
    }
    for (size_t i = 0; args && args[i] && n < 62; i++) argv[n++] = args[i];
    argv[n] = NULL;
    f->pid = fork();
    if (f->pid < 0) return -1;
    if (f->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->stdin_fd = in[1];
    char line[32];
    size_t k = 0;
    while (k + 1 < sizeof line) {
        ssize_t r = read(out[0], line + k, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || line[k] == '\n') break;
        k++;
    }
    line[k] = 0;
    close(out[0]);
    f->port = atoi(line);
    if (f->port <= 0) {
        fprintf(stderr, "fake_openai did not start\n");
        return -1;
    }
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d/v1", f->port);
    return 0;
}

static inline int fake_server_start(fake_server *f, const char *const *args)
{
    return fake_server_start_log(f, args, true);
}

/* The requests logged so far, as a JSON array (caller deletes). */
static inline cJSON *fake_server_log(const fake_server *f)
{
    cJSON *arr = cJSON_CreateArray();
    buf b = BUF_INIT;
    if (file_read_all(f->log_path, &b, NULL) == 0) {
        line_iter it = line_iter_start(b.data, b.len);
        const char *l;
        size_t n;
        while (line_iter_next(&it, &l, &n)) {
            cJSON *v = cJSON_ParseWithLength(l, n);
            if (v) cJSON_AddItemToArray(arr, v);
        }
    }
    buf_release(&b);
    return arr;
}

/* Completion requests (POST) in the log. */
static inline size_t fake_server_count_posts(const cJSON *log)
{
    size_t n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, log)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "method");
        if (cJSON_IsString(m) && !strcmp(m->valuestring, "POST")) n++;
    }
    return n;
}

/* Kills the server at once (SIGKILL), for tests of a server that goes away. */
static inline void fake_server_kill(fake_server *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        f->pid = -1;
    }
}

/* Stops the server; returns its exit status (0 when it ended cleanly, with
 * no sanitizer report), or 0 when it was already killed. */
static inline int fake_server_stop(fake_server *f)
{
    int status = 0, ret = 0;
    if (f->stdin_fd >= 0) close(f->stdin_fd);
    f->stdin_fd = -1;
    if (f->pid > 0 && waitpid(f->pid, &status, 0) == f->pid)
        ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    f->pid = -1;
    if (f->log_path[0]) unlink(f->log_path);
    if (f->dir[0]) rmdir(f->dir);
    f->log_path[0] = f->dir[0] = 0;
    return ret;
}

/* The FNV-1a hash the server prints in its answers ("[req %016llx]"). */
static inline uint64_t fake_server_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
