/*
 * TLS helpers; see tls.h.
 */
#include "common/tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

const char *
tls_reason(SSL *ssl, char *buf, size_t len, const char *dflt,
    const char **kind)
{
	unsigned long e, last = 0;
	const char *s;
	long vr;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (kind != NULL)
		*kind = dflt;
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		s = X509_verify_cert_error_string(vr);
		snprintf(buf, len, "peer certificate refused: %s", s);
		if (kind != NULL)
			*kind = s;
		return buf;
	}
	if (last == 0)
		return dflt;
	if ((s = ERR_reason_error_string(last)) != NULL) {
		snprintf(buf, len, "%s", s);
		if (kind != NULL)
			*kind = s;
	} else
		ERR_error_string_n(last, buf, len);
	return buf;
}

/* A GENERAL_NAME or X509_NAME entry's text into buf; 0 or -1. */
static int
tls_copy_asn1(const ASN1_STRING *as, char *buf, size_t len)
{
	const unsigned char *p = ASN1_STRING_get0_data(as);
	int n = ASN1_STRING_length(as);

	if (p == NULL || n <= 0 || (size_t)n >= len ||
	    memchr(p, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	return 0;
}

int
tls_peer_identity(SSL *ssl, char *buf, size_t len)
{
	X509 *x;
	X509_NAME *subj;
	X509_NAME_ENTRY *ne;
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	int i, rc = -1;

	if ((x = SSL_get1_peer_certificate(ssl)) == NULL)
		return -1;
	if ((subj = X509_get_subject_name(x)) != NULL &&
	    (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) >= 0 &&
	    (ne = X509_NAME_get_entry(subj, i)) != NULL &&
	    tls_copy_asn1(X509_NAME_ENTRY_get_data(ne), buf, len) == 0) {
		rc = 0;
		goto out;
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if ((g->type == GEN_DNS || g->type == GEN_EMAIL) &&
		    tls_copy_asn1(g->d.ia5, buf, len) == 0) {
			rc = 0;
			break;
		}
	}
	GENERAL_NAMES_free(gens);
out:
	X509_free(x);
	return rc;
}
