/* sandbox.c: run untrusted Python programs in a disposable OS sandbox (Linux).
 *
 * Process tree of one job in namespace mode:
 *
 *   harness ── A (setsid; drops root; unshare user/mnt/pid/net/ipc/uts)
 *                └─ B = PID 1 of the new namespaces (mounts the new root,
 *                     reaps, reports the runner's status, exits with it)
 *                     └─ C = python3 running the trusted runner + the sample
 *
 * When B exits the kernel kills everything left in the PID namespace, so a
 * sample's daemons cannot outlive it. In degraded mode A itself becomes the
 * runner after rlimits, Landlock and a strict seccomp filter (no process
 * creation, signals only to itself). The harness only ever reads pipes and
 * kills A's process group; it never waits for the sample.
 *
 * fds of the runner: 0 /dev/null, 1 stdout pipe, 2 stderr pipe, 3 runner
 * text (sealed memfd), 4 result channel, 5 nonce + payload (sealed memfd).
 * fd 6 (close-on-exec) is the status channel of A and B: "E <why>" when the
 * sandbox could not be set up, "S <wait status> <cpu us> <maxrss kB>" from B.
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/fileio.h"
#include "common/util.h"
#include "sandbox_runner.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS   1033
#define F_SEAL_SEAL   0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW   0x0004
#define F_SEAL_WRITE  0x0008
#endif

#define SANDBOX_INNER_ID 1000 /* uid/gid of the sample inside its user namespace */
#define NONCE_HEX        32
#define STATUS_CAP       4096
#define DRAIN_S          1.0 /* how long to wait for pipes to close after the tree died */
#define DONE_GRACE_S     0.5

enum level { LVL_USERNS, LVL_NS_ROOT, LVL_DEGRADED, LVL_NONE };

/* One top-level entry of / that the new root mirrors (bin, lib, usr, ...). */
typedef struct mirror {
    char *path;          /* absolute host path */
    char *link;          /* symlink target, or NULL for a directory to bind */
    unsigned long flags; /* mount flags to keep on the read-only remount */
} mirror;

struct sandbox {
    sandbox_settings s;
    char *python;
    int level;
    bool root;        /* the harness runs with euid 0 */
    uid_t sample_uid; /* outer identity of the sample */
    gid_t sample_gid;
    int landlock_abi; /* 0 = none */
    bool has_proc;
    char pyver[32];
    char reason[512];
    char level_name[64];
    int runner_fd; /* sealed memfd with the runner */
    int devnull_fd;
    struct sock_filter *bpf; /* namespace-mode seccomp program */
    unsigned short bpf_len;
    struct sock_filter *bpf_strict; /* degraded mode's, with PID_PLACEHOLDER */
    unsigned short bpf_strict_len;
    struct sock_filter *bpf_zygote; /* the fork server's */
    unsigned short bpf_zygote_len;
    struct zygote {
        pid_t pid;                 /* A of its tree, or -1 */
        int pidfd, ctl;            /* its pidfd, our end of its control socket */
        int res_fd, st_fd, out_fd; /* its pipes, kept open */
        unsigned long next_job;
        bool enabled; /* jobs go through it */
    } zy;
    mirror *mirrors;
    size_t n_mirrors;
    char newroot[64]; /* where B builds the new root before pivot_root */
    char *host_base;  /* degraded/none: base of the private dirs (removed at close) */
    char *argv[8];
    char *env_ns[12];
};

/* ------------------------------------------------------------------ helpers */

void sandbox_settings_default(sandbox_settings *s)
{
    memset(s, 0, sizeof *s);
}

int sandbox_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

const char *sandbox_kill_name(int kill)
{
    switch (kill) {
    case SANDBOX_KILL_WALL:
        return "wall time limit";
    case SANDBOX_KILL_STARTUP:
        return "startup time limit";
    case SANDBOX_KILL_OUTPUT:
        return "output limit";
    case SANDBOX_KILL_RESULT:
        return "result limit";
    case SANDBOX_KILL_CPU:
        return "cpu time limit";
    default:
        return NULL;
    }
}

void sandbox_result_release(sandbox_result *r)
{
    free(r->frames);
    buf_release(&r->out);
    buf_release(&r->err);
    buf_release(&r->chan_);
    free(r->setup_error);
    memset(r, 0, sizeof *r);
    r->out = (buf)BUF_INIT;
    r->err = (buf)BUF_INIT;
    r->chan_ = (buf)BUF_INIT;
}

const sandbox_frame *sandbox_result_frame(const sandbox_result *r, const char *key)
{
    for (size_t i = 0; i < r->n_frames; i++)
        if (strcmp(r->frames[i].key, key) == 0) return &r->frames[i];
    return NULL;
}

const char *sandbox_level(const sandbox *sb)
{
    return sb->level_name;
}
const char *sandbox_python_version(const sandbox *sb)
{
    return sb->pyver;
}
const char *sandbox_downgrade_reason(const sandbox *sb)
{
    return sb->reason;
}

bool sandbox_fork_server(const sandbox *sb)
{
    return sb->zy.enabled;
}

bool sandbox_has_namespaces(const sandbox *sb)
{
    return (sb->level == LVL_USERNS || sb->level == LVL_NS_ROOT) && sb->has_proc;
}

static int memfd_sealed(const char *name, const void *p, size_t n, int *out, err *e)
{
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return err_errno(e, "sandbox: memfd_create");
    const char *c = p;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, c + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int r = err_errno(e, "sandbox: writing a memfd");
            close(fd);
            return r;
        }
        off += (size_t)w;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int r = err_errno(e, "sandbox: sealing a memfd");
        close(fd);
        return r;
    }
    *out = fd;
    return 0;
}

/* Removes a directory tree without following symlinks (degraded mode's
 * private dirs hold whatever the sample left, symlinks included). */
static void remove_tree_at(int parent, const char *name, int depth)
{
    if (depth > 64) return;
    if (unlinkat(parent, name, 0) == 0) return;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        remove_tree_at(dirfd(d), de->d_name, depth + 1);
    }
    closedir(d);
    unlinkat(parent, name, AT_REMOVEDIR);
}

static void remove_tree(const char *path)
{
    remove_tree_at(AT_FDCWD, path, 0);
}

