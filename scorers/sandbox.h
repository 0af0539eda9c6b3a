/* sandbox.h: run untrusted Python programs in a disposable OS sandbox.
 *
 * Model-written code is hostile until proven otherwise. Every job runs in a
 * fresh process tree on Linux: its own session and process group, stdin from
 * /dev/null, stdout/stderr captured up to a cap, rlimits (CPU, address space,
 * file size, open files, processes), a seccomp filter, no privileges (root
 * in the harness becomes uid 65534 in the sample), a scrubbed environment and
 * a private writable temp dir that disappears afterwards. When the kernel
 * allows it, the job also gets new user, PID, mount, network, IPC and UTS
 * namespaces: it sees no network, no host process and only a read-only /usr
 * plus its own tmpfs. When it does not, a documented degraded mode is used
 * (rlimits + strict seccomp + Landlock + a private host dir); the level
 * actually used is reported by sandbox_level(). docs/sandbox.md says what is
 * and is not protected.
 *
 * The program is run by a trusted Python runner (text chosen at open,
 * default the built-in scorers/sandbox_runner.py) started as
 *   python3 -s -B [-P] -c <bootstrap>
 * The bootstrap reads the runner from fd 3; the runner reads
 * "<nonce>\n<payload>" from fd 5 and answers on fd 4 with frames
 *   "<nonce> <key> <len>\n" followed by <len> bytes,
 * the nonce being 128 random bits per job that appear in no argv,
 * environment or file the program can open. The harness keeps the frames
 * that carry the right nonce, in order, and stops reading at the first one
 * that does not: stdout, stderr and the exit status never decide anything.
 * A "ready" frame starts the job's wall clock; a "done" frame ends it (the
 * process tree is killed after a short grace).
 *
 * Use:
 *   sandbox_settings s; sandbox_settings_default(&s);
 *   sandbox *sb = NULL;
 *   if (sandbox_open(&sb, &s, &e) < 0) ...        // probes, picks the level
 *   sandbox_job j = SANDBOX_JOB_INIT; j.payload = ...; j.cpu_s = 3; ...
 *   sandbox_result r = SANDBOX_RESULT_INIT;
 *   sandbox_run_many(sb, &j, 1, 1, &r, &e);         // or many jobs, N workers
 *   const sandbox_frame *f = sandbox_result_frame(&r, "result");
 *   sandbox_result_release(&r);
 *   sandbox_close(sb);
 *
 * Ownership: the sandbox copies what it needs from the settings at open.
 * Jobs are borrowed during the call. A result owns its buffers; frames point
 * into them and live until sandbox_result_release. Nothing here prints.
 * sandbox_run_many uses one poll loop in the calling thread (no thread per
 * child) and never waits for a sample's cooperation; a sandbox serves one
 * call at a time.
 */
#ifndef TALLY_SCORERS_SANDBOX_H
#define TALLY_SCORERS_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Which isolation to use. AUTO tries the strongest first. */
enum sandbox_isolation {
    SANDBOX_AUTO = 0,
    /* Skip namespaces: rlimits + strict seccomp (no process creation, signals
     * only to itself, no sockets) + Landlock when the kernel has it + a
     * private host dir. Used when namespaces are unavailable; forcing it
     * tests the fallback. */
    SANDBOX_DEGRADED,
    /* Root only: namespaces created as root without a user namespace, the
     * sample then dropped to the unprivileged uid (the path taken when root
     * cannot create user namespaces). */
    SANDBOX_NO_USERNS,
    /* No OS isolation at all: only rlimits, a private dir and the uid drop.
     * Only with the user's explicit opt-in (--unsafe-no-sandbox). */
    SANDBOX_NONE,
};

typedef struct sandbox_settings {
    const char *python;    /* interpreter; NULL = /usr/bin/python3 (else /usr/local/bin, /bin) */
    int isolation;         /* enum sandbox_isolation */
    uint64_t mem_bytes;    /* RLIMIT_AS and RLIMIT_DATA; 0 = 4 GiB */
    uint64_t fsize_bytes;  /* RLIMIT_FSIZE; 0 = 16 MiB */
    int nofile;            /* RLIMIT_NOFILE; 0 = 64 */
    int nproc;             /* RLIMIT_NPROC inside the user namespace; 0 = 64 */
    uint64_t tmpfs_bytes;  /* size of the private /work tmpfs; 0 = 64 MiB */
    int tmpfs_inodes;      /* its inode cap; 0 = 4096 */
    size_t out_cap;        /* stdout/stderr bytes kept per stream; 0 = 64 KiB */
    uint64_t out_hard;     /* total stdout+stderr bytes before a kill; 0 = 64 MiB */
    unsigned drop_uid;     /* uid/gid a root harness runs samples as; 0 = 65534 */
    const char *host_tmp;  /* where degraded mode makes private dirs; NULL = /tmp */
    bool hash_seed_random; /* leave PYTHONHASHSEED unset (default: pinned to 0) */
    const char *runner;    /* trusted runner source; NULL = the built-in one */
    size_t runner_len;
    bool no_fork_server; /* start every sample from a fresh interpreter (see below) */
} sandbox_settings;

void sandbox_settings_default(sandbox_settings *s);

