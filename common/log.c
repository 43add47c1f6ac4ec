/*
 * Logging to stderr or syslog; see log.h.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int		 log_fg = 1;
static int		 log_fd = -1;		/* log_file(); -1: none */
static char		*log_path;
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

/* The descriptor of path, opened for appending; -1 with errno. */
static int
log_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640);
}

int
log_file(const char *path)
{
	char *p;
	int fd;

	if ((p = strdup(path)) == NULL)
		return -1;
	if ((fd = log_open(path)) == -1) {
		free(p);
		return -1;
	}
	if (log_fd != -1)
		close(log_fd);
	free(log_path);
	log_fd = fd;
	log_path = p;
	return 0;
}

int
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return 0;
	if ((fd = log_open(log_path)) == -1)
		return -1;
	close(log_fd);
	log_fd = fd;
	return 0;
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

static void	log_vlog_sfx(int, const char *, va_list, int, const char *)
		    __attribute__((format(printf, 2, 0)));

static void
log_vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	log_vlog_sfx(pri, fmt, ap, with_errno, NULL);
}

static void
log_vlog_sfx(int pri, const char *fmt, va_list ap, int with_errno,
    const char *sfx)
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
	if (sfx != NULL) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, "%s", sfx);
	}
	if (log_fd != -1) {
		/* One write(2) per line: lines of a rotation never mix. */
		time_t now = time(NULL);
		struct tm tm;
		char line[2200], tb[32] = "";

		if (localtime_r(&now, &tm) != NULL)
			strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%S%z", &tm);
		n = (size_t)snprintf(line, sizeof(line), "%s %s[%ld]: %s\n",
		    tb, log_ident, (long)getpid(), msg);
		if (n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		(void)!write(log_fd, line, n);
	} else if (log_fg) {
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

static double
log_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
log_rate_interval(const struct log_rate *lr)
{
	return lr->lr_interval > 0 ? lr->lr_interval : 10.;
}

/*
 * 1 when this occurrence is to be logged, with sfx filled with the
 * count held back before it (or empty).
 */
static int
log_rate_pass(struct log_rate *lr, char *sfx, size_t sfxlen)
{
	double now = log_mono(), iv = log_rate_interval(lr);

	lr->lr_total++;
	sfx[0] = '\0';
	if (lr->lr_started && now - lr->lr_open < iv) {
		lr->lr_held++;
		return 0;
	}
	if (lr->lr_held > 0)
		snprintf(sfx, sfxlen, "; %llu more like it in the last %.1fs",
		    lr->lr_held, now - lr->lr_open);
	lr->lr_started = 1;
	lr->lr_open = now;
	lr->lr_held = 0;
	return 1;
}

#define LOG_RATE_BODY(pri, with_errno) do {				\
	char sfx[96];							\
	va_list ap;							\
	int saved = errno;						\
									\
	if (!log_rate_pass(lr, sfx, sizeof(sfx)))			\
		return;							\
	errno = saved;							\
	va_start(ap, fmt);						\
	log_vlog_sfx((pri), fmt, ap, (with_errno), sfx);		\
	va_end(ap);							\
} while (0)

void
log_rate_warn(struct log_rate *lr, const char *fmt, ...)
{
	LOG_RATE_BODY(LOG_WARNING, 1);
}

void
log_rate_warnx(struct log_rate *lr, const char *fmt, ...)
{
	LOG_RATE_BODY(LOG_WARNING, 0);
}

void
log_rate_info(struct log_rate *lr, const char *fmt, ...)
{
	LOG_RATE_BODY(LOG_INFO, 0);
}

int
log_rate_flush(struct log_rate *lr, const char *what)
{
	double now = log_mono();

	if (lr->lr_held == 0 || now - lr->lr_open < log_rate_interval(lr))
		return 0;
	log_warnx("%llu more like %s in the last %.1fs", lr->lr_held, what,
	    now - lr->lr_open);
	lr->lr_open = now;
	lr->lr_held = 0;
	return 1;
}