static unsigned long statvfs_mount_flags(const char *path)
{
    struct statvfs v;
    unsigned long f = 0;
    if (statvfs(path, &v) != 0) return 0;
    if (v.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (v.f_flag & ST_NODEV) f |= MS_NODEV;
    if (v.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (v.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (v.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (v.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

/* ------------------------------------------------------------------ seccomp */

/* Syscalls no sample needs that widen the attack surface (SCORING.md 1.9). */
static const char *const deny_eperm[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    "setns",
    "unshare",
    "swapon",
    "swapoff",
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "modify_ldt",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
    "mknod",
    "mknodat",
    "fanotify_init",
    "vhangup",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "setrlimit",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
};

static int rule_errno(scmp_filter_ctx ctx, int errnum, const char *name, unsigned n,
                      struct scmp_arg_cmp a)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0; /* not on this architecture / libseccomp */
    return n ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 1, a)
             : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 0);
}

enum filter_kind {
    FILTER_NS,     /* samples in namespace mode */
    FILTER_STRICT, /* degraded mode: also no processes, no sockets, signals to itself only */
    FILTER_ZYGOTE, /* the fork server: may build namespaces, mounts and limits for its
                    * children, which then load FILTER_NS themselves */
};

/* Syscalls the fork server needs and samples must not have. */
static bool zygote_allows(const char *name)
{
    static const char *const allowed[] = {"mount", "umount2", "unshare", "setrlimit"};
    for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
        if (strcmp(allowed[i], name) == 0) return true;
    return false;
}

/* The filter: default allow, with the denials above. FILTER_STRICT (degraded
 * mode) also denies process creation and every socket, and signals to any
 * process but `self`. */
static scmp_filter_ctx filter_build(int kind, pid_t self)
{
    bool strict = kind == FILTER_STRICT, zygote = kind == FILTER_ZYGOTE;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return NULL;
    struct scmp_arg_cmp none = SCMP_A0(SCMP_CMP_EQ, 0);
    int rc = 0;
    for (size_t i = 0; i < ARRAY_LEN(deny_eperm) && rc == 0; i++)
        if (!zygote || !zygote_allows(deny_eperm[i]))
            rc = rule_errno(ctx, EPERM, deny_eperm[i], 0, none);
    /* Limits may be read, never raised or lowered. */
    if (rc == 0 && !zygote) rc = rule_errno(ctx, EPERM, "prlimit64", 1, SCMP_A2(SCMP_CMP_NE, 0));
    /* personality(0xffffffff) only queries. */
    if (rc == 0) rc = rule_errno(ctx, EPERM, "personality", 1, SCMP_A0(SCMP_CMP_NE, 0xffffffffUL));
    /* No network families: the namespace has no network anyway. */
    if (rc == 0)
        rc = strict ? rule_errno(ctx, EAFNOSUPPORT, "socket", 0, none)
                    : rule_errno(ctx, EAFNOSUPPORT, "socket", 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    /* clone3 hides its flags behind a pointer: make glibc fall back to clone. */
    if (rc == 0) rc = rule_errno(ctx, ENOSYS, "clone3", 0, none);
    /* No new namespaces through clone either. */
    static const unsigned long ns_flags[] = {CLONE_NEWUSER,  CLONE_NEWNS,  CLONE_NEWPID,
                                             CLONE_NEWNET,   CLONE_NEWIPC, CLONE_NEWUTS,
                                             CLONE_NEWCGROUP};
    for (size_t i = 0; i < ARRAY_LEN(ns_flags) && rc == 0 && !zygote; i++)
        rc = rule_errno(ctx, EPERM, "clone", 1,
                        SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
    if (strict && rc == 0) {
        /* Nothing would reap a setsid()-escaped child here: no processes at
         * all, threads only. */
        rc = rule_errno(ctx, EAGAIN, "fork", 0, none);
        if (rc == 0) rc = rule_errno(ctx, EAGAIN, "vfork", 0, none);
        if (rc == 0)
            rc = rule_errno(ctx, EAGAIN, "clone", 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
        /* Signals only to itself: kill(getppid()), kill(-1) and killpg
         * would otherwise reach every process of the uid. */
        if (rc == 0) rc = rule_errno(ctx, EPERM, "kill", 1, SCMP_A0(SCMP_CMP_NE, (uint64_t)self));
        if (rc == 0) rc = rule_errno(ctx, EPERM, "tgkill", 1, SCMP_A0(SCMP_CMP_NE, (uint64_t)self));
        if (rc == 0)
            rc = rule_errno(ctx, EPERM, "rt_sigqueueinfo", 1, SCMP_A0(SCMP_CMP_NE, (uint64_t)self));
        if (rc == 0)
            rc = rule_errno(ctx, EPERM, "rt_tgsigqueueinfo", 1,
                            SCMP_A0(SCMP_CMP_NE, (uint64_t)self));
        if (rc == 0) rc = rule_errno(ctx, EPERM, "tkill", 0, none);
        if (rc == 0) rc = rule_errno(ctx, EPERM, "pidfd_open", 0, none);
        if (rc == 0) rc = rule_errno(ctx, EPERM, "pidfd_send_signal", 0, none);
        if (rc == 0) rc = rule_errno(ctx, EPERM, "pidfd_getfd", 0, none);
        if (rc == 0) rc = rule_errno(ctx, EPERM, "process_madvise", 0, none);
    }
    if (rc != 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

/* Degraded mode's filter names its own pid; it is compiled once with this
 * stand-in and each child writes its pid over it (children do not allocate). */
#define PID_PLACEHOLDER 0x7ffe5a1dU

/* Compiles a filter to raw BPF (loaded in each child with one prctl:
 * building it with libseccomp per sample would cost more, and allocate). */
static int filter_export(int kind, struct sock_filter **out, unsigned short *len, err *e)
{
    scmp_filter_ctx ctx = filter_build(kind, (pid_t)PID_PLACEHOLDER);
    if (!ctx) return err_set(e, ERR_SANDBOX, "sandbox: cannot build the seccomp filter");
    int ret = 0;
    int fd = (int)syscall(SYS_memfd_create, "tally-bpf", MFD_CLOEXEC);
    if (fd < 0) {
        ret = err_errno(e, "sandbox: memfd_create");
        goto out;
    }
    if (seccomp_export_bpf(ctx, fd) < 0) {
        ret = err_set(e, ERR_SANDBOX, "sandbox: seccomp_export_bpf failed");
        goto out;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > 4096) {
        ret = err_set(e, ERR_SANDBOX, "sandbox: unexpected seccomp program size %lld",
                      (long long)size);
        goto out;
    }
    *out = malloc((size_t)size);
    if (!*out) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (pread(fd, *out, (size_t)size, 0) != size) {
        ret = err_errno(e, "sandbox: reading the seccomp program");
        free(*out);
        *out = NULL;
        goto out;
    }
    *len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
out:
    if (fd >= 0) close(fd);
    seccomp_release(ctx);
    return ret;
}

/* Child side: writes our pid over the placeholder and loads the filter. */
static int filter_load(struct sock_filter *prog, unsigned short len, bool patch_pid)
{
    if (patch_pid) {
        uint32_t self = (uint32_t)getpid();
        for (unsigned short i = 0; i < len; i++)
            if (prog[i].k == PID_PLACEHOLDER) prog[i].k = self;
    }
    struct sock_fprog fp = {len, prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp);
}

/* ------------------------------------------------------------------ landlock */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

static int landlock_probe_abi(void)
{
#ifdef SYS_landlock_create_ruleset
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v > 0 ? (int)v : 0;
#else
    return 0;
#endif
}

static uint64_t landlock_handled(int abi)
{
    uint64_t all = (1ULL << 13) - 1; /* ABI 1: execute .. make_sym */
    if (abi >= 2) all |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) all |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5) all |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return all;
}

/* Child side: reads (and runs) only under the system dirs, reads and
 * writes only in the work dir and a few devices. Returns -1 on failure. */
static int landlock_apply(const sandbox *sb, const char *workdir)
{
#ifdef SYS_landlock_create_ruleset
    uint64_t handled = landlock_handled(sb->landlock_abi);
    struct landlock_ruleset_attr attr = {.handled_access_fs = handled};
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0) return -1;
    const uint64_t file_ro = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE;
    const uint64_t dir_ro = file_ro | LANDLOCK_ACCESS_FS_READ_DIR;
    uint64_t file_rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
    if (sb->landlock_abi >= 3) file_rw |= LANDLOCK_ACCESS_FS_TRUNCATE;
    struct rule {
        const char *path;
        uint64_t access;
    } rules[32];
    size_t n = 0;
    for (size_t i = 0; i < sb->n_mirrors && n < 20; i++)
        if (!sb->mirrors[i].link) rules[n++] = (struct rule){sb->mirrors[i].path, dir_ro};
    rules[n++] = (struct rule){"/etc", dir_ro};
    rules[n++] = (struct rule){"/dev/null", file_rw};
    rules[n++] = (struct rule){"/dev/zero", file_rw};
    rules[n++] = (struct rule){"/dev/urandom", file_rw};
    rules[n++] = (struct rule){"/dev/random", file_rw};
    rules[n++] = (struct rule){workdir, handled};
    for (size_t i = 0; i < n; i++) {
        int fd = open(rules[i].path, O_PATH | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        uint64_t acc = rules[i].access & handled;
        if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) acc &= file_rw | file_ro;
        struct landlock_path_beneath_attr pb = {.allowed_access = acc, .parent_fd = fd};
        long r = syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
        close(fd);
        if (r < 0) {
            close(rs);
            return -1;
        }
    }
    long r = syscall(SYS_landlock_restrict_self, rs, 0);
    close(rs);
    return r < 0 ? -1 : 0;
#else
    (void)sb;
    (void)workdir;
    return -1;
#endif
}

/* ------------------------------------------------------------------ children */

/* What a child needs, prepared before fork so that children never allocate
 * before exec (except degraded mode's libseccomp filter). */
typedef struct spawn_ctx {
    const sandbox *sb;
    const sandbox_job *job;
    pid_t harness;
    int fds[8];          /* in the harness: what becomes 0..7 in the child (7: -1 = none) */
    bool zygote;         /* this is the fork server: its limits and filter */
    const char *workdir; /* degraded/none: the private host dir */
    char *const *envp;
} spawn_ctx;

static void child_die(const char *what)
{
    int en = errno;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "E %s: %s\n", what, strerror(en));
    if (n > 0) {
        ssize_t w = write(6, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)w;
    }
    _exit(127);
}

static void child_fds(const int src[8])
{
    int n = src[7] >= 0 ? 8 : 7;
    int tmp[8];
    for (int i = 0; i < n; i++) {
        tmp[i] = fcntl(src[i], F_DUPFD, 16);
        if (tmp[i] < 0) _exit(126);
    }
    for (int i = 0; i < n; i++)
        if (dup2(tmp[i], i) < 0) _exit(126);
    if (syscall(SYS_close_range, (unsigned)n, ~0U, 0) != 0)
        for (int fd = n; fd < 4096; fd++) close(fd);
    if (fcntl(6, F_SETFD, FD_CLOEXEC) < 0) child_die("fcntl");
}

static void child_signals_default(void)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
}

static void child_drop_ids(uid_t uid, gid_t gid)
{
    if (setgroups(0, NULL) != 0) child_die("setgroups");
    if (setresgid(gid, gid, gid) != 0) child_die("setresgid");
    if (setresuid(uid, uid, uid) != 0) child_die("setresuid");
    if (getuid() != uid || geteuid() != uid) {
        errno = EPERM;
        child_die("uid did not change");
    }
}

static void child_parent_death(pid_t expect_parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_die("prctl(PDEATHSIG)");
    if (expect_parent > 0 && getppid() != expect_parent) _exit(125);
}

static void set_limit(int res, rlim_t soft, rlim_t hard, const char *what)
{
    struct rlimit rl = {soft, hard};
    if (setrlimit(res, &rl) != 0) {
        /* Never raise past what we have: clamp and retry. */
        struct rlimit cur;
        if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
            if (rl.rlim_max > cur.rlim_max) rl.rlim_max = cur.rlim_max;
            if (rl.rlim_cur > rl.rlim_max) rl.rlim_cur = rl.rlim_max;
            if (setrlimit(res, &rl) == 0) return;
        }
        child_die(what);
    }
}

static void child_limits(const spawn_ctx *c, bool nproc)
{
    const sandbox_settings *s = &c->sb->s;
    if (c->zygote) {
        /* The fork server lives as long as the sandbox; its children set
         * their own (lower) limits. Hard limits here bound theirs. */
        set_limit(RLIMIT_AS, s->mem_bytes, s->mem_bytes, "setrlimit(AS)");
        set_limit(RLIMIT_DATA, s->mem_bytes, s->mem_bytes, "setrlimit(DATA)");
        set_limit(RLIMIT_FSIZE, s->fsize_bytes, s->fsize_bytes, "setrlimit(FSIZE)");
        set_limit(RLIMIT_NOFILE, 1024, 1024, "setrlimit(NOFILE)");
        set_limit(RLIMIT_NPROC, 4096, 4096, "setrlimit(NPROC)");
        set_limit(RLIMIT_CORE, 0, 0, "setrlimit(CORE)");
        return;
    }
    double cpu = c->job->cpu_s > 0 ? c->job->cpu_s : 10.0;
    rlim_t cpu_soft = (rlim_t)ceil(cpu) + 1;
    set_limit(RLIMIT_CPU, cpu_soft, cpu_soft + 1, "setrlimit(CPU)");
    set_limit(RLIMIT_AS, s->mem_bytes, s->mem_bytes, "setrlimit(AS)");
    set_limit(RLIMIT_DATA, s->mem_bytes, s->mem_bytes, "setrlimit(DATA)");
    set_limit(RLIMIT_FSIZE, s->fsize_bytes, s->fsize_bytes, "setrlimit(FSIZE)");
    set_limit(RLIMIT_NOFILE, (rlim_t)s->nofile, (rlim_t)s->nofile, "setrlimit(NOFILE)");
    set_limit(RLIMIT_STACK, 8u << 20, 8u << 20, "setrlimit(STACK)");
    set_limit(RLIMIT_CORE, 0, 0, "setrlimit(CORE)");
    set_limit(RLIMIT_MEMLOCK, 0, 0, "setrlimit(MEMLOCK)");
    set_limit(RLIMIT_MSGQUEUE, 0, 0, "setrlimit(MSGQUEUE)");
    if (nproc) set_limit(RLIMIT_NPROC, (rlim_t)s->nproc, (rlim_t)s->nproc, "setrlimit(NPROC)");
}

/* Empties the capability bounding set (needs CAP_SETPCAP, so it comes
 * before any uid change). */
static void child_drop_bounding(void)
{
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL) break;
}

/* Clears the ambient, permitted, effective and inheritable sets. */
static void child_clear_caps(void)
{
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0) child_die("capset");
}

