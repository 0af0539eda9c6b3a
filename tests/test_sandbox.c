/* test_sandbox.c: the OS sandbox and its trusted runner, including a set of
 * hostile programs that must be contained and never pass.
 *
 * After the hostile set the test checks the host: no process of the set is
 * left (their daemons carry the marker "tallyhostile" in argv), sentinel
 * files in $HOME and /tmp are unchanged, nothing new appeared outside the
 * sandbox's temp dirs, and a loopback listener saw no connection.
 */
#include "common/buf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/util.h"
#include "scorers/sandbox.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static sandbox *sb_auto;

static sandbox *open_sandbox_ex(int isolation, uint64_t mem, bool no_fork_server)
{
    sandbox_settings s;
    sandbox_settings_default(&s);
    s.isolation = isolation;
    s.mem_bytes = mem;
    s.no_fork_server = no_fork_server;
    sandbox *sb = NULL;
    err e = ERR_INIT;
    if (sandbox_open(&sb, &s, &e) < 0) {
        fprintf(stderr, "sandbox_open(%d): %s\n", isolation, e.msg);
        return NULL;
    }
    return sb;
}

static sandbox *open_sandbox(int isolation, uint64_t mem)
{
    return open_sandbox_ex(isolation, mem, false);
}

/* Runs HumanEval-style programs ("program" mode) and fills res[0..n). */
static int run_programs(sandbox *sb, const char *const *progs, size_t n, double cpu, double wall,
                        sandbox_result *res)
{
    sandbox_job *jobs = calloc(n, sizeof *jobs);
    char **payloads = calloc(n, sizeof *payloads);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(progs[i]) + 64;
        payloads[i] = malloc(len);
        snprintf(payloads[i], len, "program %g %g\n%s", cpu, wall, progs[i]);
        jobs[i].payload = payloads[i];
        jobs[i].payload_len = strlen(payloads[i]);
        jobs[i].cpu_s = cpu;
        jobs[i].wall_s = wall;
    }
    err e = ERR_INIT;
    int r = sandbox_run_many(sb, jobs, n, 2, res, &e);
    if (r < 0) fprintf(stderr, "sandbox_run_many: %s\n", e.msg);
    for (size_t i = 0; i < n; i++) free(payloads[i]);
    free(payloads);
    free(jobs);
    return r;
}

static const char *verdict(const sandbox_result *r)
{
    const sandbox_frame *f = sandbox_result_frame(r, "result");
    return f ? f->data : NULL;
}

static bool passed(const sandbox_result *r)
{
    const char *v = verdict(r);
    return v && strcmp(v, "passed") == 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------ host checks */

/* Pids whose argv or name contains `marker`. */
static int count_marked(const char *marker)
{
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        buf b = BUF_INIT;
        buf_init(&b, 1 << 16);
        if (file_read_all(path, &b, NULL) == 0) {
            for (size_t i = 0; i < b.len; i++)
                if (b.data[i] == 0) b.data[i] = ' ';
            if (strstr(b.data, marker)) found++;
        }
        buf_release(&b);
    }
    closedir(d);
    return found;
}

typedef struct sentinel {
    char path[512];
    struct stat st;
} sentinel;

static bool sentinel_make(sentinel *s, const char *dir, const char *name)
{
    snprintf(s->path, sizeof s->path, "%s/%s", dir, name);
    err e = ERR_INIT;
    if (file_write_atomic(s->path, "sentinel\n", 9, &e) < 0) return false;
    chmod(s->path, 0644);
    return stat(s->path, &s->st) == 0;
}

static bool sentinel_same(const sentinel *s)
{
    struct stat st;
    if (stat(s->path, &st) != 0) return false;
    buf b = BUF_INIT;
    bool same = file_read_all(s->path, &b, NULL) == 0 && strcmp(b.data, "sentinel\n") == 0 &&
                st.st_mode == s->st.st_mode && st.st_size == s->st.st_size &&
                st.st_mtim.tv_sec == s->st.st_mtim.tv_sec &&
                st.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec && st.st_ino == s->st.st_ino;
    buf_release(&b);
    return same;
}

