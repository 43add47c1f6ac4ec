/*
 * MQTT 5.0 enhanced authentication (section 4.12) with one method,
 * SCRAM-SHA-256 (core/scram.h), as EMQX offers it:
 *
 *	CONNECT   method "SCRAM-SHA-256", data client-first
 *	AUTH 0x18 (server) data server-first
 *	AUTH 0x18 (client) data client-final
 *	CONNACK 0x00, method and data server-final      or CONNACK 0x86
 *
 * The CONNECT waits, copied whole, until the proof is checked; then it
 * is decoded again and handle_connect() goes on as for a password, with
 * the SCRAM user as the connection's user name (no password check).
 * The credential comes from the auth hook (ba_scram_cred: the password
 * file's $scram-sha-256$ lines); an unknown user gets a fake one and
 * fails at the proof, after the same exchange.
 *
 * User names are compared and looked up as SASLprep (RFC 4013) makes
 * them, as RFC 5802 asks: scram_client_first() prepares the SCRAM one,
 * and the CONNECT's is prepared here before the two are compared; the
 * prepared name is the connection's user name.
 *
 * Refusals, each a CONNACK and a close:
 *   another method, no password file, or a TLS
 *   listener with use_identity_as_username         0x8C bad auth method
 *   malformed SCRAM data, bad proof, unknown user,
 *   wrong nonce, a CONNECT user name that is not
 *   the SCRAM one, a user name that SASLprep
 *   refuses                                        0x86 bad user or password
 *   an AUTH with another method or reason code, or
 *   any other packet during the exchange           0x82 protocol error
 * connect_timeout runs from the accept to the CONNACK, so it bounds the
 * whole exchange.
 *
 * Re-authentication (AUTH 0x19 once connected, 4.12.1) runs the same
 * exchange with the same method and user: AUTH 0x18 server-first, then
 * AUTH 0x00 with server-final.  A failed proof or another user is a
 * DISCONNECT 0x87, another method 0x82.  Packets keep flowing
 * during it, as the spec allows.  An AUTH on a connection whose CONNECT
 * named no method is a protocol error (DISCONNECT 0x82).
 *
 * connect_timeout bounds a re-authentication too: from the server-first
 * it sends, the client has that long for its client-final (ca_reauth_w),
 * else DISCONNECT 0x87.  Without it a client could start one and leave
 * it open for the life of the connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <openssl/crypto.h>

#include "broker/net/broker_int.h"
#include "broker/core/scram.h"
#include "common/container.h"
#include "common/err.h"
#include "common/log.h"

enum auth_state {
	AUTH_CONNECTING = 1,	/* CONNECT's exchange: server-first sent */
	AUTH_OK,		/* authenticated; no exchange running */
	AUTH_REAUTH,		/* re-authentication: server-first sent */
};

struct client_auth {
	enum auth_state	 ca_state;
	struct scram	 ca_scram;
	/* The CONNECT, to decode once the exchange is done. */
	struct mqtt_hdr	 ca_hdr;
	uint8_t		*ca_connect;
	size_t		 ca_connect_len;
	/* server-final, for CONNACK or AUTH 0x00. */
	char		 ca_final[2 + SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];
	size_t		 ca_final_len;
	/* Active only in AUTH_REAUTH: connect_timeout for the answer. */
	ev_timer	 ca_reauth_w;
	struct client	*ca_client;	/* the owner, for ca_reauth_w */
};

static const char auth_method[] = SCRAM_METHOD;

static struct bytes_view
auth_method_view(void)
{
	return bytes_view_of(auth_method, sizeof(auth_method) - 1);
}

void
handle_auth_free(struct client *c)
{
	struct client_auth *a = c->c_auth;

	if (a == NULL)
		return;
	ev_timer_stop(c->c_broker->b_loop, &a->ca_reauth_w);
	scram_fini(&a->ca_scram);
	free(a->ca_connect);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	c->c_auth = NULL;
}

int
handle_auth_ok(const struct client *c)
{
	return c->c_auth != NULL && c->c_auth->ca_state != AUTH_CONNECTING;
}

int
handle_auth_pending(const struct client *c)
{
	return c->c_auth != NULL && c->c_auth->ca_state == AUTH_CONNECTING;
}

