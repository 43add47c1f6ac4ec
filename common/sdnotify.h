/*
 * The systemd service protocol, over libsystemd: readiness, reload and
 * stop notifications (sd_notify(3)) and socket activation
 * (sd_listen_fds(3)).
 *
 * Every notify_* call is a no-op when NOTIFY_SOCKET is unset (not run
 * by systemd as Type=notify) or when Cairn was built without
 * libsystemd; a failed send is ignored, as a daemon cannot do better
 * than carry on.  None of them logs.
 *
 *	notify_ready()		READY=1: listeners accept, start is done
 *	notify_reloading()	RELOADING=1 and MONOTONIC_USEC, as systemd
 *				253's Type=notify-reload wants; follow with
 *				notify_ready() when the reload is over
 *	notify_stopping()	STOPPING=1: shutdown has begun
 *	notify_status()		STATUS=...: one line for `systemctl status`
 */
#ifndef CAIRN_COMMON_SDNOTIFY_H
#define CAIRN_COMMON_SDNOTIFY_H

#include <stddef.h>

void	notify_ready(void);
void	notify_reloading(void);
void	notify_stopping(void);
void	notify_status(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Socket activation: the number of listening stream sockets systemd
 * passed (they are fds 3, 4, ... and are made non-blocking and
 * close-on-exec), 0 if it passed none, or -1 with the reason in err
 * (an fd that is not a listening stream socket, or no libsystemd).
 * Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so that a child
 * does not take them for its own.
 */
int	notify_listen_fds(char *err, size_t errlen);

#endif
