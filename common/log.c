/*
 * Logging to stderr or syslog; see log.h.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static int		 log_fg = 1;
static int		 log_verbose;
static int		 log_stamps;
static const char	*log_ident = "cairn";

void
log_init(int foreground, int verbose, const char *ident)
{
	log_fg = foreground;
	log_verbose = verbose;
	if (ident != NULL)
		log_ident = ident;
	if (!log_fg)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_settimestamps(int on)
{
	log_stamps = on;
}

/* The attribute lets clang's -Wformat-nonliteral accept vsnprintf(fmt). */
static void	log_vlog(int, const char *, va_list, int)
		    __attribute__((format(printf, 2, 0)));

static void
log_vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[2048];
	char stamp[64] = "";
	int saved = errno;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_fg) {
		if (log_stamps) {
			time_t now = time(NULL);
			char tb[32];

			if (ctime_r(&now, tb) != NULL) {
				tb[strcspn(tb, "\n")] = '\0';
				snprintf(stamp, sizeof(stamp), "%s: ", tb);
			}
		}
		fprintf(stderr, "%s: %s%s\n", log_ident, stamp, msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
log_debug2(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
