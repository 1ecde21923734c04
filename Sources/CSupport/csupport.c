#define _GNU_SOURCE
#include "csupport.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

int cs_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int cs_epoll_wait(int epfd, cs_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

int cs_signalfd(const sigset_t *set) { return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK); }

int cs_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n < 0) return -1;
    if (n != (ssize_t)sizeof(info)) {
        errno = EIO;
        return -1;
    }
    return (int)info.ssi_signo;
}

int cs_accept(int fd, void *address, unsigned *address_length) {
    return accept4(fd, (struct sockaddr *)address, (socklen_t *)address_length, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int cs_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int cs_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int cs_peer_credentials(int fd, int *pid, int *uid, int *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -1;
    *pid = cred.pid;
    *uid = (int)cred.uid;
    *gid = (int)cred.gid;
    return 0;
}

int cs_tcp_totals(int fd, long long *written, long long *read) {
    struct tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0) return -1;
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received)) {
        errno = ENOTSUP;
        return -1;
    }
    int out = 0, in = 0;
    if (ioctl(fd, SIOCOUTQ, &out) < 0 || ioctl(fd, SIOCINQ, &in) < 0) return -1;
    *written = (long long)info.tcpi_bytes_acked + out;
    *read = (long long)info.tcpi_bytes_received - in;
    return 0;
}

long cs_voluntary_switches(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_THREAD, &usage) != 0) return -1;
    return usage.ru_nvcsw;
}

int cs_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int cs_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int cs_set_process_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

/* The child side of cs_spawn: async-signal-safe calls only. */
static void spawn_child(int err_fd, pid_t parent, const char *path, char *const argv[],
                        char *const envp[], const char *cwd, const int *fd_map,
                        int fd_map_count, int new_pgroup, int pdeathsig, int image) {
    int err = 0;
    /* new_pgroup: 1 a process group of its own, 2 a session of its own (setsid: detached). */
    if (new_pgroup == 2) {
        if (setsid() < 0) goto fail;
    } else if (new_pgroup && setpgid(0, 0) < 0) goto fail;
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
    /* The fallback image sits just above the error pipe (both CLOEXEC). */
    if (image >= 0) {
        int moved_image = fcntl(image, F_DUPFD_CLOEXEC, err_fd + 1);
        if (moved_image < 0) goto fail;
        image = moved_image;
    }
    int keep_top = image >= 0 ? image : err_fd;
    int moved[64];
    for (int i = 0; i < fd_map_count; i++) {
        moved[i] = fcntl(fd_map[2 * i], F_DUPFD_CLOEXEC, high + 1);
        if (moved[i] < 0) goto fail;
    }
    for (int fd = 0; fd <= high; fd++) close(fd);
    for (int i = 0; i < fd_map_count; i++) {
        if (dup2(moved[i], fd_map[2 * i + 1]) < 0) goto fail; /* clears CLOEXEC */
    }
    /* Everything above the targets goes, except the error pipe and the image
     * (CLOEXEC: exec closes them). The moved sources sit between, closed too. */
    if (err_fd > high + 1) syscall(SYS_close_range, (unsigned)(high + 1), (unsigned)(err_fd - 1), 0);
    if (image > err_fd + 1) syscall(SYS_close_range, (unsigned)(err_fd + 1), (unsigned)(image - 1), 0);
    syscall(SYS_close_range, (unsigned)(keep_top + 1), ~0U, 0);

    if (cwd != NULL && chdir(cwd) < 0) goto fail;
    execve(path, argv, envp);
    if (image >= 0) {
        err = errno;
        while (write(err_fd, &err, sizeof(err)) < 0 && errno == EINTR) {}
        syscall(SYS_execveat, image, "", argv, envp, AT_EMPTY_PATH);
    }
fail:
    err = errno;
    while (write(err_fd, &err, sizeof(err)) < 0 && errno == EINTR) {}
    _exit(127);
}

pid_t cs_spawn(const char *path, char *const argv[], char *const envp[],
               const char *cwd, const int *fd_map, int fd_map_count,
               int new_pgroup, int pdeathsig, int fallback_image, int *error_pipe) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        errno = err;
        return -1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        spawn_child(pipefd[1], parent, path, argv, envp, cwd, fd_map, fd_map_count,
                    new_pgroup, pdeathsig, fallback_image);
    }
    close(pipefd[1]);
    /* Also set the group from the parent side: whichever runs first wins the
     * race, so a killpg right after spawn always reaches the child. */
    if (new_pgroup == 1) setpgid(pid, pid);
    *error_pipe = pipefd[0];
    return pid;
}

int cs_open_own_image(void) { return open("/proc/self/exe", O_PATH | O_CLOEXEC); }

int cs_exec_image(int fd, char *const argv[], char *const envp[]) {
    return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}

/* dl_iterate_phdr's first object is the executable: its PT_NOTE segments. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    char **out = (char **)data; /* out[0]: buffer, out[1]: end */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof(*n);
            const unsigned char *desc = (const unsigned char *)(name + ((n->n_namesz + 3) & ~3u));
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                char *o = out[0];
                static const char hex[] = "0123456789abcdef";
                for (unsigned j = 0; j < n->n_descsz && o + 2 < out[1]; j++) {
                    *o++ = hex[desc[j] >> 4];
                    *o++ = hex[desc[j] & 15];
                }
                *o = 0;
                return 1;
            }
            p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* only the first object: the executable */
}

int cs_build_id(char *out, int cap) {
    if (cap < 1) return -1;
    out[0] = 0;
    char *range[2] = {out, out + cap};
    dl_iterate_phdr(find_build_id, range);
    return out[0] ? 0 : -1;
}

int cs_wifsignaled(int status) { return WIFSIGNALED(status); }
int cs_wexitstatus(int status) { return WEXITSTATUS(status); }
int cs_wtermsig(int status) { return WTERMSIG(status); }

long long cs_atomic_load(const long long *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
void cs_atomic_store(long long *p, long long v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
long long cs_atomic_add(long long *p, long long v) { return __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
void cs_atomic_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#define CS_MAX_FDS 8

long cs_send_with_fds(int sock, const void *data, long len, const int *fds, int nfds, int nonblock) {
    if (nfds < 0 || nfds > CS_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
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
    return sendmsg(sock, &msg, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
}

long cs_recv_with_fds(int sock, void *data, long cap, int *fds, int max_fds, int *nfds, int *fds_lost, int nonblock) {
    struct iovec iov = {.iov_base = data, .iov_len = (size_t)cap};
    union {
        char buf[CMSG_SPACE(sizeof(int) * CS_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    *nfds = 0;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    *fds_lost = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
    if (n < 0) return -1;
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
    if (overflow || (msg.msg_flags & MSG_TRUNC)) {
        for (int i = 0; i < count; i++) close(fds[i]);
        errno = EMSGSIZE;
        return -1;
    }
    /* The bytes are whole but the kernel could not install the fds (this
     * process is out of descriptors): the caller decides what the message
     * without its fd means. */
    if (msg.msg_flags & MSG_CTRUNC) *fds_lost = 1;
    *nfds = count;
    return n;
}
