/*
 * The security hooks from the config: password_file and acl_file behind
 * struct broker_auth.  Until the password and ACL modules land, a
 * config naming either file is refused rather than run open.
 */
#include "broker/broker.h"

#include <stdio.h>

#include "broker/broker_int.h"

int
broker_auth_load(struct broker *b, char *err, size_t errlen)
{
	const struct broker_conf *c = b->b_conf;

	if (c->bc_password_file != NULL) {
		snprintf(err, errlen, "password_file %s: not supported by "
		    "this build yet", c->bc_password_file);
		return -1;
	}
	if (c->bc_acl_file != NULL) {
		snprintf(err, errlen, "acl_file %s: not supported by this "
		    "build yet", c->bc_acl_file);
		return -1;
	}
	return 0;
}
