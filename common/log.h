/*
 * Logging, in the shape of OpenBSD's relayd/ntpd log.c.  One line per
 * event.  In the foreground lines go to stderr, otherwise to syslog;
 * with log_file() to a file of the daemon's, reopened by log_reopen().
 *
 *	log_warn	message plus ": strerror(errno)"
 *	log_warnx	message only (the err(3) "x")
 *	log_info	always shown
 *	log_debug	shown at verbosity >= 1 (-d, -v)
 *	log_debug2	shown at verbosity >= 2
 *	fatal/fatalx	log, then exit(1); setup and broken invariants only
 *
 * The only mutable global state of common/ is here.
 */
#ifndef CAIRN_COMMON_LOG_H
#define CAIRN_COMMON_LOG_H

/* ident prefixes each stderr line ("epmd: ..."); it is borrowed. */
void	log_init(int foreground, int verbose, const char *ident);
/*
 * Lines go to the file at path (appended, created 0640) instead of
 * stderr or syslog, each "2026-12-04T21:00:00+0000 ident[pid]: msg".
 * 0, or -1 with errno (the old destination stays).
 */
int	log_file(const char *path);
/*
 * Opens log_file()'s path again (after logrotate renamed it), for
 * SIGHUP/SIGUSR1; nothing without a log file.  0, or -1 with errno
 * (lines keep going to the old file).
 */
int	log_reopen(void);
void	log_setverbose(int);
int	log_getverbose(void);
/* Adds "Mon Dec  1 11:00:00 2026: " after the ident, as OTP's epmd does. */
void	log_settimestamps(int);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug2(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * A rate limit for one kind of line that a remote party can trigger
 * (a refused connection, a failed handshake, a malformed packet): the
 * first occurrence is logged; later ones within lr_interval seconds are
 * only counted, and the next line logged after the interval ends with
 * how many were held back ("; 1234 more like it in the last 10.0s").
 * log_rate_flush() says the count of a flood that stopped, from a
 * periodic timer.  Monotonic clock; no allocation.  Declare one per
 * kind of line, e.g.
 *
 *	static struct log_rate refused_lr = LOG_RATE_INIT(10);
 *	log_rate_warnx(&refused_lr, "%s: refused: %s", addr, why);
 */
struct log_rate {
	double			lr_interval;	/* seconds; 0 means 10 */
	double			lr_open;	/* when the window opened */
	unsigned long long	lr_held;	/* counted, not logged */
	unsigned long long	lr_total;	/* every occurrence */
	int			lr_started;
};
#define LOG_RATE_INIT(sec)	{ .lr_interval = (sec) }

void	log_rate_warn(struct log_rate *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_rate_warnx(struct log_rate *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_rate_info(struct log_rate *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * When lines were held back and the window is over: one line "N more
 * like <what> in the last Ts" and a new window.  1 if it logged.
 */
int	log_rate_flush(struct log_rate *, const char *what);

#endif
