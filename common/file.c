/*
 * Whole-file reads and detaching; see file.h.
 */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"

int
file_read_all(const char *path, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc, saved;

	*out = NULL;
	*outlen = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return CAIRN_ERR_IO;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				rc = CAIRN_ERR_TOO_BIG;
				goto fail;
			}
			cap = cap > 0 ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				rc = CAIRN_ERR_NOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = CAIRN_ERR_IO;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		rc = CAIRN_ERR_TOO_BIG;
		goto fail;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		rc = CAIRN_ERR_NOMEM;
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	saved = errno;
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
