/* The system calls of the request path, made without glibc's cancellation bracket.
 *
 * In a process with more than one thread, glibc wraps every call that POSIX makes a
 * cancellation point (recv, send, sendmsg, epoll_wait...) in __pthread_enable_asynccancel /
 * __pthread_disable_asynccancel: about 45 user-space instructions per call, three calls per
 * keep-alive request.  Monkey never cancels a thread, so these wrappers go to syscall(2)
 * directly; the kernel sees the same system calls (recvfrom, sendto, sendmsg, epoll_pwait).
 *
 * Sanitizer builds keep the libc functions: their interceptors check the buffers passed. */
#ifndef MK_SYS_H
#define MK_SYS_H

#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "../mk_config.h"

#if MK_HAVE_SANITIZER

#define mk_sys_recv(fd, buf, len, flags) recv(fd, buf, len, flags)
#define mk_sys_send(fd, buf, len, flags) send(fd, buf, len, flags)
#define mk_sys_sendmsg(fd, msg, flags) sendmsg(fd, msg, flags)
#define mk_sys_epoll_wait(epfd, ev, max, timeout) epoll_wait(epfd, ev, max, timeout)

#else

static inline ssize_t mk_sys_recv(int fd, void *buf, size_t len, int flags)
{
    return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

static inline ssize_t mk_sys_send(int fd, const void *buf, size_t len, int flags)
{
    return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

static inline ssize_t mk_sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return syscall(SYS_sendmsg, fd, msg, flags);
}

/* epoll_pwait with no signal mask is epoll_wait; unlike epoll_wait it exists on every
 * architecture.  The last argument is the kernel's sigset size, unused without a mask. */
static inline int mk_sys_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout, NULL, (size_t)8);
}

#endif

#endif
