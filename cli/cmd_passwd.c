/*
 * cairn passwd [-c] [-I ITER] [--scram] FILE USER
 * cairn passwd [-c] [-I ITER] [--scram] -b FILE USER PASSWORD
 * cairn passwd -D FILE USER
 * cairn passwd --check FILE USER [PASSWORD]
 *
 * mosquitto_passwd for Cairn: adds or updates USER in a password file
 * (broker/core/passwd.h), creates the file with -c, deletes USER with -D.
 * Without -b the password is asked for twice on the terminal, echo off.
 * Options come before FILE, and messages and exit status follow
 * mosquitto_passwd's (0 done, 1 anything else), so scripts written for
 * it work.  --scram writes a SCRAM-SHA-256 entry instead of $7$ (for
 * MQTT 5.0 enhanced authentication; it serves plain passwords too, but
 * mosquitto does not read it), with 4096 rounds unless -I says more,
 * over the password as SASLprep (RFC 4013) makes it, as RFC 5802 asks:
 * a password SASLprep refuses, or leaves empty, is refused here with
 * the reason, and so is a user name that SASLprep would change (the
 * broker looks SCRAM users up by the prepared name: the message gives
 * it).
 * --check is Cairn's own, for operators and tests: exit 0 if
 * the password is USER's, 1 if not (or USER is unknown), 2 if the file
 * cannot be read or the command is wrong.
 *
 * The file is rewritten atomically with mode 0600 (mosquitto_passwd keeps
 * the mode it finds); comments and other users' lines are kept as they
 * are.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "broker/core/passwd.h"
#include "common/err.h"
#include "common/utf8.h"

/* A password line: the longest MQTT password, newline, NUL. */
#define PW_BUF_LEN	(PASSWD_PASSWORD_MAX + 2)

enum pw_mode {
	PW_SET,		/* add or update USER */
	PW_DELETE,	/* -D */
	PW_CHECK,	/* --check */
};

/*
 * The terminal as it was before echo went off, for the signal handler
 * (the only state a handler may reach is a static).
 */
static struct termios		pw_saved_tio;
static volatile sig_atomic_t	pw_tio_saved;

static void
pw_usage(FILE *f)
{
	fprintf(f,
	    "usage: cairn passwd [-c] [-I ITER] [--scram] FILE USER\n"
	    "       cairn passwd [-c] [-I ITER] [--scram] -b FILE USER "
	    "PASSWORD\n"
	    "       cairn passwd -D FILE USER\n"
	    "       cairn passwd --check FILE USER [PASSWORD]\n"
	    "  Manages a password file in mosquitto_passwd's format "
	    "(PBKDF2-SHA512);\n"
	    "  cairn-broker and mosquitto read the same file.\n"
	    "  -b        batch mode: PASSWORD on the command line\n"
	    "  -c        create FILE, replacing a file already there\n"
	    "  -D        delete USER\n"
	    "  -I ITER   PBKDF2 rounds for the new entry (default %d, "
	    "%d with --scram)\n"
	    "  --scram   write a SCRAM-SHA-256 entry (MQTT 5.0 enhanced "
	    "authentication)\n"
	    "  --check   exit 0 if the password is USER's, 1 if not, "
	    "2 on error\n", PASSWD_DEFAULT_ITERATIONS,
	    SCRAM_DEFAULT_ITERATIONS);
}

static void
pw_on_signal(int sig)
{
	if (pw_tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &pw_saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Prints prompt and reads one line from stdin into buf (PW_BUF_LEN),
 * with echo off when stdin is a terminal.  0, or 1 after a message.
 */
static int
pw_read(const char *prompt, char *buf)
{
	struct termios tio;
	size_t len;
	int quiet = 0, rc = 1;

	printf("%s", prompt);
	fflush(stdout);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tio) == 0) {
		pw_saved_tio = tio;
		pw_tio_saved = 1;
		signal(SIGINT, pw_on_signal);
		signal(SIGTERM, pw_on_signal);
		tio.c_lflag &= ~(tcflag_t)ECHO;
		quiet = tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == 0;
	}
	if (fgets(buf, PW_BUF_LEN, stdin) == NULL) {
		fprintf(stderr, "\nError: No password read.\n");
		goto done;
	}
	len = strlen(buf);
	if (len == PW_BUF_LEN - 1 && buf[len - 1] != '\n') {
		fprintf(stderr, "\nError: Password must be less than 65536 "
		    "characters long.\n");
		goto done;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	rc = 0;
done:
	if (quiet) {
		tcsetattr(STDIN_FILENO, TCSANOW, &pw_saved_tio);
		printf("\n");
	}
	pw_tio_saved = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return rc;
}

/* Asks twice, as mosquitto_passwd: 0, or 1 after a message. */
static int
pw_prompt_new(char *pw, char *again)
{
	if (pw_read("Password: ", pw) != 0 ||
	    pw_read("Reenter password: ", again) != 0)
		return 1;
	if (strcmp(pw, again) != 0) {
		fprintf(stderr, "Error: Passwords do not match.\n");
		return 1;
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "Error: Empty password.\n");
		return 1;
	}
	return 0;
}