/* ------------------------------------------------------------ tests */

static void test_sandbox__probe(void)
{
    CHECK(sb_auto != NULL);
    if (!sb_auto) return;
    const char *lvl = sandbox_level(sb_auto);
    CHECK(strstr(lvl, "seccomp") != NULL);
    CHECK(strncmp(sandbox_python_version(sb_auto), "3.", 2) == 0);
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "level %s, python %s, downgrade: %s\n", lvl,
                sandbox_python_version(sb_auto), sandbox_downgrade_reason(sb_auto));
}

static void test_sandbox__basic(void)
{
    if (!sb_auto) return;
    const char *progs[] = {
        "import os\nprint('swallowed')\nos.write(1, b'raw out')\nos.write(2, b'raw err')\n"
        "assert 1 + 1 == 2\n",
        "def f():\n    assert False, 'boom'\nf()\n",
        "x = (\n",
        "raise SystemExit(0)\n",
        "exit(0)\n",
        "input()\n",
        "if __name__ == '__main__':\n    while True: pass\n",
    };
    sandbox_result res[ARRAY_LEN(progs)];
    memset(res, 0, sizeof res);
    CHECK_INT(run_programs(sb_auto, progs, ARRAY_LEN(progs), 3, 6, res), 0);
    CHECK_STR(verdict(&res[0]), "passed");
    CHECK_STR(res[0].out.data, "raw out"); /* print() goes to the reference's sink */
    CHECK_STR(res[0].err.data, "raw err");
    CHECK(res[0].ready && res[0].done && !res[0].channel_corrupt);
    CHECK(res[0].cpu_ms > 0 && res[0].peak_rss_kb > 1000);
    CHECK_STR(verdict(&res[1]), "failed: boom");
    CHECK_STR(sandbox_result_frame(&res[1], "exc")->data, "AssertionError");
    CHECK(verdict(&res[2]) && strncmp(verdict(&res[2]), "failed: ", 8) == 0);
    CHECK_STR(verdict(&res[3]), "failed: 0");
    CHECK_STR(verdict(&res[4]), "failed: 'NoneType' object is not callable");
    CHECK_STR(verdict(&res[5]), "failed: ");
    CHECK_STR(verdict(&res[6]), "passed"); /* no __name__: the block does not run */
    for (size_t i = 0; i < ARRAY_LEN(progs); i++) sandbox_result_release(&res[i]);
}

/* The sample sees no privileges, a scrubbed environment, only its protocol
 * fds, and a private empty work dir. Each program passes only if all hold. */
static void test_sandbox__confinement(void)
{
    if (!sb_auto) return;
    setenv("TALLY_TEST_SECRET", "hunter2", 1);
    const char *progs[] = {
        /* no capabilities, no_new_privs, seccomp filter, not root */
        "st = open('/proc/self/status').read()\n"
        "f = dict(l.split(':\\t', 1) for l in st.splitlines() if ':\\t' in l)\n"
        "for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'):\n"
        "    assert int(f[k], 16) == 0, (k, f[k])\n"
        "assert f['NoNewPrivs'].strip() == '1'\n"
        "assert f['Seccomp'].strip() == '2'\n"
        "import os\nassert os.getuid() != 0 and os.geteuid() != 0 and os.getgid() != 0\n",
        /* environment */
        "import os\n"
        "assert 'TALLY_TEST_SECRET' not in os.environ\n"
        "assert set(os.environ) <= {'PATH','LANG','LC_ALL','PYTHONDONTWRITEBYTECODE',"
        "'OMP_NUM_THREADS','PYTHONHASHSEED','HOME','TMPDIR'}, sorted(os.environ)\n"
        "assert os.environ['PYTHONHASHSEED'] == '0'\n"
        "import sys\nassert sys.flags.optimize == 0\n",
        /* fds: the payload and runner fds are closed; nothing else inherited */
        "import os\nfds = sorted(int(x) for x in os.listdir('/proc/self/fd'))\n"
        "assert set(fds) - {0, 1, 2, 4} <= {3}, fds\n"
        "assert len(fds) <= 5, fds\n",
        /* a private, empty, writable work dir that is also /tmp */
        "import posix\nassert posix.listdir('.') == [], posix.listdir('.')\n"
        "with open('f', 'w') as fh: fh.write('x')\n"
        "import os, posix\nassert os.environ['TMPDIR'] == os.environ['HOME'] == posix.getcwd()\n",
    };
    sandbox_result res[ARRAY_LEN(progs)];
    memset(res, 0, sizeof res);
    CHECK_INT(run_programs(sb_auto, progs, ARRAY_LEN(progs), 3, 6, res), 0);
    for (size_t i = 0; i < ARRAY_LEN(progs); i++) {
        CHECK_MSG(passed(&res[i]), "program %zu: %s", i,
                  verdict(&res[i]) ? verdict(&res[i]) : "no verdict");
        sandbox_result_release(&res[i]);
    }
    unsetenv("TALLY_TEST_SECRET");
}

