/*
 * Base64 (RFC 4648 section 4, the "+/" alphabet), for the password file
 * and SCRAM.  One encoder (always padded) and one decoder with two
 * strictnesses: SCRAM's messages must be canonical (RFC 5802 uses
 * padded base64), while the password file takes what mosquitto's tools
 * write, padded or not, as OpenSSL's BIO decoder does.
 */
#ifndef CAIRN_COMMON_BASE64_H
#define CAIRN_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters of the padded base64 of n bytes, without the NUL. */
#define B64_LEN(n)	(((n) + 2) / 3 * 4)

/* Writes the padded base64 of in[0..len) and a NUL: B64_LEN(len) + 1. */
void	b64_encode(const uint8_t *in, size_t len, char *out);

/*
 * Decodes in[0..len) into out (room for max bytes), *outlen the bytes
 * written.  B64_STRICT: the length is a multiple of four (padding is
 * there) and the bits a padded group leaves unused are zero.  Without
 * it padding may be missing, but when present it must make the length a
 * multiple of four.  0, CAIRN_ERR_PROTO on a bad character, padding or
 * length, CAIRN_ERR_TOO_BIG past max.
 */
#define B64_STRICT	0x01
int	b64_decode(const char *in, size_t len, uint8_t *out, size_t max,
	    size_t *outlen, int flags);

#endif
