#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The calling thread's CPUs (sched_setaffinity(2), sched_getaffinity(2)) as a byte mask, by the system call itself:
   glibc's <sched.h> declares its wrappers only under _GNU_SOURCE. The get call returns the bytes the kernel wrote
   (its mask's size), not 0, on success; -1 and errno on failure, as the set call does. */
static inline long pumasi_set_thread_cpus(size_t size, const unsigned char *mask) {
    return syscall(SYS_sched_setaffinity, 0, size, mask);
}
static inline long pumasi_get_thread_cpus(size_t size, unsigned char *mask) {
    return syscall(SYS_sched_getaffinity, 0, size, mask);
}