/* The hostile set. Each program "passes" only if its attack worked. */
static void hostile_run(sandbox *sb, bool namespaces)
{
    const char *home = getenv("HOME");
    if (!home || !*home) home = "/root";
    sentinel s_home, s_tmp;
    char name[64];
    snprintf(name, sizeof name, ".tally-sentinel-%d", (int)getpid());
    CHECK(sentinel_make(&s_home, home, name));
    CHECK(sentinel_make(&s_tmp, "/tmp", name));
    char outside_tmp[128], outside_home[512];
    snprintf(outside_tmp, sizeof outside_tmp, "/tmp/tally-hostile-%d", (int)getpid());
    snprintf(outside_home, sizeof outside_home, "%s/tally-hostile-%d", home, (int)getpid());

    /* A loopback service the samples try to reach. */
    int lsock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(lsock, (struct sockaddr *)&a, sizeof a) == 0 && listen(lsock, 8) == 0 &&
          getsockname(lsock, (struct sockaddr *)&a, &al) == 0);
    int port = ntohs(a.sin_port);
    int usock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in ua = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t ual = sizeof ua;
    CHECK(bind(usock, (struct sockaddr *)&ua, sizeof ua) == 0 &&
          getsockname(usock, (struct sockaddr *)&ua, &ual) == 0);
    int uport = ntohs(ua.sin_port);

    int me = (int)getpid();
    char *progs[] = {
        /* 0 fork bomb (the guard's os.fork is None; posix.fork is not) */
        fmt("import posix\nwhile True:\n    try:\n        posix.fork()\n    except OSError:\n"
            "        pass\n"),
        /* 1 memory bomb */
        fmt("x = []\nwhile True:\n    x.append(bytearray(1 << 24))\n"),
        /* 2 infinite loop */
        fmt("while True:\n    pass\n"),
        /* 3 ignore every catchable signal, then spin */
        fmt("import signal\nfor s in range(1, 65):\n    try:\n"
            "        signal.signal(s, signal.SIG_IGN)\n    except (OSError, ValueError):\n"
            "        pass\nwhile True:\n    pass\n"),
        /* 4 huge file write */
        fmt("with open('big', 'wb') as f:\n    for i in range(1000):\n"
            "        f.write(b'x' * (1 << 20))\n"),
        /* 5 huge stdout */
        fmt("import os\nwhile True:\n    os.write(1, b'x' * 65536)\n"),
        /* 6 write outside the work dir (the guard's os.unlink is None; posix's
         * is not); pass only if a host file changed */
        fmt("import posix\nfor p in ('%s', '%s', '/etc/tally-hostile', '/usr/tally-hostile',\n"
            "          '/var/tmp/tally-hostile-%d', '%s'):\n"
            "    try:\n        with open(p, 'w') as f: f.write('pwned')\n"
            "    except OSError:\n        pass\n"
            "try:\n    posix.unlink('%s')\nexcept OSError:\n    pass\n"
            "assert open('%s').read() == 'pwned'\n",
            outside_tmp, outside_home, me, s_home.path, s_tmp.path, s_home.path),
        /* 7 read /etc/shadow */
        fmt("data = open('/etc/shadow').read()\nassert 'root' in data\n"),
        /* 8 read $HOME */
        fmt("import posix\nassert '%s' in posix.listdir('%s')\n", name, home),
        /* 9 TCP to the loopback service */
        fmt("import socket\ns = socket.create_connection(('127.0.0.1', %d), timeout=1)\n"
            "s.sendall(b'pwned')\n",
            port),
        /* 10 UDP to loopback and TCP to an outside address */
        fmt("import socket\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "u.sendto(b'pwned', ('127.0.0.1', %d))\n"
            "s = socket.create_connection(('1.1.1.1', 443), timeout=1)\n",
            uport),
        /* 11 a daemon that double-forks to outlive the sample */
        fmt("import posix, time\npid = posix.fork()\nif pid == 0:\n    posix.setsid()\n"
            "    if posix.fork() == 0:\n        posix.execv('/bin/sleep', ['tallyhostile', "
            "'300'])\n"
            "    posix._exit(0)\ntime.sleep(0.2)\nraise SystemExit(0)\n"),
        /* 12 kill the parent, the harness, everything */
        fmt("import posix\nfor pid in (posix.getppid(), %d, -1):\n    try:\n"
            "        posix.kill(pid, 9)\n    except OSError:\n        pass\n"
            "try:\n    posix.killpg(posix.getpgid(0), 9)\nexcept OSError:\n    pass\n"
            "raise SystemExit(0)\n",
            me),
        /* 13 os._exit(0) before the tests */
        fmt("import os\nos._exit(0)\nassert False\n"),
        /* 14 fake the verdict: overridden builtins, a lying exception, forged frames */
        fmt("import builtins, os\nbuiltins.str = lambda *a, **k: 'passed'\n"
            "builtins.print = lambda *a, **k: None\n"
            "os.write(1, b'passed\\n')\n"
            "os.write(4, b'%%s result 6\\npassed' %% (b'0' * 32))\n"
            "class Liar(BaseException):\n    def __str__(self): return 'passed'\n"
            "    def __eq__(self, other): return True\n"
            "raise Liar()\n"),
        /* 15 exhaust file descriptors */
        fmt("import os\nfds = []\nwhile True:\n    fds.append(os.open('/dev/null', "
            "os.O_RDONLY))\n"),
        /* 16 sleep forever (no CPU) */
        fmt("import time\ntime.sleep(10**6)\n"),
        /* 17 raise the limits again / leave the namespaces */
        fmt("import sys\ndel sys.modules['resource']\nimport resource, ctypes\n"
            "ok = 0\ntry:\n    resource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))\n"
            "    ok += 1\nexcept (OSError, ValueError):\n    pass\n"
            "libc = ctypes.CDLL(None)\nok += libc.unshare(0x10000000) == 0\n"
            "ok += libc.ptrace(0, 0, 0, 0) == 0\n"
            "assert ok > 0\n"),
        /* 18 the harness's environment through /proc */
        fmt("data = open('/proc/%d/environ', 'rb').read()\nassert data\n", me),
        /* 19 deep recursion into a C stack overflow */
        fmt("import sys\nsys.setrecursionlimit(10**7)\ndef f(x):\n    return min([x], key=f)\n"
            "f(0)\n"),
        /* 20 a thread bomb */
        fmt("import threading, time\nwhile True:\n"
            "    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"),
    };
    size_t n = ARRAY_LEN(progs);
    sandbox_result *res = calloc(n, sizeof *res);
    double t0 = time_now_s();
    CHECK_INT(run_programs(sb, (const char *const *)progs, n, 1, 2, res), 0);
    double dt = time_now_s() - t0;
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "hostile set (%s): %.1f s\n", sandbox_level(sb), dt);
    for (size_t i = 0; i < n; i++) {
        const sandbox_result *r = &res[i];
        CHECK_MSG(!passed(r), "hostile program %zu passed", i);
        CHECK_MSG(!r->setup_error, "hostile %zu: %s", i, r->setup_error);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  %2zu: %-60.60s kill=%s sig=%d cpu=%.0fms rss=%ldkB wall=%.0fms\n", i,
                    verdict(r) ? verdict(r) : "(no verdict)",
                    sandbox_kill_name(r->kill) ? sandbox_kill_name(r->kill) : "-", r->term_signal,
                    r->cpu_ms, r->peak_rss_kb, r->wall_ms);
    }
    /* Specific containment, beyond "did not pass". */
    CHECK(verdict(&res[1]) == NULL || strstr(verdict(&res[1]), "failed") ||
          strstr(verdict(&res[1]), "timed out"));
    CHECK_STR(verdict(&res[2]), "timed out");
    CHECK(verdict(&res[3]) == NULL && res[3].kill != SANDBOX_KILL_NONE);
    CHECK(verdict(&res[4]) && strstr(verdict(&res[4]), "File too large"));
    CHECK_INT(res[5].kill, SANDBOX_KILL_OUTPUT);
    CHECK(res[5].out.len <= 64 * 1024);
    CHECK(verdict(&res[13]) == NULL && res[13].exited);
    CHECK(res[14].channel_corrupt);
    CHECK(verdict(&res[14]) == NULL);
    CHECK_STR(verdict(&res[16]), "timed out");
    CHECK(verdict(&res[19]) == NULL && res[19].term_signal == SIGSEGV);

    /* The host after the set. */
    CHECK_INT(count_marked("tallyhostile"), 0);
    CHECK(sentinel_same(&s_home));
    CHECK(sentinel_same(&s_tmp));
    CHECK(!file_exists(outside_tmp));
    CHECK(!file_exists(outside_home));
    CHECK(!file_exists("/etc/tally-hostile"));
    CHECK(!file_exists("/usr/tally-hostile"));
    char vt[128];
    snprintf(vt, sizeof vt, "/var/tmp/tally-hostile-%d", me);
    CHECK(!file_exists(vt));
    int c = accept(lsock, NULL, NULL);
    CHECK(c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    char ubuf[16];
    CHECK(recv(usock, ubuf, sizeof ubuf, 0) < 0);
    if (c >= 0) close(c);
    close(lsock);
    close(usock);
    (void)namespaces;
    unlink(s_home.path);
    unlink(s_tmp.path);
    for (size_t i = 0; i < n; i++) {
        sandbox_result_release(&res[i]);
        free(progs[i]);
    }
    free(res);
}

