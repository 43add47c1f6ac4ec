/*
 * Safe whole-file reads and detaching; see file.h.
 *
 * Why each step of file_read_all(): O_NONBLOCK because open(2) of a
 * FIFO blocks until a writer comes (for ever, and in a daemon's loop
 * for a reload); O_NOCTTY because a terminal device must never become
 * the controlling terminal; fstat(2) on the descriptor, not stat(2) on
 * the path, so the file checked is the file read; S_ISREG because a
 * directory reads EISDIR, a FIFO reads EAGAIN or blocks once a writer
 * shows up, and /dev/zero never ends; and a read cap besides the size
 * check, because a file may grow after fstat and /proc files claim 0.
 */
#include "common/file.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"

static void	file_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
file_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
file_kind(unsigned int mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "an unknown kind of file";
	}
}

int
file_read_all(const char *path, size_t max, int flags, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, *nb;
	size_t len = 0, cap, ncap;
	ssize_t n;
	int fd, rc, saved;

	*out = NULL;
	*outlen = 0;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1) {
		saved = errno;
		/* open(2) of a socket fails ENXIO: say what it is. */
		if (saved == ENXIO && stat(path, &st) == 0 &&
		    !S_ISREG(st.st_mode)) {
			file_err(err, errlen, "%s: not a regular file (%s)",
			    path, file_kind(st.st_mode));
			errno = saved;
			return CAIRN_ERR_INVAL;
		}
		file_err(err, errlen, "%s: %s", path, strerror(saved));
		errno = saved;
		return CAIRN_ERR_IO;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		file_err(err, errlen, "%s: %s", path, strerror(saved));
		rc = CAIRN_ERR_IO;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		file_err(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(st.st_mode));
		rc = CAIRN_ERR_INVAL;
		goto fail;
	}
	if ((flags & FILE_F_OWNER_ONLY) && (st.st_mode & 077) != 0) {
		saved = EPERM;
		file_err(err, errlen, "%s: must be accessible by owner "
		    "only", path);
		rc = CAIRN_ERR_INVAL;
		goto fail;
	}
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		saved = EFBIG;
		file_err(err, errlen, "%s: over %zu bytes", path, max);
		rc = CAIRN_ERR_TOO_BIG;
		goto fail;
	}
	/* Room for what fstat says and one byte more, to see growth. */
	cap = (size_t)st.st_size + 1;
	if (cap < 4096)
		cap = 4096;
	if (cap > max + 1)
		cap = max + 1;
	if ((buf = malloc(cap + 1)) == NULL)
		goto nomem;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				saved = EFBIG;
				file_err(err, errlen, "%s: over %zu bytes",
				    path, max);
				rc = CAIRN_ERR_TOO_BIG;
				goto fail;
			}
			ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			if ((nb = realloc(buf, ncap + 1)) == NULL)
				goto nomem;
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			file_err(err, errlen, "%s: %s", path, strerror(saved));
			rc = CAIRN_ERR_IO;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		saved = EFBIG;
		file_err(err, errlen, "%s: over %zu bytes", path, max);
		rc = CAIRN_ERR_TOO_BIG;
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
nomem:
	saved = ENOMEM;
	file_err(err, errlen, "%s: out of memory", path);
	rc = CAIRN_ERR_NOMEM;
fail:
	free(buf);
	close(fd);
	errno = saved;
	return rc;
}

int
file_detach(void)
{
	int fd;

	if (daemon(0, 1) == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}
