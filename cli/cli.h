/*
 * The `cairn` command's private header: one entry point per subcommand
 * (cmd_<name>.c), and small helpers they share.
 */
#ifndef CAIRN_CLI_CLI_H
#define CAIRN_CLI_CLI_H

#include <stdio.h>

#include "common/bytes.h"

int	cmd_names(int argc, char **argv);

/* Writes s[0..len) as a JSON string literal (quotes included). */
void	cli_json_str(FILE *, const char *s, size_t len);

#endif