/* The default: namespaces, samples forked from the fork server (this
 * machine allows user namespaces; a machine that does not would take the
 * fallbacks tested below). */
static void test_sandbox__hostile(void)
{
    sandbox *sb = open_sandbox(SANDBOX_AUTO, 512u << 20);
    CHECK(sb != NULL);
    if (!sb) return;
    CHECK(sandbox_has_namespaces(sb));
    CHECK_MSG(sandbox_fork_server(sb), "%s", sandbox_downgrade_reason(sb));
    hostile_run(sb, true);
    sandbox_close(sb);
}

/* Namespaces, every sample from a fresh interpreter. */
static void test_sandbox__hostile_exec(void)
{
    sandbox *sb = open_sandbox_ex(SANDBOX_AUTO, 512u << 20, true);
    CHECK(sb != NULL);
    if (!sb) return;
    CHECK(sandbox_has_namespaces(sb));
    CHECK(!sandbox_fork_server(sb));
    hostile_run(sb, true);
    sandbox_close(sb);
}

static void test_sandbox__hostile_degraded(void)
{
    sandbox *sb = open_sandbox(SANDBOX_DEGRADED, 512u << 20);
    CHECK(sb != NULL);
    if (!sb) return;
    CHECK(strncmp(sandbox_level(sb), "degraded:", 9) == 0);
    CHECK(!sandbox_has_namespaces(sb));
    hostile_run(sb, false);
    /* The strict filter answers for signals to anyone but ourselves (EPERM
     * where the kernel would say ESRCH for a pid that does not exist), and
     * for process creation, while signals to ourselves and threads work. */
    const char *prog[] = {
        "import ctypes, os, posix, threading, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "me = posix.getpid()\n"
        "def sc(*a):\n    r = libc.syscall(*a)\n    return 0 if r == 0 else ctypes.get_errno()\n"
        "assert sc(62, 999999, 0) == errno.EPERM\n"          /* kill */
        "assert sc(234, 999999, 999999, 0) == errno.EPERM\n" /* tgkill */
        "assert sc(129, 999999, 0, 0) == errno.EPERM\n"      /* rt_sigqueueinfo */
        "assert sc(200, 999999, 0) == errno.EPERM\n"         /* tkill */
        "assert sc(62, me, 0) == 0\n"
        "assert sc(57) == errno.EAGAIN\n"                /* fork */
        "assert sc(41, 2, 1, 0) == errno.EAFNOSUPPORT\n" /* socket(AF_INET) */
        "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"};
    sandbox_result r = SANDBOX_RESULT_INIT;
    CHECK_INT(run_programs(sb, prog, 1, 3, 6, &r), 0);
    CHECK_MSG(passed(&r), "%s", verdict(&r) ? verdict(&r) : "no verdict");
    sandbox_result_release(&r);
    sandbox_close(sb);
}

