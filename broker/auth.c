/*
 * The security hooks from the config: password_file (passwd.h) and
 * acl_file (acl.h) behind struct broker_auth.  Without an ACL file the
 * ACL module's built-in rules still apply ($SYS is not writable, $share
 * is neither readable nor writable as a topic).
 */
#include "broker/net/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/acl.h"
#include "broker/net/broker_int.h"
#include "broker/node.h"
#include "broker/core/passwd.h"
#include "common/err.h"

struct auth_files {
	struct passwd_file	*af_passwd;	/* NULL: no password file */
	struct acl		*af_acl;	/* NULL: no ACL file */
};

static int
auth_check_password(void *arg, const char *username,
    struct bytes_view password)
{
	struct auth_files *af = arg;
	const char *u = username;

	if (af->af_passwd == NULL)
		return 0;
	return passwd_check(af->af_passwd, bytes_view_of(u, strlen(u)),
	    password);
}

static int
auth_scram_cred(void *arg, struct bytes_view user, struct scram_cred *out)
{
	struct auth_files *af = arg;

	return passwd_scram_cred(af->af_passwd, user, out);
}

static int
auth_check_acl(void *arg, const char *client_id, const char *username,
    struct bytes_view topic, int access)
{
	struct auth_files *af = arg;

	return acl_check(af->af_acl, client_id, username, topic,
	    access == BROKER_ACL_READ ? ACL_READ : ACL_WRITE);
}

static void
auth_free(void *arg)
{
	struct auth_files *af = arg;

	if (af == NULL)
		return;
	passwd_free(af->af_passwd);
	acl_free(af->af_acl);
	free(af);
}

int
broker_auth_load(struct broker *b, char *err, size_t errlen)
{
	struct broker_auth a;

	if (broker_auth_build(b->b_conf, &a, err, errlen) != 0)
		return -1;
	broker_set_auth(b, &a);
	return 0;
}

int
broker_auth_build(const struct broker_conf *c, struct broker_auth *a,
    char *err, size_t errlen)
{
	struct auth_files *af;

	if ((af = calloc(1, sizeof(*af))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (c->bc_password_file != NULL &&
	    passwd_load(c->bc_password_file, &af->af_passwd, err,
	    errlen) != 0)
		goto fail;
	if (c->bc_acl_file != NULL &&
	    acl_load(c->bc_acl_file, &af->af_acl, err, errlen) != 0)
		goto fail;
	a->ba_check_password = af->af_passwd != NULL ? auth_check_password :
	    NULL;
	/* SCRAM's keys live in the password file: none, no SCRAM. */
	a->ba_scram_cred = af->af_passwd != NULL ? auth_scram_cred : NULL;
	a->ba_check_acl = auth_check_acl;
	a->ba_arg = af;
	a->ba_free = auth_free;
	return 0;
fail:
	auth_free(af);
	return -1;
}
