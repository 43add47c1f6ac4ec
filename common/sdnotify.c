/*
 * The systemd service protocol; see sdnotify.h.
 *
 * Why libsystemd when the protocol is a datagram of "KEY=VALUE" lines:
 * it is systemd's own reference implementation, so abstract socket
 * names, vsock addresses (systemd 253+), credential passing and the
 * LISTEN_PID check follow systemd's rules as they change, and
 * sd_is_socket() checks what we are handed.  It is a small shared
 * library on every systemd host; without it (-Dsystemd=disabled) these
 * calls do nothing and socket activation is refused.
 */
#include "common/sdnotify.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/sock.h"

/* STATUS= is one line in `systemctl status`: longer is not useful. */
#define NOTIFY_STATUS_MAX	256

#ifdef HAVE_LIBSYSTEMD
static void
notify_send(const char *msg)
{
	/* sd_notify() checks NOTIFY_SOCKET itself; 0 = not under systemd. */
	(void)sd_notify(0, msg);
}
#else
static void
notify_send(const char *msg)
{
	(void)msg;
}
#endif

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/*
	 * systemd 253+ (Type=notify-reload) matches the reload to the
	 * signal it sent by this timestamp; older ones ignore the key.
	 */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		notify_send("RELOADING=1");
		return;
	}
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char msg[sizeof("STATUS=") + NOTIFY_STATUS_MAX];
	va_list ap;
	size_t i;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	/* A newline would start another assignment: keep it one line. */
	for (i = 7; msg[i] != '\0'; i++)
		if (msg[i] == '\n')
			msg[i] = ' ';
	notify_send(msg);
}

#ifdef HAVE_LIBSYSTEMD
int
notify_listen_fds(char *err, size_t errlen)
{
	int n, fd;

	/* 1: unset LISTEN_* so that a child does not take them. */
	if ((n = sd_listen_fds(1)) < 0) {
		snprintf(err, errlen, "sd_listen_fds: %s", strerror(-n));
		return -1;
	}
	for (fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			snprintf(err, errlen, "fd %d from systemd is not a "
			    "listening stream socket", fd);
			return -1;
		}
		if (sock_set_nonblock(fd) != 0 || sock_set_cloexec(fd) != 0) {
			snprintf(err, errlen, "fd %d from systemd: %s", fd,
			    strerror(errno));
			return -1;
		}
	}
	return n;
}
#else
int
notify_listen_fds(char *err, size_t errlen)
{
	snprintf(err, errlen, "built without libsystemd: no socket "
	    "activation");
	return -1;
}
#endif