/* The marker scan can see a process (so the "none left" checks can fail). */
static void test_sandbox__marker_scan(void)
{
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/sleep", "tallyhostile", "30", (char *)NULL);
        _exit(127);
    }
    CHECK(p > 0);
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) {
        found = count_marked("tallyhostile");
        if (!found) usleep(10000);
    }
    CHECK(found >= 1);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    CHECK_INT(count_marked("tallyhostile"), 0);
}

/* Nothing of one sample is visible to the next. */
static void test_sandbox__no_persistence(void)
{
    if (!sb_auto) return;
    const char *first[] = {
        "import os\nfor d in ('.', '/tmp'):\n"
        "    for f in ('sitecustomize.py', 'usercustomize.py', 'x.pth', 'marker'):\n"
        "        with open(os.path.join(d, f), 'w') as fh: fh.write('raise SystemExit(0)\\n')\n"};
    const char *second[] = {
        "import os\nassert os.path.exists('marker') or os.path.exists('/tmp/marker')\n"};
    sandbox_result r1 = SANDBOX_RESULT_INIT, r2 = SANDBOX_RESULT_INIT;
    CHECK_INT(run_programs(sb_auto, first, 1, 3, 6, &r1), 0);
    CHECK(passed(&r1));
    CHECK_INT(run_programs(sb_auto, second, 1, 3, 6, &r2), 0);
    CHECK(verdict(&r2) && strncmp(verdict(&r2), "failed", 6) == 0);
    sandbox_result_release(&r1);
    sandbox_result_release(&r2);
}