void
handle_auth_connack_props(const struct client *c, struct mqtt5_props *props)
{
	const struct client_auth *a = c->c_auth;

	if (a == NULL || a->ca_final_len == 0)
		return;
	props->auth_method = auth_method_view();
	MQTT5_SET(props, MQTT5_PROP_AUTH_METHOD);
	props->auth_data = bytes_view_of(a->ca_final, a->ca_final_len);
	MQTT5_SET(props, MQTT5_PROP_AUTH_DATA);
}

/* CONNACK rc and close, during the CONNECT's exchange. */
static void
auth_refuse(struct client *c, uint8_t rc, const char *why)
{
	(void)send_connack5_why(c, rc, why);
	client_close_kind(c, 0, why, "CONNECT refused (0x%02x): %s", rc, why);
}

void
handle_auth_refuse(struct client *c, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)send_connack5(c, 0, MQTT5_RC_PROTOCOL_ERROR, NULL);
	/* One rate limit for every such refusal: the kind is static. */
	client_close_kind(c, 0, auth_method, "CONNECT refused (0x82): %s",
	    why);
}

/*
 * DISCONNECT rc and close, once connected.  rc is as auth_first() and
 * auth_final() give it for a CONNACK; DISCONNECT has neither 0x86 nor
 * 0x88 (3.14.2.1, and the codec refuses to encode them), so a refused
 * proof or name is 0x87 and out of memory 0x80.
 */
static void
auth_disconnect(struct client *c, uint8_t rc, const char *why)
{
	if (rc == MQTT5_RC_BAD_USER_OR_PASSWORD)
		rc = MQTT5_RC_NOT_AUTHORIZED;
	else if (rc == MQTT5_RC_SERVER_UNAVAILABLE)
		rc = MQTT5_RC_UNSPECIFIED;
	client_disconnect(c, rc, 1, "re-authentication refused (0x%02x): %s",
	    rc, why);
}

/*
 * A re-authentication whose client-final did not come within
 * connect_timeout.  4.12.1 [MQTT-4.12.1-2]: a failed re-authentication
 * SHOULD get a DISCONNECT with "an appropriate Reason Code" and MUST
 * close.  0x87 (Not authorized): the connection's authentication was
 * not renewed, as for a re-authentication as another user.  Not 0x8D
 * (Keep Alive timeout), which says no packet came for 1.5 times the
 * keepalive, when other packets may well have come.  The will goes
 * out, as for any close the client did not ask for.
 */
static void
auth_on_reauth_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client_auth *a = container_of(w, struct client_auth,
	    ca_reauth_w);
	struct client *c = a->ca_client;

	/* Closed in this iteration, before its free stops the timer. */
	if (c->c_state == CLIENT_CLOSED || a->ca_state != AUTH_REAUTH)
		return;
	client_disconnect(c, MQTT5_RC_NOT_AUTHORIZED, 1,
	    "re-authentication not done within connect_timeout");
}

/* AUTH rc with our method and data. */
static int
auth_send(struct client *c, uint8_t rc, struct bytes_view data)
{
	struct mqtt5_props props;

	mqtt5_props_init(&props);
	props.auth_method = auth_method_view();
	MQTT5_SET(&props, MQTT5_PROP_AUTH_METHOD);
	props.auth_data = data;
	MQTT5_SET(&props, MQTT5_PROP_AUTH_DATA);
	return send_auth(c, rc, &props);
}

/*
 * Runs client-first and makes server-first into out.  want_user, when
 * not NULL, is the user the exchange must be for.  0, or the reason
 * code to refuse with (why set).
 */
static uint8_t
auth_first(struct client *c, struct bytes_view data, const char *want_user,
    struct bytes_w *out, const char **why)
{
	struct broker *b = c->c_broker;
	struct client_auth *a = c->c_auth;
	struct scram_cred cred;
	struct bytes_view user;
	char snonce[SCRAM_SNONCE_LEN + 1];
	int known;