static void child_exec(const spawn_ctx *c)
{
    execve(c->sb->python, c->sb->argv, c->envp);
    child_die("execve(python)");
}

static void child_load_bpf(const spawn_ctx *c)
{
    const sandbox *sb = c->sb;
    if (c->zygote) {
        if (filter_load(sb->bpf_zygote, sb->bpf_zygote_len, false) != 0) child_die("seccomp");
    } else {
        if (filter_load(sb->bpf, sb->bpf_len, false) != 0) child_die("seccomp");
    }
}

/* C: the runner process of namespace mode. */
static void run_runner_ns(const spawn_ctx *c)
{
    const sandbox *sb = c->sb;
    child_drop_bounding();
    if (sb->level == LVL_NS_ROOT) child_drop_ids(sb->sample_uid, sb->sample_gid);
    child_clear_caps();
    child_parent_death(1);
    child_limits(c, true);
    if (chdir("/work") != 0) child_die("chdir(/work)");
    child_load_bpf(c);
    child_exec(c);
}

static void mkpath(const char *root, const char *rel, char *out, size_t n)
{
    snprintf(out, n, "%s%s", root, rel);
}

static void make_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) child_die(path);
    size_t len = content ? strlen(content) : 0;
    if (len && write(fd, content, len) != (ssize_t)len) child_die(path);
    close(fd);
}

static void bind_ro_later(const char *src, const char *dst, bool rec)
{
    if (mount(src, dst, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) != 0) child_die(dst);
}

static void remount_ro(const char *path, unsigned long keep)
{
    unsigned long fl = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep;
    if (mount(NULL, path, NULL, fl, NULL) != 0) child_die(path);
}

/* B: builds the new root (read-only system dirs, a private tmpfs at /work
 * and /tmp, a fresh /proc, a minimal /dev) and pivots into it. */
static void setup_root(const spawn_ctx *c)
{
    const sandbox *sb = c->sb;
    const char *R = sb->newroot;
    char p[PATH_MAX], opts[160];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_die("mount(/, private)");
    if (mount("tmpfs", R, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=1024,mode=0755") != 0)
        child_die("mount(tmpfs root)");
    static const char *const dirs[] = {"/oldroot", "/proc", "/dev", "/etc", "/work", "/tmp"};
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
        mkpath(R, dirs[i], p, sizeof p);
        if (mkdir(p, 0755) != 0) child_die(p);
    }
    for (size_t i = 0; i < sb->n_mirrors; i++) {
        const mirror *m = &sb->mirrors[i];
        mkpath(R, m->path, p, sizeof p);
        /* Create the parents of extra paths (/opt/python -> /opt). */
        for (char *q = p + strlen(R) + 1; *q; q++) {
            if (*q != '/') continue;
            *q = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) child_die(p);
            *q = '/';
        }
        if (m->link) {
            if (symlink(m->link, p) != 0) child_die(p);
        } else {
            if (mkdir(p, 0755) != 0 && errno != EEXIST) child_die(p);
            bind_ro_later(m->path, p, true);
        }
    }
    /* /etc: only what the interpreter and getpwuid need. */
    mkpath(R, "/etc/passwd", p, sizeof p);
    make_file(p, "root:x:0:0:root:/:/usr/sbin/nologin\n"
                 "sandbox:x:1000:1000:sandbox:/work:/usr/sbin/nologin\n"
                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    mkpath(R, "/etc/group", p, sizeof p);
    make_file(p, "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n");
    if (access("/etc/ld.so.cache", R_OK) == 0) {
        mkpath(R, "/etc/ld.so.cache", p, sizeof p);
        make_file(p, NULL);
        bind_ro_later("/etc/ld.so.cache", p, false);
    }
    char link[PATH_MAX];
    ssize_t ln = readlink("/etc/localtime", link, sizeof link - 1);
    if (ln > 0) {
        link[ln] = 0;
        mkpath(R, "/etc/localtime", p, sizeof p);
        if (symlink(link, p) != 0) child_die(p);
    }
    /* /dev: the harmless character devices, bound from the host. */
    static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                       "/dev/urandom"};
    for (size_t i = 0; i < ARRAY_LEN(devs); i++) {
        if (access(devs[i], F_OK) != 0) continue;
        mkpath(R, devs[i], p, sizeof p);
        make_file(p, NULL);
        if (mount(devs[i], p, NULL, MS_BIND, NULL) != 0) child_die(p);
    }
    static const char *const dlinks[][2] = {{"/proc/self/fd", "/dev/fd"},
                                            {"/proc/self/fd/0", "/dev/stdin"},
                                            {"/proc/self/fd/1", "/dev/stdout"},
                                            {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < ARRAY_LEN(dlinks); i++) {
        mkpath(R, dlinks[i][1], p, sizeof p);
        if (symlink(dlinks[i][0], p) != 0) child_die(p);
    }
    /* A /proc of this PID namespace only (optional: some containers forbid it). */
    mkpath(R, "/proc", p, sizeof p);
    if (sb->has_proc && mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_die("mount(proc)");
    /* The private, size-limited work dir, also seen as /tmp. */
    if (sb->level == LVL_NS_ROOT)
        snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%d,mode=0700,uid=%u,gid=%u",
                 (unsigned long long)sb->s.tmpfs_bytes, sb->s.tmpfs_inodes,
                 (unsigned)sb->sample_uid, (unsigned)sb->sample_gid);
    else
        snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%d,mode=0700",
                 (unsigned long long)sb->s.tmpfs_bytes, sb->s.tmpfs_inodes);
    mkpath(R, "/work", p, sizeof p);
    if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) child_die("mount(work)");
    char t[PATH_MAX];
    mkpath(R, "/tmp", t, sizeof t);
    if (mount(p, t, NULL, MS_BIND, NULL) != 0) child_die("mount(tmp)");
    /* Switch roots and forget the old one. */
    mkpath(R, "/oldroot", p, sizeof p);
    if (syscall(SYS_pivot_root, R, p) != 0) child_die("pivot_root");
    if (chdir("/") != 0) child_die("chdir(/)");
    if (umount2("/oldroot", MNT_DETACH) != 0) child_die("umount(oldroot)");
    if (rmdir("/oldroot") != 0) child_die("rmdir(oldroot)");
    for (size_t i = 0; i < sb->n_mirrors; i++)
        if (!sb->mirrors[i].link) remount_ro(sb->mirrors[i].path, sb->mirrors[i].flags);
    if (access("/etc/ld.so.cache", F_OK) == 0) remount_ro("/etc/ld.so.cache", 0);
    remount_ro("/", 0);
    if (sethostname("sandbox", 7) != 0) child_die("sethostname");
}

/* B's answer to the harness's SIGUSR1: kill everything else in the
 * namespace, so that B reaps the runner normally and reports its usage (a
 * SIGKILLed PID 1 lets the kernel reap the namespace without accounting). */
static void init_on_usr1(int sig)
{
    (void)sig;
    kill(-1, SIGKILL);
}

/* B: PID 1 of the sample's namespaces. */
static void run_init(const spawn_ctx *c)
{
    const sandbox *sb = c->sb;
    child_parent_death(0);
    prctl(PR_SET_DUMPABLE, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = init_on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    setup_root(c);
    pid_t runner = fork();
    if (runner < 0) child_die("fork(runner)");
    if (runner == 0) {
        signal(SIGUSR1, SIG_DFL);
        run_runner_ns(c);
    }
    if (sb->level == LVL_NS_ROOT) {
        child_drop_ids(sb->sample_uid, sb->sample_gid);
        child_parent_death(0);
        prctl(PR_SET_DUMPABLE, 0);
    }
    for (int fd = 0; fd < 6; fd++) close(fd);
    close(7);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        int s;
        struct rusage r;
        pid_t p = wait4(-1, &s, 0, &r);
        if (p == runner) {
            st = s;
            ru = r;
            break;
        }
        if (p < 0 && errno != EINTR) break;
    }
    long long cpu_us = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                       (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    char msg[128];
    int n = snprintf(msg, sizeof msg, "S %d %lld %ld\n", st, cpu_us, ru.ru_maxrss);
    ssize_t w = write(6, msg, (size_t)n);
    (void)w;
    /* Everything else in the namespace dies with us. */
    _exit(0);
}

static void write_map(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_die(path);
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) child_die(path);
    close(fd);
}