/* Many jobs on two workers: every result lands in its own slot. */
static void test_sandbox__parallel(void)
{
    if (!sb_auto) return;
    enum { N = 12 };
    char *progs[N];
    for (int i = 0; i < N; i++)
        progs[i] = fmt("import os\nos.write(1, b'%d')\nassert %d %% 3 != 0\n", i, i);
    sandbox_result res[N];
    memset(res, 0, sizeof res);
    CHECK_INT(run_programs(sb_auto, (const char *const *)progs, N, 3, 6, res), 0);
    for (int i = 0; i < N; i++) {
        char want[8];
        snprintf(want, sizeof want, "%d", i);
        CHECK_STR(res[i].out.data, want);
        CHECK_INT(passed(&res[i]), i % 3 != 0);
        sandbox_result_release(&res[i]);
        free(progs[i]);
    }
}

/* Bad payloads are the runner's error, not a verdict, and do not hang. */
static void test_sandbox__bad_payload(void)
{
    if (!sb_auto) return;
    static const char *const payloads[] = {"nosuchmode\n{}", "program x y\npass", "evalplus\n{",
                                           ""};
    for (size_t i = 0; i < ARRAY_LEN(payloads); i++) {
        sandbox_job j = SANDBOX_JOB_INIT;
        j.payload = payloads[i];
        j.payload_len = strlen(payloads[i]);
        j.cpu_s = 3;
        j.wall_s = 3;
        sandbox_result r = SANDBOX_RESULT_INIT;
        err e = ERR_INIT;
        CHECK_INT(sandbox_run_many(sb_auto, &j, 1, 1, &r, &e), 0);
        CHECK(verdict(&r) == NULL);
        CHECK_MSG(r.exited && r.exit_code != 0, "payload %zu: exit %d", i, r.exit_code);
        sandbox_result_release(&r);
    }
}