	scram_init(&a->ca_scram);
	switch (scram_client_first(&a->ca_scram, data, &user)) {
	case 0:
		break;
	case CAIRN_ERR_DENIED:
		*why = "SCRAM user name refused by SASLprep";
		return MQTT5_RC_BAD_USER_OR_PASSWORD;
	case CAIRN_ERR_NOMEM:
		*why = "out of memory";
		return MQTT5_RC_SERVER_UNAVAILABLE;
	default:
		*why = "malformed SCRAM client-first";
		return MQTT5_RC_BAD_USER_OR_PASSWORD;
	}
	if (want_user != NULL && !bytes_view_eq_str(user, want_user)) {
		/* Re-authentication may not change who is connected. */
		*why = "SCRAM user is not the connection's user name";
		return c->c_state == CLIENT_CONNECTED ?
		    MQTT5_RC_NOT_AUTHORIZED : MQTT5_RC_BAD_USER_OR_PASSWORD;
	}
	known = b->b_auth.ba_scram_cred(b->b_auth.ba_arg, user, &cred) == 0;
	if (scram_nonce(snonce) != 0 ||
	    scram_server_first(&a->ca_scram, &cred, known,
	    bytes_view_of(snonce, strlen(snonce)), out) != 0) {
		OPENSSL_cleanse(&cred, sizeof(cred));
		*why = "no randomness for a SCRAM nonce";
		return MQTT5_RC_UNSPECIFIED;
	}
	OPENSSL_cleanse(&cred, sizeof(cred));
	return 0;
}

/*
 * Checks client-final; on success keeps server-final in ca_final.  0, or
 * the reason code to refuse with (why set).
 */
static uint8_t
auth_final(struct client *c, struct bytes_view data, const char **why)
{
	struct client_auth *a = c->c_auth;
	struct bytes_w out;
	int rc;

	bytes_w_init_fixed(&out, a->ca_final, sizeof(a->ca_final) - 1);
	rc = scram_client_final(&a->ca_scram, data, &out);
	if (rc != 0) {
		*why = rc == CAIRN_ERR_PROTO ? "malformed SCRAM client-final" :
		    "SCRAM proof refused";
		return MQTT5_RC_BAD_USER_OR_PASSWORD;
	}
	a->ca_final_len = out.len;
	a->ca_final[out.len] = '\0';
	return 0;
}

int
handle_auth_connect(struct client *c, const struct mqtt_hdr *hdr,
    struct bytes_view body, const struct mqtt_connect *p)
{
	struct broker *b = c->c_broker;
	struct client_auth *a;
	struct bytes_w out;
	uint8_t buf[SCRAM_OUT_MAX], rc;
	const char *why = NULL;
	char *cuser = NULL;

	if (p->level != MQTT_LEVEL_5 ||
	    !MQTT5_HAS(&p->props, MQTT5_PROP_AUTH_METHOD))
		return 0;
	/* The exchange is done: handle_connect() goes on. */
	if (handle_auth_ok(c))
		return 0;
	/* What a refusal's CONNACK must respect (handle_connect() sets
	 * them again). */
	c->c_max_out = p->props.max_packet_size;
	c->c_problem_info = p->props.request_problem;
	/*
	 * With use_identity_as_username the certificate is the credential
	 * and names the user: no second one.
	 */
	if (!bytes_view_eq_str(p->props.auth_method, auth_method) ||
	    b->b_auth.ba_scram_cred == NULL ||
	    (c->c_tls_flags & CLIENT_TLS_IDENTITY)) {
		auth_refuse(c, MQTT5_RC_BAD_AUTH_METHOD,
		    "unsupported authentication method");
		return 1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->ca_connect = malloc(body.len > 0 ? body.len : 1)) == NULL) {
		free(a);
		auth_refuse(c, MQTT5_RC_SERVER_UNAVAILABLE, "out of memory");
		return 1;
	}
	c->c_auth = a;
	c->c_level = p->level;
	a->ca_client = c;
	ev_init(&a->ca_reauth_w, auth_on_reauth_timeout);
	a->ca_state = AUTH_CONNECTING;
	a->ca_hdr = *hdr;
	if (body.len > 0)
		memcpy(a->ca_connect, body.p, body.len);
	a->ca_connect_len = body.len;

	/*
	 * A user name in CONNECT must be the one SCRAM proves: both are
	 * compared as SASLprep makes them (scram_client_first() prepares
	 * its own).
	 */
	if (p->has_username) {
		switch (scram_saslprep(p->username, SCRAM_PREP_QUERY, &cuser,
		    NULL)) {
		case 0:
			break;
		case CAIRN_ERR_NOMEM:
			auth_refuse(c, MQTT5_RC_SERVER_UNAVAILABLE,
			    "out of memory");
			return 1;
		default:
			auth_refuse(c, MQTT5_RC_BAD_USER_OR_PASSWORD,
			    "CONNECT user name refused by SASLprep");
			return 1;
		}
	}
	bytes_w_init_fixed(&out, buf, sizeof(buf));
	rc = auth_first(c, p->props.auth_data, cuser, &out, &why);
	scram_prep_free(cuser);
	if (rc != 0) {
		auth_refuse(c, rc, why);
		return 1;
	}
	(void)auth_send(c, MQTT5_RC_CONTINUE_AUTH,
	    bytes_view_of(out.buf, out.len));
	OPENSSL_cleanse(buf, sizeof(buf));
	return 1;
}

