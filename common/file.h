/*
 * Reading a whole file with a size cap, and leaving the terminal for
 * the background: the two chores every Cairn program's setup shares.
 */
#ifndef CAIRN_COMMON_FILE_H
#define CAIRN_COMMON_FILE_H

#include <stddef.h>

/*
 * Reads path into a malloc'd buffer, NUL-terminated (not counted in
 * *len).  0; CAIRN_ERR_IO (errno says why), CAIRN_ERR_TOO_BIG (over max
 * bytes) or CAIRN_ERR_NOMEM, with *buf NULL.  The caller frees *buf;
 * for secrets, cleanse it first.
 */
int	file_read_all(const char *path, size_t max, char **buf, size_t *len);

/*
 * daemon(3), then stdin, stdout and stderr on /dev/null.  -1 with errno
 * if daemon(3) failed.
 */
int	file_detach(void);

#endif
