#define _GNU_SOURCE
#include "csupport.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEG_ERRNO(expr) ((expr) < 0 ? -errno : 0)

int cs_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = data;
    return NEG_ERRNO(epoll_ctl(epfd, op, fd, &ev));
}

int cs_epoll_wait(int epfd, cs_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

int cs_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) return -rc;
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int cs_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(fd, &info, sizeof(info));
        if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return n < 0 ? -errno : -EIO;
    }
}

int cs_set_child_subreaper(void) { return NEG_ERRNO(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)); }
int cs_set_pdeathsig(int sig) { return NEG_ERRNO(prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)); }
int cs_set_process_name(const char *name) { return NEG_ERRNO(prctl(PR_SET_NAME, name, 0, 0, 0)); }

int cs_listen_unix(const char *path, int backlog) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    unlink(path); /* a stale socket file from an earlier run */
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cs_listen_tcp(const char *host, int port, int backlog) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cs_local_port(int fd) {
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return -errno;
    return ntohs(addr.sin_port);
}

int cs_socketpair(int fds[2]) {
    return NEG_ERRNO(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
}

int cs_accept(int fd) {
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) return c;
        if (errno == EINTR) continue;
        return -errno;
    }
}

/* The child side of cs_spawn: async-signal-safe calls only. */
static void spawn_child(int err_fd, pid_t parent, const char *path, char *const argv[],
                        char *const envp[], const char *cwd, const int *fd_map,
                        int fd_map_count, int new_pgroup, int pdeathsig) {
    int err = 0;
    if (new_pgroup && setpgid(0, 0) < 0) goto fail;
    if (pdeathsig > 0) {
        if (prctl(PR_SET_PDEATHSIG, pdeathsig, 0, 0, 0) < 0) goto fail;
        /* The parent may have died before prctl took effect. */
        if (getppid() != parent) _exit(127);
    }
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    /* Move the error pipe and every source above all targets first, so that
     * dup2 never clobbers something that is still needed. */
    if (fd_map_count > 64) { errno = E2BIG; goto fail; }
    int high = 2;
    for (int i = 0; i < fd_map_count; i++)
        if (fd_map[2 * i + 1] > high) high = fd_map[2 * i + 1];
    int moved_err = fcntl(err_fd, F_DUPFD_CLOEXEC, high + 1);
    if (moved_err < 0) goto fail;
    err_fd = moved_err;
    int moved[64];
    for (int i = 0; i < fd_map_count; i++) {
        moved[i] = fcntl(fd_map[2 * i], F_DUPFD_CLOEXEC, high + 1);
        if (moved[i] < 0) goto fail;
    }
    for (int fd = 0; fd <= high; fd++) close(fd);
    for (int i = 0; i < fd_map_count; i++) {
        if (dup2(moved[i], fd_map[2 * i + 1]) < 0) goto fail; /* clears CLOEXEC */
    }
    /* Everything above the targets goes, except the error pipe (CLOEXEC: exec closes it). */
    if (err_fd > high + 1) syscall(SYS_close_range, (unsigned)(high + 1), (unsigned)(err_fd - 1), 0);
    syscall(SYS_close_range, (unsigned)(err_fd + 1), ~0U, 0);

    if (cwd != NULL && chdir(cwd) < 0) goto fail;
    execve(path, argv, envp);
fail:
    err = errno;
    while (write(err_fd, &err, sizeof(err)) < 0 && errno == EINTR) {}
    _exit(127);
}

pid_t cs_spawn(const char *path, char *const argv[], char *const envp[],
               const char *cwd, const int *fd_map, int fd_map_count,
               int new_pgroup, int pdeathsig) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -err;
    }
    if (pid == 0) {
        close(pipefd[0]);
        spawn_child(pipefd[1], parent, path, argv, envp, cwd, fd_map, fd_map_count,
                    new_pgroup, pdeathsig);
    }
    close(pipefd[1]);
    /* Also set the group from the parent side: whichever runs first wins the
     * race, so a killpg right after spawn always reaches the child. */
    if (new_pgroup) setpgid(pid, pid);
    int child_err = 0;
    ssize_t n;
    do {
        n = read(pipefd[0], &child_err, sizeof(child_err));
    } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof(child_err)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -child_err;
    }
    return pid;
}

pid_t cs_reap_any(int *status) {
    for (;;) {
        pid_t pid = waitpid(-1, status, WNOHANG);
        if (pid >= 0) return pid;
        if (errno == EINTR) continue;
        return -errno;
    }
}

int cs_wifexited(int status) { return WIFEXITED(status); }
int cs_wexitstatus(int status) { return WEXITSTATUS(status); }
int cs_wifsignaled(int status) { return WIFSIGNALED(status); }
int cs_wtermsig(int status) { return WTERMSIG(status); }

int cs_pipe(int fds[2]) { return NEG_ERRNO(pipe2(fds, O_CLOEXEC)); }

/* A blocking, CLOEXEC stream socket of `family` connected to `addr`, or -errno. */
static int connect_new(int family, const struct sockaddr *addr, socklen_t len) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    for (;;) {
        if (connect(fd, addr, len) == 0) return fd;
        if (errno == EINTR) continue;
        int err = errno;
        close(fd);
        return -err;
    }
}

int cs_connect_unix(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    return connect_new(AF_UNIX, (struct sockaddr *)&addr, sizeof(addr));
}