/* A: the process the harness forks and supervises. */
static void run_outer(const spawn_ctx *c)
{
    const sandbox *sb = c->sb;
    if (setsid() < 0) _exit(126);
    child_fds(c->fds);
    child_signals_default();
    if (sb->root && sb->level != LVL_NS_ROOT) {
        child_drop_bounding();
        child_drop_ids(sb->sample_uid, sb->sample_gid);
        child_clear_caps();
    }
    child_parent_death(c->harness);

    if (sb->level == LVL_DEGRADED || sb->level == LVL_NONE) {
        if (chdir(c->workdir) != 0) child_die("chdir(workdir)");
        child_limits(c, false);
        if (sb->level == LVL_DEGRADED) {
            child_clear_caps();
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_die("prctl(NO_NEW_PRIVS)");
            if (sb->landlock_abi > 0 && landlock_apply(sb, c->workdir) != 0) child_die("landlock");
            /* Our copy of the program (after fork) is ours to patch. */
            if (filter_load(sb->bpf_strict, sb->bpf_strict_len, true) != 0) child_die("seccomp");
        }
        child_exec(c);
    }

    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
    if (sb->level == LVL_USERNS) flags |= CLONE_NEWUSER;
    if (unshare(flags | CLONE_NEWCGROUP) != 0 && unshare(flags) != 0) child_die("unshare");
    if (sb->level == LVL_USERNS) {
        /* Our /proc/self files must be ours to write: a uid change made the
         * process non-dumpable (root-owned /proc entries). */
        prctl(PR_SET_DUMPABLE, 1);
        char map[64];
        write_map("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "%d %u 1", SANDBOX_INNER_ID, (unsigned)sb->sample_uid);
        write_map("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "%d %u 1", SANDBOX_INNER_ID, (unsigned)sb->sample_gid);
        write_map("/proc/self/gid_map", map);
    }
    prctl(PR_SET_DUMPABLE, 0);
    pid_t init = fork();
    if (init < 0) child_die("fork(init)");
    if (init == 0) run_init(c);
    /* The harness kills B rather than us, so that we still reap the tree
     * and our usage (which it reads) covers all of it. */
    char msg[32];
    int n = snprintf(msg, sizeof msg, "P %d\n", (int)init);
    ssize_t w = write(6, msg, (size_t)n);
    (void)w;
    for (int fd = 0; fd < 6; fd++) close(fd);
    close(7);
    int st;
    while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
    }
    _exit(0);
}

/* ------------------------------------------------------------------ the pool */

typedef struct slot {
    bool busy;
    size_t job;
    pid_t pid;
    int pidfd;
    int out_fd, err_fd, res_fd, st_fd;
    bool exited;
    int wstatus;
    struct rusage ru;
    double start, exit_time, deadline, kill_time;
    char nonce[NONCE_HEX + 1];
    char *workdir;
    char **envp;
    buf status;
    bool killed;
    bool group_killed;
    double cpu_soft_s; /* the job's RLIMIT_CPU soft limit */
    int init_pidfd;    /* namespace mode: B, the namespace's PID 1 */
    bool init_seen;
    unsigned long zjob; /* run by the fork server under this id (0: forked by us) */
    bool lost;          /* the fork server died under it */
} slot;

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static char **env_build(const sandbox *sb, const char *home)
{
    char **env = calloc(12, sizeof *env);
    if (!env) return NULL;
    size_t n = 0;
    env[n++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
    env[n++] = strdup("LANG=C.UTF-8");
    env[n++] = strdup("LC_ALL=C.UTF-8");
    env[n++] = strdup("PYTHONDONTWRITEBYTECODE=1");
    env[n++] = strdup("OMP_NUM_THREADS=1");
    if (!sb->s.hash_seed_random) env[n++] = strdup("PYTHONHASHSEED=0");
    size_t hl = strlen(home) + 8;
    for (int i = 0; i < 2; i++) {
        char *v = malloc(hl);
        if (v) snprintf(v, hl, "%s=%s", i == 0 ? "HOME" : "TMPDIR", home);
        env[n++] = v;
    }
    for (size_t i = 0; i < n; i++)
        if (!env[i]) {
            for (size_t j = 0; j < n; j++) free(env[j]);
            free(env);
            return NULL;
        }
    return env;
}

static void env_free(char **env)
{
    if (!env) return;
    for (size_t i = 0; env[i]; i++) free(env[i]);
    free(env);
}

static void slot_reset(slot *sl)
{
    memset(sl, 0, sizeof *sl);
    sl->pid = -1;
    sl->pidfd = sl->out_fd = sl->err_fd = sl->res_fd = sl->st_fd = sl->init_pidfd = -1;
    sl->status = (buf)BUF_INIT;
}

/* ------------------------------------------------------------------ fork server */

static int pipe_read(int *fd, buf *keep, size_t cap, uint64_t *total);
static void frames_parse(slot *sl, sandbox_result *res, const sandbox_job *job);

/* Namespace mode (with a user namespace) can start samples from a fork
 * server instead of a fresh interpreter each: the runner in "zygote" mode,
 * started once in a sandbox of its own (A, B as usual; its filter lets it
 * build namespaces for its children), preloads the modules programs
 * commonly import, and for each job forks a process that creates new
 * user, mount, PID, network, IPC and UTS namespaces, mounts a private
 * tmpfs and /proc, sets the job's limits, drops every capability, loads the
 * samples' seccomp filter and only then reads the job. The sample gets the
 * same isolation as a forked-and-exec'd one, without an interpreter start
 * and module imports per sample (the reference forks its warm harness too).
 * The harness sends each job's five fds over a SOCK_SEQPACKET socket; the
 * job's init reports its status on the status pipe as B does; a job is done
 * when all its pipes are closed. */

static void zygote_stop(sandbox *sb)
{
    struct zygote *z = &sb->zy;
    if (z->pid > 0) {
        kill(-z->pid, SIGKILL);
        kill(z->pid, SIGKILL);
        int st;
        while (waitpid(z->pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    close_fd(&z->pidfd);
    close_fd(&z->ctl);
    close_fd(&z->res_fd);
    close_fd(&z->st_fd);
    close_fd(&z->out_fd);
    z->pid = -1;
    z->enabled = false;
}

static int b64_append(buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        if (buf_append(b, q, 4) < 0) return ERR_NOMEM;
    }
    return 0;
}

/* Starts the fork server and waits for its "ready" frame. */
static int zygote_start(sandbox *sb, err *e)
{
    struct zygote *z = &sb->zy;
    int ret = 0, sv[2] = {-1, -1}, res_p[2] = {-1, -1}, st_p[2] = {-1, -1}, out_p[2] = {-1, -1};
    int payload_fd = -1;
    char **envp = NULL;
    buf pl = BUF_INIT;
    sandbox_result r = SANDBOX_RESULT_INIT;
    slot sl;
    slot_reset(&sl);
    buf_init(&r.chan_, 1u << 16);
    buf_init(&sl.status, STATUS_CAP);

    unsigned char rnd[NONCE_HEX / 2];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        ret = err_errno(e, "sandbox: getrandom");
        goto out;
    }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(sl.nonce + 2 * i, 3, "%02x", rnd[i]);
    int rc = buf_printf(&pl, "%s\nzygote\n{\"bpf\":\"", sl.nonce);
    if (!rc) rc = b64_append(&pl, (const unsigned char *)sb->bpf, sb->bpf_len * sizeof *sb->bpf);
    if (!rc)
        rc = buf_printf(&pl,
                        "\",\"tmpfs\":\"size=%llu,nr_inodes=%d,mode=0700\",\"limits\":{\"as\":%llu,"
                        "\"fsize\":%llu,\"nofile\":%d,\"nproc\":%d}}",
                        (unsigned long long)sb->s.tmpfs_bytes, sb->s.tmpfs_inodes,
                        (unsigned long long)sb->s.mem_bytes, (unsigned long long)sb->s.fsize_bytes,
                        sb->s.nofile, sb->s.nproc);
    if (rc) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((ret = memfd_sealed("tally-zygote", pl.data, pl.len, &payload_fd, e)) < 0) goto out;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) || pipe2(res_p, O_CLOEXEC) ||
        pipe2(st_p, O_CLOEXEC) || pipe2(out_p, O_CLOEXEC)) {
        ret = err_errno(e, "sandbox: fork server pipes");
        goto out;
    }
    envp = env_build(sb, "/work");
    if (!envp) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    sandbox_job job = SANDBOX_JOB_INIT;
    spawn_ctx c = {
        sb,
        &job,
        getpid(),
        {sb->devnull_fd, out_p[1], out_p[1], sb->runner_fd, res_p[1], payload_fd, st_p[1], sv[1]},
        true,
        NULL,
        envp};
    pid_t pid = fork();
    if (pid < 0) {
        ret = err_errno(e, "sandbox: fork");
        goto out;
    }
    if (pid == 0) run_outer(&c);
    z->pid = pid;
    z->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    z->ctl = sv[0];
    sv[0] = -1;
    z->res_fd = res_p[0];
    z->st_fd = st_p[0];
    z->out_fd = out_p[0];
    res_p[0] = st_p[0] = out_p[0] = -1;
    fcntl(z->res_fd, F_SETFL, O_NONBLOCK);
    fcntl(z->st_fd, F_SETFL, O_NONBLOCK);
    fcntl(z->out_fd, F_SETFL, O_NONBLOCK);
    /* Wait for "ready" (or its death). */
    double deadline = time_now_s() + 30;
    sl.start = time_now_s();
    while (!r.ready) {
        double left = deadline - time_now_s();
        if (left <= 0) {
            ret = err_set(e, ERR_SANDBOX, "fork server: no answer");
            break;
        }
        struct pollfd pf[2] = {{z->res_fd, POLLIN, 0}, {z->st_fd, POLLIN, 0}};
        poll(pf, 2, (int)(left * 1000) + 1);
        pipe_read(&z->res_fd, &r.chan_, 1u << 16, NULL);
        frames_parse(&sl, &r, &job);
        if (z->st_fd >= 0) pipe_read(&z->st_fd, &sl.status, STATUS_CAP - 1, NULL);
        if (!r.ready && (z->res_fd < 0 || z->st_fd < 0)) {
            /* Its runner's "E ..." or error frame says why, when anything does. */
            const char *why = sl.status.len ? sl.status.data : "it exited before it was ready";
            ret = err_set(e, ERR_SANDBOX, "fork server: %.300s", why);
            break;
        }
    }
    if (ret == 0) z->enabled = true;
out:
    if (ret < 0) zygote_stop(sb);
    for (int i = 0; i < 2; i++) {
        close_fd(&sv[i]);
        close_fd(&res_p[i]);
        close_fd(&st_p[i]);
        close_fd(&out_p[i]);
    }
    close_fd(&payload_fd);
    env_free(envp);
    buf_release(&pl);
    buf_release(&sl.status);
    free(r.frames);
    buf_release(&r.chan_);
    return ret;
}

/* A job through the fork server must see what a forked-and-exec'd one sees:
 * no capabilities, no_new_privs, the seccomp filter, not root, its own
 * PID namespace and an empty private work dir. */
static int zygote_check(sandbox *sb, err *e)
{
    static const char payload[] =
        "program 10 20\n"
        "st = open('/proc/self/status').read()\n"
        "f = dict(l.split(':\\t', 1) for l in st.splitlines() if ':\\t' in l)\n"
        "for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'):\n"
        "    assert int(f[k], 16) == 0, k\n"
        "assert f['NoNewPrivs'].strip() == '1' and f['Seccomp'].strip() == '2'\n"
        "import posix\n"
        "assert posix.getuid() != 0 and posix.getpid() == 2 and posix.listdir('/work') == []\n";
    sandbox_job job = SANDBOX_JOB_INIT;
    job.payload = payload;
    job.payload_len = sizeof payload - 1;
    job.cpu_s = 10;
    job.wall_s = 20;
    sandbox_result r = SANDBOX_RESULT_INIT;
    int ret = sandbox_run_many(sb, &job, 1, 1, &r, e);
    if (ret == 0) {
        const sandbox_frame *f = sandbox_result_frame(&r, "result");
        if (!f || strcmp(f->data, "passed") != 0)
            ret = err_set(e, ERR_SANDBOX, "its check failed: %s",
                          r.setup_error ? r.setup_error
                          : f           ? f->data
                          : r.err.len   ? r.err.data
                                        : "no answer");
    }
    sandbox_result_release(&r);
    return ret;
}

/* Hands a job to the fork server; false when it is gone (the caller then
 * forks the job itself). */
static bool zygote_send_job(sandbox *sb, slot *sl, const sandbox_job *job, const int fds[5])
{
    struct zygote *z = &sb->zy;
    unsigned long id = ++z->next_job;
    char msg[64];
    int len = snprintf(msg, sizeof msg, "job %lu %.3f", id, job->cpu_s > 0 ? job->cpu_s : 10.0);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(5 * sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {msg, (size_t)len};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof cm.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(5 * sizeof(int));
    memcpy(CMSG_DATA(c), fds, 5 * sizeof(int));
    ssize_t w;
    while ((w = sendmsg(z->ctl, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (w != len) {
        zygote_stop(sb);
        return false;
    }
    sl->zjob = id;
    return true;
}

static void zygote_kill_job(sandbox *sb, slot *sl)
{
    char msg[32];
    int len = snprintf(msg, sizeof msg, "kill %lu", sl->zjob);
    if (sb->zy.ctl >= 0) send(sb->zy.ctl, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Starts job `j` in `sl`. Failures that concern only this job (a setup
 * step) are recorded in the result; the return value is < 0 only when the
 * harness itself is out of resources. */
static int slot_start(sandbox *sb, slot *sl, const sandbox_job *job, size_t j, sandbox_result *res,
                      err *e)
{
    int ret = 0;
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, res_p[2] = {-1, -1}, st_p[2] = {-1, -1};
    int payload_fd = -1;
    char *payload = NULL;
    slot_reset(sl);
    sl->job = j;
    buf_init(&res->out, 0);
    buf_init(&res->err, 0);
    buf_init(&res->chan_, (job->result_cap ? job->result_cap : (1u << 20)) + 4096);
    buf_init(&sl->status, STATUS_CAP);

    unsigned char rnd[NONCE_HEX / 2];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_errno(e, "sandbox: getrandom");
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(sl->nonce + 2 * i, 3, "%02x", rnd[i]);

    size_t plen = NONCE_HEX + 1 + job->payload_len + (job->payload2 ? job->payload2_len : 0);
    payload = malloc(plen);
    if (!payload) return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(payload, sl->nonce, NONCE_HEX);
    payload[NONCE_HEX] = '\n';
    if (job->payload_len) memcpy(payload + NONCE_HEX + 1, job->payload, job->payload_len);
    if (job->payload2 && job->payload2_len)
        memcpy(payload + NONCE_HEX + 1 + job->payload_len, job->payload2, job->payload2_len);
    ret = memfd_sealed("tally-payload", payload, plen, &payload_fd, e);
    free(payload);
    if (ret < 0) return ret;

    if (pipe2(out_p, O_CLOEXEC) || pipe2(err_p, O_CLOEXEC) || pipe2(res_p, O_CLOEXEC) ||
        pipe2(st_p, O_CLOEXEC)) {
        ret = err_errno(e, "sandbox: pipe");
        goto fail;
    }

    if (sb->level == LVL_DEGRADED || sb->level == LVL_NONE) {
        size_t n = strlen(sb->host_base) + 16;
        sl->workdir = malloc(n);
        if (!sl->workdir) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto fail;
        }
        snprintf(sl->workdir, n, "%s/job-XXXXXX", sb->host_base);
        if (!mkdtemp(sl->workdir)) {
            ret = err_errno(e, "sandbox: mkdtemp %s", sl->workdir);
            free(sl->workdir);
            sl->workdir = NULL;
            goto fail;
        }
        if (sb->root && chown(sl->workdir, sb->sample_uid, sb->sample_gid) != 0) {
            ret = err_errno(e, "sandbox: chown %s", sl->workdir);
            goto fail;
        }
        sl->envp = env_build(sb, sl->workdir);
    } else {
        sl->envp = env_build(sb, "/work");
    }
    if (!sl->envp) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }

    sl->start = time_now_s();
    sl->cpu_soft_s = ceil(job->cpu_s > 0 ? job->cpu_s : 10.0) + 1;
    int sent[5] = {out_p[1], err_p[1], res_p[1], payload_fd, st_p[1]};
    if (sb->zy.enabled && zygote_send_job(sb, sl, job, sent)) {
        /* The fork server has its own copies now. */
        sl->busy = true;
    } else {
        spawn_ctx c = {
            sb,
            job,
            getpid(),
            {sb->devnull_fd, out_p[1], err_p[1], sb->runner_fd, res_p[1], payload_fd, st_p[1], -1},
            false,
            sl->workdir,
            sl->envp};
        pid_t pid = fork();
        if (pid < 0) {
            ret = err_errno(e, "sandbox: fork");
            goto fail;
        }
        if (pid == 0) run_outer(&c);
        sl->pid = pid;
        sl->busy = true;
        sl->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    }
    double startup = job->startup_s > 0 ? job->startup_s : 30.0;
    sl->deadline = sl->start + startup;
    close(out_p[1]);
    close(err_p[1]);
    close(res_p[1]);
    close(st_p[1]);
    close(payload_fd);
    sl->out_fd = out_p[0];
    sl->err_fd = err_p[0];
    sl->res_fd = res_p[0];
    sl->st_fd = st_p[0];
    int fds[4] = {sl->out_fd, sl->err_fd, sl->res_fd, sl->st_fd};
    for (int i = 0; i < 4; i++) fcntl(fds[i], F_SETFL, O_NONBLOCK);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&out_p[i]);
        close_fd(&err_p[i]);
        close_fd(&res_p[i]);
        close_fd(&st_p[i]);
    }
    close_fd(&payload_fd);
    if (sl->workdir) {
        remove_tree(sl->workdir);
        free(sl->workdir);
        sl->workdir = NULL;
    }
    env_free(sl->envp);
    sl->envp = NULL;
    buf_release(&sl->status);
    return ret;
}

static void slot_kill_group(slot *sl)
{
    if (sl->group_killed) return;
    sl->group_killed = true;
    if (sl->init_pidfd >= 0) syscall(SYS_pidfd_send_signal, sl->init_pidfd, SIGKILL, NULL, 0);
    kill(-sl->pid, SIGKILL);
    kill(sl->pid, SIGKILL);
}

static void slot_kill(sandbox *sb, slot *sl, sandbox_result *res, int why)
{
    if (sl->killed) return;
    sl->killed = true;
    if (!res->kill) res->kill = why;
    sl->kill_time = time_now_s();
    /* A fork server job: its init gets SIGUSR1 through the server. */
    if (sl->zjob) {
        zygote_kill_job(sb, sl);
        return;
    }
    /* Namespace mode: B (PID 1) kills everything else on SIGUSR1, reaps
     * the runner and reports its usage, then exits, which ends the
     * namespace. If the tree has not gone within a second the pool loop
     * SIGKILLs B and A's process group. Degraded mode: the group now. */
    if (sl->init_pidfd >= 0 &&
        syscall(SYS_pidfd_send_signal, sl->init_pidfd, SIGUSR1, NULL, 0) == 0)
        return;
    slot_kill_group(sl);
}

/* Picks up "P <pid>" (B's pid, sent by A) from the status channel. */
static void slot_note_init(slot *sl)
{
    if (sl->init_seen) return;
    const char *p = memmem(sl->status.data, sl->status.len, "P ", 2);
    if (!p || (p != sl->status.data && p[-1] != '\n')) return;
    const char *nl = memchr(p, '\n', (size_t)(sl->status.data + sl->status.len - p));
    if (!nl) return;
    sl->init_seen = true;
    long pid = strtol(p + 2, NULL, 10);
    if (pid > 1 && pid < INT_MAX) sl->init_pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

/* Parses complete frames "<nonce> <key> <len>\n<data>" of the result channel. */
static void frames_parse(slot *sl, sandbox_result *res, const sandbox_job *job)
{
    buf *b = &res->chan_;
    while (!res->channel_corrupt && res->parsed_ < b->len) {
        const char *p = b->data + res->parsed_;
        size_t avail = b->len - res->parsed_;
        const char *nl = memchr(p, '\n', avail < 128 ? avail : 128);
        if (!nl) {
            if (avail >= 128) res->channel_corrupt = true;
            return;
        }
        size_t hl = (size_t)(nl - p);
        if (hl < NONCE_HEX + 4 || memcmp(p, sl->nonce, NONCE_HEX) != 0 || p[NONCE_HEX] != ' ') {
            res->channel_corrupt = true;
            return;
        }
        const char *k = p + NONCE_HEX + 1;
        const char *sp = memchr(k, ' ', (size_t)(nl - k));
        if (!sp || sp == k || sp - k > 32) {
            res->channel_corrupt = true;
            return;
        }
        for (const char *q = k; q < sp; q++)
            if (!((*q >= 'a' && *q <= 'z') || *q == '_')) {
                res->channel_corrupt = true;
                return;
            }
        size_t len = 0;
        const char *q = sp + 1;
        if (q == nl) {
            res->channel_corrupt = true;
            return;
        }
        for (; q < nl; q++) {
            if (*q < '0' || *q > '9' || len > ((size_t)1 << 40)) {
                res->channel_corrupt = true;
                return;
            }
            len = len * 10 + (size_t)(*q - '0');
        }
        if (hl + 1 + len > avail) return; /* incomplete */
        sandbox_frame *fr = realloc(res->frames, (res->n_frames + 1) * sizeof *fr);
        if (!fr) {
            res->channel_corrupt = true;
            return;
        }
        res->frames = fr;
        /* Offsets for now: the buffer may still move; pointers are set at the end. */
        fr[res->n_frames].key = (const char *)(uintptr_t)(k - b->data);
        fr[res->n_frames].data = (const char *)(uintptr_t)(nl + 1 - b->data);
        fr[res->n_frames].len = len;
        size_t klen = (size_t)(sp - k);
        res->n_frames++;
        res->parsed_ += hl + 1 + len;
        double now = time_now_s();
        if (klen == 5 && memcmp(k, "ready", 5) == 0 && !res->ready) {
            res->ready = true;
            res->ready_ms = (now - sl->start) * 1000.0;
            double wall = job->wall_s > 0 ? job->wall_s : 10.0;
            sl->deadline = now + wall + 1.0;
        } else if (klen == 4 && memcmp(k, "done", 4) == 0) {
            res->done = true;
            res->done_ms = (now - sl->start) * 1000.0;
            sl->deadline = now + DONE_GRACE_S;
        }
    }
}

static void frames_finish(sandbox_result *res)
{
    /* Turn offsets into pointers and NUL-terminate keys and data in place:
     * the byte after a key is ' ' and after data the next header starts or
     * the buffer ends, so copy what the NULs would overwrite first. */
    buf *b = &res->chan_;
    if (!res->n_frames) return;
    size_t total = 0;
    for (size_t i = 0; i < res->n_frames; i++) {
        size_t ko = (size_t)(uintptr_t)res->frames[i].key;
        size_t klen = 0;
        while (b->data[ko + klen] != ' ') klen++;
        total += klen + 1 + res->frames[i].len + 1;
    }
    char *store = malloc(total + 1);
    sandbox_frame *fr = res->frames;
    if (!store) {
        res->n_frames = 0;
        return;
    }
    size_t off = 0;
    for (size_t i = 0; i < res->n_frames; i++) {
        size_t ko = (size_t)(uintptr_t)fr[i].key;
        size_t dof = (size_t)(uintptr_t)fr[i].data;
        size_t klen = 0;
        while (b->data[ko + klen] != ' ') klen++;
        memcpy(store + off, b->data + ko, klen);
        store[off + klen] = 0;
        fr[i].key = store + off;
        off += klen + 1;
        memcpy(store + off, b->data + dof, fr[i].len);
        store[off + fr[i].len] = 0;
        fr[i].data = store + off;
        off += fr[i].len + 1;
    }
    /* The store replaces the raw channel (frames point into it). */
    buf_release(b);
    b->data = store;
    b->len = off;
    b->alloc = total + 1;
}

/* Reads what is available on fd into `keep` (up to cap), counting the rest. */
static int pipe_read(int *fd, buf *keep, size_t cap, uint64_t *total)
{
    char tmp[65536];
    for (;;) {
        ssize_t n = read(*fd, tmp, sizeof tmp);
        if (n > 0) {
            if (total) *total += (uint64_t)n;
            if (keep && keep->len < cap) {
                size_t take = (size_t)n;
                if (take > cap - keep->len) take = cap - keep->len;
                if (buf_append(keep, tmp, take) < 0) return -1;
            }
            continue;
        }
        if (n == 0) {
            close_fd(fd);
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        close_fd(fd);
        return 0;
    }
}

static void slot_read(sandbox *sb, slot *sl, sandbox_result *res, const sandbox_job *job)
{
    if (sl->out_fd >= 0) pipe_read(&sl->out_fd, &res->out, sb->s.out_cap, &res->out_total);
    if (sl->err_fd >= 0) pipe_read(&sl->err_fd, &res->err, sb->s.out_cap, &res->err_total);
    if (res->out_total + res->err_total > sb->s.out_hard)
        slot_kill(sb, sl, res, SANDBOX_KILL_OUTPUT);
    if (sl->res_fd >= 0) {
        size_t cap = job->result_cap ? job->result_cap : (1u << 20);
        uint64_t before = res->chan_.len;
        pipe_read(&sl->res_fd, &res->chan_, cap + 4096, NULL);
        if (res->chan_.len >= cap + 4096 && res->chan_.len > before)
            slot_kill(sb, sl, res, SANDBOX_KILL_RESULT);
        frames_parse(sl, res, job);
    }
    if (sl->st_fd >= 0) {
        pipe_read(&sl->st_fd, &sl->status, STATUS_CAP - 1, NULL);
        slot_note_init(sl);
    }
}

/* Notices the exit of A without reaping it first: while A is a zombie its
 * process group id cannot be reused, so the group kill below cannot hit a
 * stranger. Then reaps it with its resource usage (which includes B, C and
 * everything B reaped). */
static void slot_reap(slot *sl)
{
    if (sl->exited) return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)sl->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
        return;
    kill(-sl->pid, SIGKILL);
    int st;
    struct rusage ru;
    pid_t p;
    while ((p = wait4(sl->pid, &st, 0, &ru)) < 0 && errno == EINTR) {
    }
    if (p != sl->pid) return;
    sl->exited = true;
    sl->wstatus = st;
    sl->ru = ru;
    sl->exit_time = time_now_s();
}

static void slot_finish(sandbox *sb, slot *sl, sandbox_result *res)
{
    res->wall_ms = (sl->exit_time - sl->start) * 1000.0;
    res->cpu_ms = (double)(sl->ru.ru_utime.tv_sec + sl->ru.ru_stime.tv_sec) * 1000.0 +
                  (double)(sl->ru.ru_utime.tv_usec + sl->ru.ru_stime.tv_usec) / 1000.0;
    res->peak_rss_kb = sl->ru.ru_maxrss;
    int runner_status = sl->wstatus;
    bool have_status = sb->level == LVL_DEGRADED || sb->level == LVL_NONE;
    /* Status lines from A/B (trusted; still parsed defensively). */
    line_iter it = line_iter_start(sl->status.data, sl->status.len);
    const char *l;
    size_t n;
    while (line_iter_next(&it, &l, &n)) {
        if (n > 2 && l[0] == 'E' && l[1] == ' ' && !res->setup_error) {
            res->setup_error = strndup(l + 2, n - 2);
        } else if (n > 2 && l[0] == 'S' && l[1] == ' ') {
            char tmp[128];
            size_t m = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
            memcpy(tmp, l, m);
            tmp[m] = 0;
            int st;
            long long cpu_us;
            long rss;
            if (sscanf(tmp, "S %d %lld %ld", &st, &cpu_us, &rss) == 3 && cpu_us >= 0 && rss >= 0) {
                /* The runner's own usage, as B saw it when reaping it. */
                runner_status = st;
                have_status = true;
                res->cpu_ms = (double)cpu_us / 1000.0;
                res->peak_rss_kb = rss;
            }
        }
    }
    if (have_status) {
        if (WIFEXITED(runner_status)) {
            res->exited = true;
            res->exit_code = WEXITSTATUS(runner_status);
        } else if (WIFSIGNALED(runner_status)) {
            res->term_signal = WTERMSIG(runner_status);
        }
    } else if (sl->killed || WIFSIGNALED(sl->wstatus)) {
        res->term_signal = SIGKILL;
    }
    /* A runner the kernel stopped at RLIMIT_CPU: SIGXCPU at the soft limit,
     * SIGKILL at the hard one (when SIGXCPU was ignored). */
    if (!res->kill && res->term_signal == SIGXCPU) res->kill = SANDBOX_KILL_CPU;
    if (!res->kill && !sl->killed && res->term_signal == SIGKILL) {
        double cpu = sl->cpu_soft_s;
        if (res->cpu_ms >= (cpu - 0.1) * 1000.0) res->kill = SANDBOX_KILL_CPU;
    }
    if (have_status && sb->level != LVL_DEGRADED && sb->level != LVL_NONE && res->exited &&
        res->exit_code == 127 && !res->setup_error && !res->ready)
        res->setup_error = strdup("the runner could not be started");
    if (sl->lost && !have_status && !res->setup_error)
        res->setup_error = strdup("the fork server stopped during the job");
    frames_finish(res);
    close_fd(&sl->out_fd);
    close_fd(&sl->err_fd);
    close_fd(&sl->res_fd);
    close_fd(&sl->st_fd);
    close_fd(&sl->pidfd);
    close_fd(&sl->init_pidfd);
    if (sl->workdir) {
        remove_tree(sl->workdir);
        free(sl->workdir);
    }
    env_free(sl->envp);
    buf_release(&sl->status);
    slot_reset(sl);
}

int sandbox_run_many(sandbox *sb, const sandbox_job *jobs, size_t n, int workers,
                     sandbox_result *results, err *e)
{
    if (!sb || (n && (!jobs || !results)))
        return err_set(e, ERR_INVALID, "sandbox_run_many: bad arguments");
    if (workers <= 0) workers = sandbox_cpu_count();
    if ((size_t)workers > n) workers = (int)(n ? n : 1);
    int ret = 0;
    slot *slots = calloc((size_t)workers, sizeof *slots);
    struct pollfd *pfd = calloc((size_t)workers * 5, sizeof *pfd);
    if (!slots || !pfd) {
        free(slots);
        free(pfd);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < workers; i++) slot_reset(&slots[i]);
    size_t next = 0, done = 0;
    int busy = 0;
    while (done < n) {
        /* Fill free slots. */
        for (int i = 0; i < workers && next < n; i++) {
            if (slots[i].busy) continue;
            sandbox_result_release(&results[next]);
            ret = slot_start(sb, &slots[i], &jobs[next], next, &results[next], e);
            if (ret < 0) goto out;
            next++;
            busy++;
        }
        /* Wait for pipes, exits and deadlines. */
        size_t np = 0;
        double now = time_now_s(), wake = now + 1.0;
        for (int i = 0; i < workers; i++) {
            slot *sl = &slots[i];
            if (!sl->busy) continue;
            int fds[5] = {sl->out_fd, sl->err_fd, sl->res_fd, sl->st_fd,
                          sl->exited ? -1 : sl->pidfd};
            for (int k = 0; k < 5; k++)
                if (fds[k] >= 0) pfd[np++] = (struct pollfd){fds[k], POLLIN, 0};
            double dl = sl->exited   ? sl->exit_time + DRAIN_S
                        : sl->killed ? sl->kill_time + (sl->group_killed ? 0.05 : 1.0)
                                     : sl->deadline;
            if (dl < wake) wake = dl;
            if (!sl->zjob && sl->pidfd < 0 && wake > now + 0.01) wake = now + 0.01;
        }
        if (sb->zy.pidfd >= 0) pfd[np++] = (struct pollfd){sb->zy.pidfd, POLLIN, 0};
        int timeout_ms = (int)ceil((wake - now) * 1000.0);
        if (timeout_ms < 0) timeout_ms = 0;
        if (poll(pfd, np, timeout_ms) < 0 && errno != EINTR) {
            ret = err_errno(e, "sandbox: poll");
            goto out;
        }
        now = time_now_s();
        /* A fork server that died (or ignores us) takes its jobs with it. */
        bool zy_dead = false;
        if (sb->zy.pidfd >= 0) {
            struct pollfd zp = {sb->zy.pidfd, POLLIN, 0};
            zy_dead = poll(&zp, 1, 0) > 0;
        }
        for (int i = 0; i < workers && !zy_dead; i++)
            if (slots[i].busy && slots[i].zjob && !slots[i].exited && slots[i].killed &&
                now >= slots[i].kill_time + 1.0)
                zy_dead = true;
        if (zy_dead) {
            zygote_stop(sb);
            for (int i = 0; i < workers; i++)
                if (slots[i].busy && slots[i].zjob && !slots[i].killed) slots[i].lost = true;
        }
        for (int i = 0; i < workers; i++) {
            slot *sl = &slots[i];
            if (!sl->busy) continue;
            sandbox_result *res = &results[sl->job];
            slot_read(sb, sl, res, &jobs[sl->job]);
            if (!sl->exited && !sl->killed && now >= sl->deadline)
                slot_kill(sb, sl, res,
                          res->done    ? SANDBOX_KILL_NONE
                          : res->ready ? SANDBOX_KILL_WALL
                                       : SANDBOX_KILL_STARTUP);
            if (!sl->zjob && !sl->exited && sl->killed && now >= sl->kill_time + 1.0)
                slot_kill_group(sl);
            if (!sl->exited && sl->zjob && sl->out_fd < 0 && sl->err_fd < 0 && sl->res_fd < 0 &&
                sl->st_fd < 0) {
                /* Every process of a fork server job is gone with its pipes. */
                sl->exited = true;
                sl->exit_time = now;
            }
            if (!sl->exited && !sl->zjob) slot_reap(sl);
            bool open = sl->out_fd >= 0 || sl->err_fd >= 0 || sl->res_fd >= 0 || sl->st_fd >= 0;
            if (sl->exited && (!open || now >= sl->exit_time + DRAIN_S)) {
                slot_finish(sb, sl, res);
                busy--;
                done++;
            }
        }
    }
out:
    for (int i = 0; i < workers; i++) {
        slot *sl = &slots[i];
        if (!sl->busy) continue;
        if (sl->zjob) {
            zygote_stop(sb);
            sl->lost = true;
        } else {
            kill(-sl->pid, SIGKILL);
            kill(sl->pid, SIGKILL);
            int st;
            while (waitpid(sl->pid, &st, 0) < 0 && errno == EINTR) {
            }
        }
        sl->exited = true;
        sl->exit_time = time_now_s();
        slot_finish(sb, sl, &results[sl->job]);
    }
    free(slots);
    free(pfd);
    return ret;
}

/* ------------------------------------------------------------------ open */

static int mirrors_add(sandbox *sb, const char *path, const char *link, err *e)
{
    mirror *m = realloc(sb->mirrors, (sb->n_mirrors + 1) * sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, "out of memory");
    sb->mirrors = m;
    m = &sb->mirrors[sb->n_mirrors];
    m->path = strdup(path);
    m->link = link ? strdup(link) : NULL;
    m->flags = link ? 0 : statvfs_mount_flags(path);
    if (!m->path || (link && !m->link)) {
        free(m->path);
        free(m->link);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    sb->n_mirrors++;
    return 0;
}

/* The system dirs the new root shows (read-only), plus the interpreter's
 * installation when it lives elsewhere. */
static int mirrors_plan(sandbox *sb, err *e)
{
    static const char *const tops[] = {"/usr",   "/bin",   "/sbin",  "/lib",
                                       "/lib32", "/lib64", "/libx32"};
    for (size_t i = 0; i < ARRAY_LEN(tops); i++) {
        struct stat st;
        if (lstat(tops[i], &st) != 0) continue;
        int r = 0;
        if (S_ISLNK(st.st_mode)) {
            char link[PATH_MAX];
            ssize_t n = readlink(tops[i], link, sizeof link - 1);
            if (n <= 0) continue;
            link[n] = 0;
            r = mirrors_add(sb, tops[i], link, e);
        } else if (S_ISDIR(st.st_mode)) {
            r = mirrors_add(sb, tops[i], NULL, e);
        }
        if (r < 0) return r;
    }
    char real[PATH_MAX];
    if (!realpath(sb->python, real))
        return err_errno(e, "sandbox: python interpreter %s", sb->python);
    for (size_t i = 0; i < sb->n_mirrors; i++) {
        size_t l = strlen(sb->mirrors[i].path);
        if (!sb->mirrors[i].link && strncmp(real, sb->mirrors[i].path, l) == 0 && real[l] == '/')
            return 0;
    }
    /* /opt/py/bin/python3 -> bind /opt/py */
    char *slash = strrchr(real, '/');
    if (slash && slash != real) *slash = 0;
    slash = strrchr(real, '/');
    if (slash && slash != real) *slash = 0;
    if (strcmp(real, "/") == 0 || !*real)
        return err_set(e, ERR_SANDBOX, "sandbox: cannot mirror the interpreter's directory");
    return mirrors_add(sb, real, NULL, e);
}

/* argv[-1] of every interpreter: loads the runner from fd 3, either its
 * source or (after the probe) "\0" + marshal of {"code", "path"}, where
 * path is the sys.path a normal start has (we start with -S, skipping
 * site's .pth processing, for speed). */
static const char bootstrap[] = "import os, sys, marshal\n"
                                "_r = os.pread(3, os.fstat(3).st_size, 0)\n"
                                "os.close(3)\n"
                                "if _r[:1] == b'\\0':\n"
                                "    _d = marshal.loads(_r[1:])\n"
                                "    sys.path[:] = _d['path']\n"
                                "    _c = _d['code']\n"
                                "else:\n"
                                "    _c = compile(_r, '<tally-runner>', 'exec')\n"
                                "exec(_c, {'__name__': '__tally_runner__'})\n";

static int argv_build(sandbox *sb)
{
    /* -S: no site (see above), -s: no user site, -B: no .pyc writes; never
     * -O (it would strip the tests' asserts). */
    static const char *const args[] = {"-S", "-s", "-B", "-c", bootstrap};
    sb->argv[0] = strdup(sb->python);
    for (size_t i = 0; i < ARRAY_LEN(args); i++) sb->argv[i + 1] = strdup(args[i]);
    for (size_t i = 0; i <= ARRAY_LEN(args); i++)
        if (!sb->argv[i]) return ERR_NOMEM;
    return 0;
}

static void level_name_set(sandbox *sb)
{
    const char *n = "none";
    switch (sb->level) {
    case LVL_USERNS:
        n = sb->root ? "root+userns+seccomp" : "userns+seccomp";
        break;
    case LVL_NS_ROOT:
        n = "root+ns+seccomp";
        break;
    case LVL_DEGRADED:
        n = sb->landlock_abi ? "degraded:landlock+seccomp" : "degraded:seccomp";
        break;
    default:
        break;
    }
    snprintf(sb->level_name, sizeof sb->level_name, "%s", n);
}

/* Runs the probe job at the current level; 0 when the sandbox works. */
static int probe_level(sandbox *sb, err *e)
{
    static const char payload[] = "probe\n";
    sandbox_job job = SANDBOX_JOB_INIT;
    job.payload = payload;
    job.payload_len = sizeof payload - 1;
    job.cpu_s = 10;
    job.wall_s = 10;
    job.startup_s = 30;
    sandbox_result r = SANDBOX_RESULT_INIT;
    int ret = sandbox_run_many(sb, &job, 1, 1, &r, e);
    if (ret < 0) goto out;
    const sandbox_frame *f = sandbox_result_frame(&r, "probe");
    if (r.setup_error || !f) {
        const sandbox_frame *ef = sandbox_result_frame(&r, "error");
        ret = err_set(e, ERR_SANDBOX, "%s",
                      r.setup_error ? r.setup_error
                      : ef          ? ef->data
                      : r.err.len   ? r.err.data
                                    : "the probe gave no answer");
        goto out;
    }
    cJSON *j = cJSON_ParseWithLength(f->data, f->len);
    const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, "python") : NULL;
    const cJSON *uid = j ? cJSON_GetObjectItemCaseSensitive(j, "uid") : NULL;
    if (!cJSON_IsString(v) || !cJSON_IsNumber(uid)) {
        cJSON_Delete(j);
        ret = err_set(e, ERR_SANDBOX, "sandbox: malformed probe answer");
        goto out;
    }
    snprintf(sb->pyver, sizeof sb->pyver, "%s", v->valuestring);
    bool uid_zero = uid->valuedouble == 0;
    cJSON_Delete(j);
    if (uid_zero && sb->level != LVL_NONE) {
        ret = err_set(e, ERR_SANDBOX, "sandbox: the sample would run as uid 0");
        goto out;
    }
    /* From now on hand out the compiled runner. */
    const sandbox_frame *code = sandbox_result_frame(&r, "code");
    if (code && code->len > 1 && code->data[0] == 0) {
        int fd = -1;
        if ((ret = memfd_sealed("tally-runner", code->data, code->len, &fd, e)) < 0) goto out;
        close(sb->runner_fd);
        sb->runner_fd = fd;
    }
out:
    sandbox_result_release(&r);
    return ret;
}

void sandbox_close(sandbox *sb)
{
    if (!sb) return;
    zygote_stop(sb);
    if (sb->runner_fd >= 0) close(sb->runner_fd);
    if (sb->devnull_fd >= 0) close(sb->devnull_fd);
    free(sb->bpf);
    free(sb->bpf_strict);
    free(sb->bpf_zygote);
    for (size_t i = 0; i < sb->n_mirrors; i++) {
        free(sb->mirrors[i].path);
        free(sb->mirrors[i].link);
    }
    free(sb->mirrors);
    if (sb->host_base) {
        remove_tree(sb->host_base);
        free(sb->host_base);
    }
    for (size_t i = 0; i < ARRAY_LEN(sb->argv); i++) free(sb->argv[i]);
    free(sb->python);
    free(sb);
}

static int host_base_make(sandbox *sb, err *e)
{
    if (sb->host_base) return 0;
    const char *tmp = sb->s.host_tmp ? sb->s.host_tmp : "/tmp";
    size_t n = strlen(tmp) + 32;
    sb->host_base = malloc(n);
    if (!sb->host_base) return err_set(e, ERR_NOMEM, "out of memory");
    snprintf(sb->host_base, n, "%s/tally-sandbox-XXXXXX", tmp);
    if (!mkdtemp(sb->host_base)) {
        int r = err_errno(e, "sandbox: mkdtemp %s", sb->host_base);
        free(sb->host_base);
        sb->host_base = NULL;
        return r;
    }
    /* Samples (another uid when we are root) must reach their own dirs only. */
    if (chmod(sb->host_base, sb->root ? 0711 : 0700) != 0)
        return err_errno(e, "sandbox: chmod %s", sb->host_base);
    return 0;
}

int sandbox_open(sandbox **out, const sandbox_settings *s, err *e)
{
    *out = NULL;
    if (!s) return err_set(e, ERR_INVALID, "sandbox_open: no settings");
    int ret = 0;
    sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return err_set(e, ERR_NOMEM, "out of memory");
    sb->runner_fd = sb->devnull_fd = -1;
    sb->zy.pid = -1;
    sb->zy.pidfd = sb->zy.ctl = sb->zy.res_fd = sb->zy.st_fd = sb->zy.out_fd = -1;
    sb->s = *s;
    if (!sb->s.mem_bytes) sb->s.mem_bytes = 4ull << 30;
    if (!sb->s.fsize_bytes) sb->s.fsize_bytes = 16ull << 20;
    if (!sb->s.nofile) sb->s.nofile = 64;
    if (!sb->s.nproc) sb->s.nproc = 64;
    if (!sb->s.tmpfs_bytes) sb->s.tmpfs_bytes = 64ull << 20;
    if (!sb->s.tmpfs_inodes) sb->s.tmpfs_inodes = 4096;
    if (!sb->s.out_cap) sb->s.out_cap = 64u << 10;
    if (!sb->s.out_hard) sb->s.out_hard = 64ull << 20;
    if (!sb->s.drop_uid) sb->s.drop_uid = 65534;
    sb->s.runner = NULL; /* copied into the memfd below */
    /* The system interpreter by default: one under a user's home (pyenv)
     * would not be visible inside the sandbox. */
    const char *py = s->python;
    static const char *const system_pythons[] = {"/usr/bin/python3", "/usr/local/bin/python3",
                                                 "/bin/python3"};
    for (size_t i = 0; !py && i < ARRAY_LEN(system_pythons); i++)
        if (access(system_pythons[i], X_OK) == 0) py = system_pythons[i];
    sb->python = strdup(py ? py : "/usr/bin/python3");
    if (!sb->python) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (access(sb->python, X_OK) != 0) {
        ret = err_set(e, ERR_NOTFOUND, "sandbox: python interpreter %s is not executable (%s)",
                      sb->python, strerror(errno));
        goto fail;
    }
    sb->root = geteuid() == 0;
    sb->sample_uid = sb->root ? (uid_t)sb->s.drop_uid : getuid();
    sb->sample_gid = sb->root ? (gid_t)sb->s.drop_uid : getgid();
    sb->landlock_abi = landlock_probe_abi();
    sb->has_proc = true;
    const char *rsrc = s->runner ? s->runner : (const char *)sandbox_runner_py;
    size_t rlen = s->runner ? s->runner_len : sandbox_runner_py_len;
    if ((ret = memfd_sealed("tally-runner", rsrc, rlen, &sb->runner_fd, e)) < 0) goto fail;
    sb->devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (sb->devnull_fd < 0) {
        ret = err_errno(e, "sandbox: /dev/null");
        goto fail;
    }
    if ((ret = mirrors_plan(sb, e)) < 0) goto fail;
    if ((ret = filter_export(FILTER_NS, &sb->bpf, &sb->bpf_len, e)) < 0) goto fail;
    if ((ret = filter_export(FILTER_STRICT, &sb->bpf_strict, &sb->bpf_strict_len, e)) < 0)
        goto fail;
    if ((ret = filter_export(FILTER_ZYGOTE, &sb->bpf_zygote, &sb->bpf_zygote_len, e)) < 0)
        goto fail;
    size_t patches = 0;
    for (unsigned short i = 0; i < sb->bpf_strict_len; i++)
        patches += sb->bpf_strict[i].k == PID_PLACEHOLDER;
    /* libseccomp shares identical comparisons between syscalls: one or more. */
    if (patches < 1) {
        ret = err_set(e, ERR_SANDBOX, "sandbox: the strict seccomp filter lost its pid checks");
        goto fail;
    }
    static const char *const roots[] = {"/tmp", "/mnt", "/var/tmp", "/run"};
    for (size_t i = 0; i < ARRAY_LEN(roots) && !sb->newroot[0]; i++)
        if (dir_exists(roots[i])) snprintf(sb->newroot, sizeof sb->newroot, "%s", roots[i]);
    if ((ret = argv_build(sb)) < 0) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }

    /* Try the levels from the strongest down. */
    int order[4], n_order = 0;
    switch (s->isolation) {
    case SANDBOX_DEGRADED:
        order[n_order++] = LVL_DEGRADED;
        break;
    case SANDBOX_NO_USERNS:
        if (!sb->root) {
            ret = err_set(e, ERR_INVALID, "sandbox: namespaces without a user namespace need root");
            goto fail;
        }
        order[n_order++] = LVL_NS_ROOT;
        break;
    case SANDBOX_NONE:
        order[n_order++] = LVL_NONE;
        break;
    default:
        order[n_order++] = LVL_USERNS;
        if (sb->root) order[n_order++] = LVL_NS_ROOT;
        order[n_order++] = LVL_DEGRADED;
        break;
    }
    err pe = ERR_INIT;
    for (int i = 0; i < n_order; i++) {
        sb->level = order[i];
        level_name_set(sb);
        if ((sb->level == LVL_DEGRADED || sb->level == LVL_NONE) &&
            (ret = host_base_make(sb, e)) < 0)
            goto fail;
        err_clear(&pe);
        int r = probe_level(sb, &pe);
        if (r == 0 && !sb->has_proc) {
            /* fine: no /proc inside */
        }
        if (r < 0 && (sb->level == LVL_USERNS || sb->level == LVL_NS_ROOT) && sb->has_proc &&
            strstr(pe.msg, "mount(proc)")) {
            /* Some containers refuse a fresh proc; keep the namespaces without it. */
            sb->has_proc = false;
            size_t l = strlen(sb->reason);
            snprintf(sb->reason + l, sizeof sb->reason - l, "%sno /proc in the sandbox (%s)",
                     l ? "; " : "", pe.msg);
            err_clear(&pe);
            r = probe_level(sb, &pe);
        }
        if (r == 0) {
            ret = 0;
            break;
        }
        if (r == ERR_NOMEM) {
            ret = err_set(e, r, "%s", pe.msg);
            goto fail;
        }
        size_t l = strlen(sb->reason);
        snprintf(sb->reason + l, sizeof sb->reason - l, "%s%s: %s", l ? "; " : "", sb->level_name,
                 pe.msg);
        ret = err_set(e, ERR_SANDBOX, "sandbox: no isolation level works (%s)", sb->reason);
    }
    if (ret < 0) goto fail;
    /* The fork server, where a user namespace lets it build namespaces for
     * its children; it must pass the probe like the plain path. */
    if (sb->level == LVL_USERNS && sb->has_proc && !s->no_fork_server) {
        err ze = ERR_INIT;
        int r = zygote_start(sb, &ze);
        if (r == 0) r = zygote_check(sb, &ze);
        if (r < 0) {
            zygote_stop(sb);
            size_t l = strlen(sb->reason);
            snprintf(sb->reason + l, sizeof sb->reason - l, "%sno fork server (%s)", l ? "; " : "",
                     ze.msg);
        }
    }
    *out = sb;
    return 0;
fail:
    sandbox_close(sb);
    return ret;
}