/* mosquitto_passwd's messages for a bad user name; 1 if valid. */
static int
pw_user_ok(const char *user)
{
	size_t len = strlen(user), i;

	if (passwd_user_valid(user))
		return 1;
	if (len > PASSWD_USER_MAX)
		fprintf(stderr, "Error: Username must be less than 65536 "
		    "characters long.\n");
	else if (strchr(user, ':') != NULL)
		fprintf(stderr, "Error: Username must not contain the ':' "
		    "character.\n");
	else {
		for (i = 0; i < len; i++)
			if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
				break;
		if (i < len)
			fprintf(stderr, "Error: Username must not contain "
			    "control characters.\n");
		else if (len == 0)
			fprintf(stderr, "Error: Username must not be "
			    "empty.\n");
		else if (utf8_count((const uint8_t *)user, len) < 0)
			fprintf(stderr, "Error: Username must be valid "
			    "UTF-8.\n");
		else
			fprintf(stderr, "Error: Username must not start with "
			    "'#' or a blank, nor end with a blank.\n");
	}
	return 0;
}

/*
 * SASLprep (RFC 4013, stored strings) of s, the `what` ("Password",
 * "Username") of the command line: the prepared string in *out (free
 * with scram_prep_free()) and 1, or 0 after a message.
 */
static int
pw_prep(const char *what, const char *s, char **out)
{
	const char *why = "";
	int rc;

	*out = NULL;
	rc = scram_saslprep(bytes_view_of(s, strlen(s)), SCRAM_PREP_STORED,
	    out, &why);
	if (rc == CAIRN_ERR_NOMEM)
		fprintf(stderr, "Error: Out of memory.\n");
	else if (rc != 0)
		fprintf(stderr, "Error: %s refused by SASLprep (RFC 4013): "
		    "%s.\n", what, why);
	return rc == 0;
}

/*
 * For --scram: 1 if SASLprep (RFC 4013, stored strings) takes the
 * password and leaves the user name as it is, else 0 after a message.
 */
static int
pw_scram_ok(const char *user, const char *pass)
{
	char *prep;
	int ok = 0;

	if (!pw_prep("Password", pass, &prep))
		goto done;
	if (prep[0] == '\0') {
		fprintf(stderr, "Error: Password is empty once prepared with "
		    "SASLprep (RFC 4013).\n");
		goto done;
	}
	scram_prep_free(prep);
	if (!pw_prep("Username", user, &prep))
		goto done;
	if (strcmp(prep, user) != 0) {
		fprintf(stderr, "Error: SASLprep (RFC 4013) makes the username "
		    "\"%s\", the name a SCRAM client is known by; use that "
		    "name.\n", prep);
		goto done;
	}
	ok = 1;
done:
	scram_prep_free(prep);
	return ok;
}