/* An IPv4/IPv6 address as text and its port; "" and 0 for other families. */
static void describe_address(const struct sockaddr_storage *ss, char *host, int host_len, int *port) {
    host[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, host_len);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, host_len);
        *port = ntohs(a->sin6_port);
    }
}

int cs_socket_name(int fd, int local, char *host, int host_len, int *port) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len) : getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc < 0) return -errno;
    describe_address(&ss, host, host_len, port);
    return 0;
}

int cs_defer_accept(int fd, int seconds) {
    return NEG_ERRNO(setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof(seconds)));
}

int cs_set_nodelay(int fd) {
    int one = 1;
    return NEG_ERRNO(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
}

int cs_epoll_add_exclusive(int epfd, int fd, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = data;
    return NEG_ERRNO(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev));
}

int cs_poll_one(int fd, int want_write, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = want_write ? POLLOUT : POLLIN, .revents = 0};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

long cs_sendfile(int out_fd, int in_fd, long long *offset, long count) {
    off_t off = (off_t)*offset;
    for (;;) {
        ssize_t n = sendfile(out_fd, in_fd, &off, (size_t)count);
        if (n >= 0) {
            *offset = off;
            return (long)n;
        }
        if (errno != EINTR) return -errno;
    }
}

void cs_set_process_title(int argc, char **argv, const char *title) {
    prctl(PR_SET_NAME, title, 0, 0, 0);
    if (argc < 1 || argv == NULL || argv[0] == NULL) return;
    /* The argv strings are contiguous: overwrite them, NUL-padded. */
    char *start = argv[0];
    char *end = argv[argc - 1] + strlen(argv[argc - 1]);
    size_t room = (size_t)(end - start);
    size_t n = strlen(title);
    if (n > room) n = room;
    memcpy(start, title, n);
    memset(start + n, 0, room - n + 1);
    for (int i = 1; i < argc; i++) argv[i] = start + room; /* empty strings */
}

int cs_shutdown_write(int fd) { return NEG_ERRNO(shutdown(fd, SHUT_WR)); }

int cs_connect_tcp(const char *host, int port) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return -EINVAL;
    return connect_new(AF_INET, (struct sockaddr *)&addr, sizeof(addr));
}

int cs_accept_peer(int fd, char *host, int host_len, int *port) {
    struct sockaddr_storage ss;
    for (;;) {
        socklen_t len = sizeof(ss);
        int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        describe_address(&ss, host, host_len, port);
        return c;
    }
}

int cs_memfd(const char *name, long size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (ftruncate(fd, size) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

void *cs_map_shared(int fd, long size) {
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

long long cs_atomic_load(const long long *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
void cs_atomic_store(long long *p, long long v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
long long cs_atomic_add(long long *p, long long v) { return __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }

long cs_writev2(int fd, const void *a, long a_len, const void *b, long b_len) {
    struct iovec iov[2] = {{(void *)a, (size_t)a_len}, {(void *)b, (size_t)b_len}};
    for (;;) {
        ssize_t n = writev(fd, iov, 2);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return -errno;
    }
}

/* ---- The handoff transport (zerg-server): SOCK_SEQPACKET + SCM_RIGHTS ---- */

static int unix_address(const char *path, struct sockaddr_un *addr) {
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr->sun_path)) return -ENAMETOOLONG;
    strcpy(addr->sun_path, path);
    return 0;
}

int cs_listen_seqpacket(const char *path, int backlog) {
    struct sockaddr_un addr;
    int rc = unix_address(path, &addr);
    if (rc < 0) return rc;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cs_seqpacket_pair(int fds[2]) {
    return NEG_ERRNO(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds));
}

int cs_connect_seqpacket(const char *path) {
    struct sockaddr_un addr;
    int rc = unix_address(path, &addr);
    if (rc < 0) return rc;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) return fd;
        if (errno == EINTR) continue;
        int err = errno;
        close(fd);
        return -err;
    }
}

#define CS_MAX_FDS 8

long cs_send_with_fds(int sock, const void *data, long len, const int *fds, int nfds, int nonblock) {
    if (nfds < 0 || nfds > CS_MAX_FDS) return -EINVAL;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = (size_t)len};
    union {
        char buf[CMSG_SPACE(sizeof(int) * CS_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        return -errno;
    }
}

long cs_recv_with_fds(int sock, void *data, long cap, int *fds, int max_fds, int *nfds, int nonblock) {
    struct iovec iov = {.iov_base = data, .iov_len = (size_t)cap};
    union {
        char buf[CMSG_SPACE(sizeof(int) * CS_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    *nfds = 0;
    for (;;) {
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        int count = 0, overflow = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *got = (int *)CMSG_DATA(c);
            for (int i = 0; i < k; i++) {
                if (count < max_fds) fds[count++] = got[i];
                else { close(got[i]); overflow = 1; }
            }
        }
        if (overflow || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            for (int i = 0; i < count; i++) close(fds[i]);
            return -EMSGSIZE;
        }
        *nfds = count;
        return n;
    }
}

int cs_peer_credentials(int fd, int *pid, int *uid, int *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -errno;
    *pid = cred.pid;
    *uid = (int)cred.uid;
    *gid = (int)cred.gid;
    return 0;
}

/* Connections waiting in a TCP listening socket's accept queue: Linux reports
 * it as tcpi_unacked of TCP_INFO on a listener. -errno for other sockets. */
int cs_listen_backlog(int fd) {
    struct tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0) return -errno;
    return (int)info.tcpi_unacked;
}

long cs_voluntary_switches(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_THREAD, &usage) != 0) return -1;
    return usage.ru_nvcsw;
}
