#ifndef CSUPPORT_H
#define CSUPPORT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/* Only what Swift cannot reach by itself: Linux calls Swift's Glibc module
 * does not declare (it is built without _GNU_SOURCE), structs it cannot lay
 * out (the packed epoll_event), macros (CMSG_*, W*), variadic prctl, atomics
 * on shared memory, and the fork+exec child, where no Swift may run.
 *
 * Every call is one system call with no logic around it: it returns what the
 * call returns (-1 with errno set on failure) and never retries EINTR; the
 * Swift side (Syscall) reads errno and retries, in one place. */

/* epoll: struct epoll_event is packed on x86_64; these take and return an
 * unpacked copy. */
typedef struct {
    uint32_t events;
    uint64_t data;
} cs_epoll_event;

enum {
    CS_EPOLLIN = 0x001,
    CS_EPOLLOUT = 0x004,
    CS_EPOLLERR = 0x008,
    CS_EPOLLHUP = 0x010,
    CS_EPOLLEXCLUSIVE = 1 << 28,
    CS_EPOLL_CTL_ADD = 1,
    CS_EPOLL_CTL_DEL = 2,
};
/* Past int's range, so not an enum constant. */
#define CS_EPOLLET 0x80000000u

int cs_epoll_create(void);
int cs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* At most 64 events. */
int cs_epoll_wait(int epfd, cs_epoll_event *events, int max, int timeout_ms);

/* signalfd(2) for `set`, CLOEXEC and non-blocking. */
int cs_signalfd(const sigset_t *set);
/* One read(2) of a signalfd_siginfo: the signal number, or -1 (errno). */
int cs_signalfd_read(int fd);

/* accept4(2), CLOEXEC and non-blocking, with the peer's address. */
int cs_accept(int fd, void *address, unsigned *address_length);
/* pipe2(O_CLOEXEC). */
int cs_pipe(int fds[2]);
/* memfd_create(MFD_CLOEXEC). */
int cs_memfd(const char *name);
/* getsockopt(SO_PEERCRED). */
int cs_peer_credentials(int fd, int *pid, int *uid, int *gid);
/* A TCP connection's totals, whichever process did the I/O: bytes ever
 * written to it (acknowledged + still queued: tcpi_bytes_acked + SIOCOUTQ) and
 * bytes ever read from it (received - still queued: tcpi_bytes_received -
 * SIOCINQ). 0, or -1 (not TCP, or an older kernel: ENOTSUP). */
int cs_tcp_totals(int fd, long long *written, long long *read);
/* getrusage(RUSAGE_THREAD).ru_nvcsw: voluntary context switches of this thread. */
long cs_voluntary_switches(void);

/* pidfd_open(2) (no libc wrapper in Debian 12's glibc). */
int cs_pidfd_open(pid_t pid);

/* prctl is variadic. */
int cs_set_child_subreaper(void);
int cs_set_process_name(const char *name);

/* Starts `path` with fork+exec; only async-signal-safe calls run in the child.
 * fd_map holds pairs (source fd, target fd) that the child gets; every other
 * fd is closed. The child gets its own process group (when new_pgroup),
 * PR_SET_PDEATHSIG=pdeathsig (when > 0), default signal dispositions and an
 * empty signal mask, and cwd (when not NULL). When exec of `path` fails and
 * fallback_image >= 0 (an O_PATH fd of an executable), that image is exec'd
 * instead (execveat). Returns the pid (or -1, errno: fork failed);
 * *error_pipe is the read end of a CLOEXEC pipe on which the child writes the
 * errno of each exec that failed: nothing (end of file) when `path` ran, one
 * int when the fallback ran, two when neither could. */
pid_t cs_spawn(const char *path, char *const argv[], char *const envp[],
               const char *cwd, const int *fd_map, int fd_map_count,
               int new_pgroup, int pdeathsig, int fallback_image, int *error_pipe);

/* open("/proc/self/exe", O_PATH | O_CLOEXEC): the running image, kept so it
 * can be exec'd again after its file was replaced or removed. */
int cs_open_own_image(void);
/* execveat(fd, "", argv, envp, AT_EMPTY_PATH): returns only on failure. */
int cs_exec_image(int fd, char *const argv[], char *const envp[]);
/* The running executable's GNU build id (NT_GNU_BUILD_ID) as lower-case hex
 * into out (NUL-terminated); 0, or -1 when it has none. */
int cs_build_id(char *out, int cap);

/* waitpid status macros. */
int cs_wifsignaled(int status);
int cs_wexitstatus(int status);
int cs_wtermsig(int status);

/* Relaxed atomics on shared 64-bit counters. */
long long cs_atomic_load(const long long *p);
void cs_atomic_store(long long *p, long long v);
long long cs_atomic_add(long long *p, long long v);
/* A full (sequentially consistent) fence: a store before it is seen by every
 * other process before a load after it is done (the seat's idle/queue handshake). */
void cs_atomic_fence(void);

/* sendmsg(2) of `len` bytes with `nfds` (at most 8) fds as SCM_RIGHTS,
 * MSG_NOSIGNAL, MSG_DONTWAIT when nonblock. */
long cs_send_with_fds(int sock, const void *data, long len, const int *fds, int nfds, int nonblock);
/* recvmsg(2) (MSG_CMSG_CLOEXEC, MSG_DONTWAIT when nonblock): bytes received
 * (0 = peer closed). Received fds go to fds[0..*nfds). A truncated message,
 * or more fds than max_fds: every fd it carried is closed, -1 with EMSGSIZE. */
/* *fds_lost: the message's fds could not be received (MSG_CTRUNC: out of
 * descriptors); the bytes are whole. */
long cs_recv_with_fds(int sock, void *data, long cap, int *fds, int max_fds, int *nfds, int *fds_lost, int nonblock);

#endif