/* The other levels: namespaces without a user namespace (root only) and no
 * sandbox at all (the explicit opt-in). */
static void test_sandbox__levels(void)
{
    const char *progs[] = {
        "import os\nassert os.getuid() != 0\n",
        "data = open('/etc/shadow').read()\n",
        "import posix\nwhile True:\n    posix.fork()\n",
    };
    if (geteuid() == 0) {
        sandbox *sb = open_sandbox(SANDBOX_NO_USERNS, 512u << 20);
        CHECK(sb != NULL);
        if (sb) {
            CHECK_STR(sandbox_level(sb), "root+ns+seccomp");
            sandbox_result res[3];
            memset(res, 0, sizeof res);
            CHECK_INT(run_programs(sb, progs, 3, 1, 2, res), 0);
            CHECK(passed(&res[0]));
            CHECK(!passed(&res[1]));
            CHECK(!passed(&res[2]));
            for (int i = 0; i < 3; i++) sandbox_result_release(&res[i]);
            sandbox_close(sb);
        }
    } else {
        sandbox_settings s;
        sandbox_settings_default(&s);
        s.isolation = SANDBOX_NO_USERNS;
        sandbox *sb = NULL;
        CHECK(sandbox_open(&sb, &s, NULL) == ERR_INVALID);
    }
    sandbox *sb = open_sandbox(SANDBOX_NONE, 0);
    CHECK(sb != NULL);
    if (sb) {
        CHECK_STR(sandbox_level(sb), "none");
        sandbox_result r = SANDBOX_RESULT_INIT;
        CHECK_INT(run_programs(sb, progs, 1, 3, 6, &r), 0);
        CHECK(passed(&r));
        sandbox_result_release(&r);
        sandbox_close(sb);
    }
}

static void test_sandbox__bad_settings(void)
{
    sandbox_settings s;
    sandbox_settings_default(&s);
    s.python = "/nonexistent/python3";
    sandbox *sb = NULL;
    err e = ERR_INIT;
    CHECK_INT(sandbox_open(&sb, &s, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "/nonexistent/python3") != NULL);
    CHECK(sb == NULL);
    s.python = "/bin/false"; /* runs, but never answers the probe */
    CHECK(sandbox_open(&sb, &s, &e) < 0);
    CHECK(sb == NULL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    sb_auto = open_sandbox(SANDBOX_AUTO, 0);
    RUN(test_sandbox__probe);
    RUN(test_sandbox__basic);
    RUN(test_sandbox__confinement);
    RUN(test_sandbox__marker_scan);
    RUN(test_sandbox__hostile);
    RUN(test_sandbox__hostile_exec);
    RUN(test_sandbox__hostile_degraded);
    RUN(test_sandbox__no_persistence);
    RUN(test_sandbox__parallel);
    RUN(test_sandbox__bad_payload);
    RUN(test_sandbox__levels);
    RUN(test_sandbox__bad_settings);
    sandbox_close(sb_auto);
    return test_report();
}
