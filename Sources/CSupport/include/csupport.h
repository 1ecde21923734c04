#ifndef CSUPPORT_H
#define CSUPPORT_H

#include <stdint.h>
#include <sys/types.h>

/* Every function returns >= 0 on success and -errno on failure, so Swift can
 * turn the result into a typed error without reading a thread-local errno. */

/* epoll: struct epoll_event is packed on x86_64, which Swift cannot import
 * faithfully; these take and return an unpacked copy. */
typedef struct {
    uint32_t events;
    uint64_t data;
} cs_epoll_event;

enum {
    CS_EPOLLIN = 0x001,
    CS_EPOLLOUT = 0x004,
    CS_EPOLLERR = 0x008,
    CS_EPOLLHUP = 0x010,
    CS_EPOLL_CTL_ADD = 1,
    CS_EPOLL_CTL_DEL = 2,
};

int cs_epoll_create(void);
int cs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int cs_epoll_wait(int epfd, cs_epoll_event *events, int max, int timeout_ms);

/* signalfd: blocks `signals` for the calling thread (and so for threads it
 * starts later) and returns a CLOEXEC, non-blocking signalfd for them. */
int cs_signalfd(const int *signals, int count);
/* Reads one pending signal; returns the signal number, 0 when none, -errno. */
int cs_signalfd_read(int fd);

/* prctl is variadic. */
int cs_set_child_subreaper(void);
int cs_set_pdeathsig(int sig);
int cs_set_process_name(const char *name);

/* Sockets: the listening helpers create CLOEXEC, non-blocking sockets. */
int cs_listen_unix(const char *path, int backlog);
int cs_listen_tcp(const char *host, int port, int backlog);
/* Port of a bound TCP socket (for `:0` listeners). */
int cs_local_port(int fd);
/* A blocking, CLOEXEC client connection to a unix stream socket. */
int cs_connect_unix(const char *path);
/* A blocking, CLOEXEC TCP connection to an IPv4 address. */
int cs_connect_tcp(const char *host, int port);
int cs_socketpair(int fds[2]);
/* A connected AF_UNIX SOCK_SEQPACKET pair, both ends CLOEXEC and non-blocking. */
int cs_seqpacket_pair(int fds[2]);
/* pipe2(O_CLOEXEC). */
int cs_pipe(int fds[2]);
int cs_accept(int fd);
/* accept4 that also returns the peer's address as text and its port ("" and 0 for unix sockets). */
int cs_accept_peer(int fd, char *host, int host_len, int *port);

/* Starts `path` with fork+exec; only async-signal-safe calls run in the child.
 * fd_map holds pairs (source fd, target fd) that the child gets; every other
 * fd is closed. The child gets its own process group (when new_pgroup),
 * PR_SET_PDEATHSIG=pdeathsig (when > 0), default signal dispositions and an
 * empty signal mask, and cwd (when not NULL). Returns the pid or -errno; an
 * exec failure is reported as -errno of execve, not as a child that exits. */
pid_t cs_spawn(const char *path, char *const argv[], char *const envp[],
               const char *cwd, const int *fd_map, int fd_map_count,
               int new_pgroup, int pdeathsig);

/* The peer's (or our own, when local) IPv4/IPv6 address as text and its port;
 * "" and 0 for unix sockets. Returns 0 or -errno. */
int cs_socket_name(int fd, int local, char *host, int host_len, int *port);
int cs_set_nodelay(int fd);
/* TCP_DEFER_ACCEPT: a connection reaches accept() once its first bytes are in (or after `seconds`). */
int cs_defer_accept(int fd, int seconds);
/* epoll/EPOLLEXCLUSIVE registration for listening sockets shared by processes. */
int cs_epoll_add_exclusive(int epfd, int fd, uint64_t data);
/* poll(2) one fd for POLLIN (want_write=0) or POLLOUT; 1 ready, 0 timeout, -errno. */
int cs_poll_one(int fd, int want_write, int timeout_ms);
/* sendfile(2) from in_fd at *offset; returns bytes sent or -errno. */
long cs_sendfile(int out_fd, int in_fd, long long *offset, long count);
/* Rewrites the process title seen by ps (the argv area) and the comm name. */
void cs_set_process_title(int argc, char **argv, const char *title);
int cs_shutdown_write(int fd);

/* Shared memory: an anonymous memfd of `size` bytes (CLOEXEC), and a
 * MAP_SHARED mapping of one (NULL on failure). */
int cs_memfd(const char *name, long size);
void *cs_map_shared(int fd, long size);
/* Relaxed atomics on shared 64-bit counters. */
long long cs_atomic_load(const long long *p);
void cs_atomic_store(long long *p, long long v);
long long cs_atomic_add(long long *p, long long v);

/* writev(2) of two buffers; bytes written or -errno (EINTR retried). */
long cs_writev2(int fd, const void *a, long a_len, const void *b, long b_len);

/* waitpid(-1, WNOHANG): returns pid (>0) with *status set, 0 for none, -errno. */
pid_t cs_reap_any(int *status);
int cs_wifexited(int status);
int cs_wexitstatus(int status);
int cs_wifsignaled(int status);
int cs_wtermsig(int status);

/* The handoff transport: AF_UNIX SOCK_SEQPACKET (message boundaries kept,
 * SCM_RIGHTS allowed). listen: CLOEXEC, non-blocking, stale path unlinked.
 * connect: CLOEXEC, blocking. */
int cs_listen_seqpacket(const char *path, int backlog);
int cs_connect_seqpacket(const char *path);
/* One sendmsg of `len` bytes with `nfds` fds as SCM_RIGHTS (MSG_NOSIGNAL,
 * MSG_DONTWAIT when nonblock); bytes sent or -errno. */
long cs_send_with_fds(int sock, const void *data, long len, const int *fds, int nfds, int nonblock);
/* One recvmsg (MSG_CMSG_CLOEXEC, MSG_DONTWAIT when nonblock): bytes received
 * (0 = peer closed) or -errno. Received fds go to fds[0..*nfds). A truncated
 * message, or more fds than max_fds: every fd it carried is closed, -EMSGSIZE. */
long cs_recv_with_fds(int sock, void *data, long cap, int *fds, int max_fds, int *nfds, int nonblock);
/* SO_PEERCRED of a unix socket. */
int cs_peer_credentials(int fd, int *pid, int *uid, int *gid);

/* Connections waiting in a TCP listener's accept queue (TCP_INFO tcpi_unacked), or -errno. */
int cs_listen_backlog(int fd);

/* Voluntary context switches of the calling thread so far (getrusage RUSAGE_THREAD ru_nvcsw). */
long cs_voluntary_switches(void);

#endif