int
cmd_passwd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "scram", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct passwd_file *pf = NULL;
	enum pw_mode mode = PW_SET;
	const char *file, *user, *pass = NULL;
	char *pw = NULL, *again = NULL, *end, err[PATH_MAX + 256];
	int batch = 0, create = 0, scram = 0, iter = 0;
	int ch, nargs, rc, status = 1;
	long l;

	/* '+': options stop at FILE, as mosquitto_passwd's do. */
	while ((ch = getopt_long(argc, argv, "+bcDhI:", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			batch = 1;
			break;
		case 'c':
			create = 1;
			break;
		case 'D':
			mode = PW_DELETE;
			break;
		case 'h':
			pw_usage(stdout);
			return 0;
		case 'I':
			errno = 0;
			l = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || errno != 0 ||
			    l < 1 || l > INT_MAX) {
				fprintf(stderr, "Error: Number of iterations "
				    "must be > 0.\n");
				return 1;
			}
			iter = (int)l;
			break;
		case 'k':
			mode = PW_CHECK;
			break;
		case 's':
			scram = 1;
			break;
		default:
			pw_usage(stderr);
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	if (mode == PW_CHECK && (batch || create || iter != 0 || scram)) {
		fprintf(stderr, "Error: --check takes no other option.\n");
		return 2;
	}
	if (mode == PW_DELETE && create) {
		fprintf(stderr, "Error: -c and -D cannot be used together.\n");
		return 1;
	}
	if (mode == PW_DELETE && batch) {
		fprintf(stderr, "Error: -b and -D cannot be used together.\n");
		return 1;
	}
	if (mode == PW_DELETE && (scram || iter != 0)) {
		fprintf(stderr, "Error: -D takes no -I or --scram.\n");
		return 1;
	}
	if (iter == 0)
		iter = scram ? SCRAM_DEFAULT_ITERATIONS :
		    PASSWD_DEFAULT_ITERATIONS;
	nargs = mode == PW_CHECK ? (argc == 3 ? 3 : 2) : batch ? 3 : 2;
	if (argc != nargs) {
		pw_usage(stderr);
		return mode == PW_CHECK ? 2 : 1;
	}
	file = argv[0];
	user = argv[1];
	if (nargs == 3)
		pass = argv[2];
	if (mode != PW_CHECK && !pw_user_ok(user))
		return 1;
	if (pass != NULL && strlen(pass) > PASSWD_PASSWORD_MAX) {
		fprintf(stderr, "Error: Password must be less than 65536 "
		    "characters long.\n");
		return mode == PW_CHECK ? 2 : 1;
	}

	if (pass == NULL && mode != PW_DELETE) {
		if ((pw = malloc(PW_BUF_LEN)) == NULL ||
		    (again = malloc(PW_BUF_LEN)) == NULL) {
			fprintf(stderr, "Error: Out of memory.\n");
			goto done;
		}
		if (mode == PW_CHECK ? pw_read("Password: ", pw) != 0 :
		    pw_prompt_new(pw, again) != 0) {
			status = mode == PW_CHECK ? 2 : 1;
			goto done;
		}
		pass = pw;
	}
	if (mode == PW_SET && scram && !pw_scram_ok(user, pass))
		goto done;

	if (create)
		pf = passwd_new();
	else if ((rc = passwd_load(file, &pf, err, sizeof(err))) != 0) {
		fprintf(stderr, "Error: %s\n", err);
		status = mode == PW_CHECK ? 2 : 1;
		goto done;
	}
	if (pf == NULL) {
		fprintf(stderr, "Error: Out of memory.\n");
		goto done;
	}

	switch (mode) {
	case PW_CHECK:
		if (passwd_check(pf, bytes_view_of(user, strlen(user)),
		    bytes_view_of(pass, strlen(pass))) == 0) {
			status = 0;
		} else {
			fprintf(stderr, "Error: Password refused for user "
			    "%s.\n", user);
			status = 1;
		}
		goto done;
	case PW_DELETE:
		if (passwd_delete(pf, user) != 0) {
			fprintf(stderr, "Warning: User %s not found in "
			    "password file.\n", user);
			goto done;
		}
		break;
	case PW_SET:
		if ((rc = (scram ? passwd_set_scram : passwd_set)(pf, user,
		    bytes_view_of(pass, strlen(pass)), iter)) != 0) {
			fprintf(stderr, "Error: Unable to hash password: "
			    "%s.\n", cairn_strerror(rc));
			goto done;
		}
		break;
	}
	if (passwd_save(pf, file, err, sizeof(err)) != 0) {
		fprintf(stderr, "Error: Unable to write password file: %s\n",
		    err);
		goto done;
	}
	status = 0;
done:
	if (pw != NULL)
		explicit_bzero(pw, PW_BUF_LEN);
	if (again != NULL)
		explicit_bzero(again, PW_BUF_LEN);
	free(pw);
	free(again);
	passwd_free(pf);
	return status;
}
