/*
 * The `cairn` command's private header: one entry point per subcommand
 * (cmd_<name>.c), and small helpers they share.
 */
#ifndef CAIRN_CLI_CLI_H
#define CAIRN_CLI_CLI_H

#include <stdio.h>

#include "common/bytes.h"
#include "common/json.h"

#include <stdint.h>

int	cmd_cluster(int argc, char **argv);
int	cmd_members(int argc, char **argv);
int	cmd_names(int argc, char **argv);
int	cmd_passwd(int argc, char **argv);
int	cmd_ring(int argc, char **argv);
int	cmd_wait(int argc, char **argv);

/* The agent's control socket: opt, else $CAIRN_AGENT_SOCKET, else the
 * default.  Borrowed. */
const char *cli_agent_socket(const char *opt);
/* Connects and sends req and a newline; the fd, or -1 with err set. */
int	cli_agent_open(const char *path, const char *req, char *err,
	    size_t errlen);
/* The next line (malloc'd, no newline) by deadline (ms); 0 or CAIRN_ERR_*. */
int	cli_read_line(int fd, struct bytes_w *buf, char **line,
	    uint64_t deadline);

/* Writes s[0..len) as a JSON string literal (quotes included). */
void	cli_json_str(FILE *, const char *s, size_t len);

#endif