/* The CONNECT's exchange succeeded: handle_connect() at last. */
static void
auth_connect_done(struct client *c)
{
	struct client_auth *a = c->c_auth;
	struct mqtt_connect p;
	struct mqtt_err err;
	const struct scram *s = &a->ca_scram;

	a->ca_state = AUTH_OK;
	free(c->c_username);
	if ((c->c_username = strdup(s->s_user)) == NULL) {
		auth_refuse(c, MQTT5_RC_SERVER_UNAVAILABLE, "out of memory");
		return;
	}
	/* It was decoded once: it decodes again. */
	if (mqtt_decode_connect_ex(&a->ca_hdr, bytes_view_of(a->ca_connect,
	    a->ca_connect_len), &p, &err) != 0) {
		auth_refuse(c, MQTT5_RC_UNSPECIFIED, "CONNECT lost");
		return;
	}
	handle_connect(c, &p);
	if (c->c_auth != NULL) {
		free(c->c_auth->ca_connect);
		c->c_auth->ca_connect = NULL;
		c->c_auth->ca_connect_len = 0;
	}
}

void
handle_auth(struct client *c, const struct mqtt_disconnect *d)
{
	struct broker *b = c->c_broker;
	struct client_auth *a = c->c_auth;
	struct bytes_w out;
	uint8_t buf[SCRAM_OUT_MAX], rc;
	const char *why = NULL;

	if (a == NULL) {
		/* [MQTT-4.12.0-6]: no method at CONNECT, no AUTH. */
		if (c->c_state == CLIENT_NEW)
			auth_refuse(c, MQTT5_RC_PROTOCOL_ERROR,
			    "AUTH without an authentication method");
		else
			auth_disconnect(c, MQTT5_RC_PROTOCOL_ERROR,
			    "AUTH without an authentication method");
		return;
	}
	if (!MQTT5_HAS(&d->props, MQTT5_PROP_AUTH_METHOD) ||
	    !bytes_view_eq_str(d->props.auth_method, auth_method)) {
		why = "AUTH with another authentication method";
		goto protocol_error;
	}
	switch (a->ca_state) {
	case AUTH_CONNECTING:
		if (d->rc != MQTT5_RC_CONTINUE_AUTH) {
			why = "AUTH reason code is not continue (0x18)";
			goto protocol_error;
		}
		if ((rc = auth_final(c, d->props.auth_data, &why)) != 0) {
			auth_refuse(c, rc, why);
			return;
		}
		auth_connect_done(c);
		return;
	case AUTH_OK:
		if (d->rc != MQTT5_RC_REAUTHENTICATE) {
			why = "AUTH continue with no exchange running";
			goto protocol_error;
		}
		bytes_w_init_fixed(&out, buf, sizeof(buf));
		if ((rc = auth_first(c, d->props.auth_data, c->c_username,
		    &out, &why)) != 0) {
			auth_disconnect(c, rc, why);
			return;
		}
		a->ca_state = AUTH_REAUTH;
		a->ca_reauth_w.repeat =
		    (ev_tstamp)b->b_conf->bc_connect_timeout_ms / 1000.0;
		ev_timer_again(b->b_loop, &a->ca_reauth_w);
		(void)auth_send(c, MQTT5_RC_CONTINUE_AUTH,
		    bytes_view_of(out.buf, out.len));
		return;
	case AUTH_REAUTH:
		ev_timer_stop(b->b_loop, &a->ca_reauth_w);
		if (d->rc != MQTT5_RC_CONTINUE_AUTH) {
			why = "AUTH reason code is not continue (0x18)";
			goto protocol_error;
		}
		if ((rc = auth_final(c, d->props.auth_data, &why)) != 0) {
			auth_disconnect(c, rc, why);
			return;
		}
		a->ca_state = AUTH_OK;
		(void)auth_send(c, MQTT5_RC_SUCCESS, bytes_view_of(a->ca_final,
		    a->ca_final_len));
		log_debug("client %s (%s): re-authenticated", c->c_id,
		    c->c_addr);
		return;
	}
	return;
protocol_error:
	if (c->c_state == CLIENT_NEW)
		auth_refuse(c, MQTT5_RC_PROTOCOL_ERROR, why);
	else
		auth_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, why);
}