typedef struct sandbox sandbox;

/* Probes the kernel and the interpreter (by running the runner's "probe"
 * mode in the sandbox) and picks the isolation level. Fails with
 * ERR_SANDBOX when no safe level works and SANDBOX_NONE was not asked for. */
int sandbox_open(sandbox **out, const sandbox_settings *s, err *e);
void sandbox_close(sandbox *sb);

/* "userns+seccomp", "root+userns+seccomp", "root+ns+seccomp",
 * "degraded:landlock+seccomp", "degraded:seccomp" or "none". */
const char *sandbox_level(const sandbox *sb);
/* The interpreter's version ("3.11.2"), from the probe. */
const char *sandbox_python_version(const sandbox *sb);
/* Why a stronger level was not used, or "" (e.g. "unshare: Operation not permitted"). */
const char *sandbox_downgrade_reason(const sandbox *sb);
/* True when samples get a private PID namespace with /proc mounted. */
bool sandbox_has_namespaces(const sandbox *sb);
/* True when samples are forked from the fork server rather than started
 * from a fresh interpreter. In namespace mode with a user namespace the
 * sandbox starts one trusted interpreter (the runner in "zygote" mode)
 * that preloads the modules programs commonly import and forks a process
 * per job; that process makes the job's own user, mount, PID, network,
 * IPC and UTS namespaces, tmpfs, /proc and limits, drops every capability
 * and loads the same seccomp filter before it reads the job. Isolation is
 * the same; an interpreter start and the imports per sample are saved. */
bool sandbox_fork_server(const sandbox *sb);

typedef struct sandbox_job {
    const char *payload; /* handed to the runner after the nonce line */
    size_t payload_len;
    const char *payload2; /* appended to payload (jobs may share the first part); or NULL */
    size_t payload2_len;
    double cpu_s;      /* RLIMIT_CPU: soft ceil(cpu_s)+1 s, hard +2 s; 0 = 10 s */
    double wall_s;     /* kill this long after the ready frame (+1 s); 0 = 10 s */
    double startup_s;  /* kill if no ready frame this long after start; 0 = 30 s */
    size_t result_cap; /* bytes allowed on the result channel; 0 = 1 MiB */
} sandbox_job;

#define SANDBOX_JOB_INIT                                                                           \
    {                                                                                              \
        NULL, 0, NULL, 0, 0, 0, 0, 0                                                               \
    }

enum sandbox_kill {
    SANDBOX_KILL_NONE = 0,
    SANDBOX_KILL_WALL,    /* no "done" frame before the wall deadline */
    SANDBOX_KILL_STARTUP, /* no "ready" frame before the startup deadline */
    SANDBOX_KILL_OUTPUT,  /* stdout+stderr passed out_hard */
    SANDBOX_KILL_RESULT,  /* the result channel passed result_cap */
    SANDBOX_KILL_CPU,     /* the kernel ended it at RLIMIT_CPU (SIGXCPU, then SIGKILL) */
};

/* "wall time limit", "startup time limit", "output limit", "result limit",
 * "cpu time limit", or NULL. */
const char *sandbox_kill_name(int kill);

typedef struct sandbox_frame {
    const char *key;  /* NUL-terminated */
    const char *data; /* `len` bytes, NUL-terminated (the NUL is not counted) */
    size_t len;
} sandbox_frame;

typedef struct sandbox_result {
    sandbox_frame *frames; /* authenticated frames in arrival order */
    size_t n_frames;
    bool ready, done;              /* saw the "ready" / "done" frame */
    bool channel_corrupt;          /* bytes without the nonce arrived on the result channel */
    buf out, err;                  /* the first out_cap bytes of stdout / stderr */
    uint64_t out_total, err_total; /* bytes seen on each */
    bool exited;                   /* the runner exited by itself (exit_code valid) */
    int exit_code;
    int term_signal; /* signal that ended the runner, 0 if none */
    int kill;        /* enum sandbox_kill: the harness killed it, and why */
    double wall_ms, cpu_ms;
    double ready_ms, done_ms; /* when the ready / done frames arrived (0 = never), from the start */
    long peak_rss_kb;
    char *setup_error; /* the sandbox could not be set up for this job (malloc'd), or NULL */
    buf chan_;         /* private: the raw result channel */
    size_t parsed_;    /* private */
} sandbox_result;

#define SANDBOX_RESULT_INIT                                                                        \
    {                                                                                              \
        0                                                                                          \
    }

void sandbox_result_release(sandbox_result *r);
/* The first frame with this key, or NULL. */
const sandbox_frame *sandbox_result_frame(const sandbox_result *r, const char *key);

/* Runs jobs[0..n) with at most `workers` at a time (0 = number of cores)
 * and fills results[i] (which must be SANDBOX_RESULT_INIT or released).
 * A job whose sandbox cannot be set up gets `setup_error` and does not stop
 * the others; the call itself fails only when it cannot go on (out of
 * memory, no fork at all). */
int sandbox_run_many(sandbox *sb, const sandbox_job *jobs, size_t n, int workers,
                     sandbox_result *results, err *e);

/* Number of online CPUs (at least 1). */
int sandbox_cpu_count(void);

#endif
