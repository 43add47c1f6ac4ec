/*
 * Reading a whole file safely, and leaving the terminal for the
 * background: the two chores every Cairn program's setup shares.
 *
 * Every file a Cairn program reads (YAML config, password and ACL
 * files, cookie files, .hosts.erlang) goes through file_read_all(), so
 * that a hostile path cannot hang the program or fill its memory: a
 * FIFO, a directory, a device (/dev/zero) or a socket is refused at
 * once with a message naming the file, and a regular file is read only
 * up to a cap.
 */
#ifndef CAIRN_COMMON_FILE_H
#define CAIRN_COMMON_FILE_H

#include <stddef.h>

/* file_read_all() flags. */
#define FILE_F_OWNER_ONLY	0x1	/* refuse group/other access bits */

/*
 * Opens path O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY (so opening a
 * FIFO with no writer returns at once), checks with fstat(2) that it is
 * a regular file (a symbolic link to one is fine) of at most max bytes,
 * and reads it, reading at most max + 1 bytes whatever the file claims.
 *
 * On success 0, *buf a malloc'd copy, NUL-terminated (the NUL is not
 * counted in *len); the caller frees *buf (for secrets, cleanse it
 * first).  On failure *buf is NULL, *len 0, and err (errlen bytes, may
 * be NULL) holds one line naming the file:
 *
 *	CAIRN_ERR_IO	  "PATH: No such file or directory" (errno kept)
 *	CAIRN_ERR_INVAL	  "PATH: not a regular file (a FIFO)", or with
 *			  FILE_F_OWNER_ONLY "PATH: must be accessible by
 *			  owner only"
 *	CAIRN_ERR_TOO_BIG "PATH: over MAX bytes"
 *	CAIRN_ERR_NOMEM	  "PATH: out of memory"
 */
int	file_read_all(const char *path, size_t max, int flags, char **buf,
	    size_t *len, char *err, size_t errlen);

/*
 * "a FIFO", "a directory", "a character device", "a block device", "a
 * socket", "a symbolic link", "a regular file" or "an unknown kind of
 * file" for an st_mode; a static string.
 */
const char	*file_kind(unsigned int mode);

/*
 * daemon(3), then stdin, stdout and stderr on /dev/null.  -1 with errno
 * if daemon(3) failed.
 */
int	file_detach(void);

#endif
