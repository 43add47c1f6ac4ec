/*
 * Logging, in the shape of OpenBSD's relayd/ntpd log.c.  One line per
 * event.  In the foreground lines go to stderr, otherwise to syslog.
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

#endif
