/*
 * Base64; see base64.h.
 */
#include "common/base64.h"

#include "common/err.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i;
	uint32_t v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = b64_alphabet[v >> 18 & 63];
		*out++ = b64_alphabet[v >> 12 & 63];
		*out++ = b64_alphabet[v >> 6 & 63];
		*out++ = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*out++ = b64_alphabet[v >> 18 & 63];
		*out++ = b64_alphabet[v >> 12 & 63];
		*out++ = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t len, uint8_t *out, size_t max,
    size_t *outlen, int flags)
{
	size_t i, n = 0, pad = 0, tail;
	uint32_t v = 0;
	int d;

	if ((flags & B64_STRICT) && len % 4 != 0)
		return CAIRN_ERR_PROTO;
	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	tail = len % 4;
	if (tail == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return CAIRN_ERR_PROTO;
	if (len / 4 * 3 + (tail > 0 ? tail - 1 : 0) > max)
		return CAIRN_ERR_TOO_BIG;
	for (i = 0; i < len; i++) {
		if ((d = b64_val(in[i])) < 0)
			return CAIRN_ERR_PROTO;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			out[n++] = (uint8_t)(v >> 16);
			out[n++] = (uint8_t)(v >> 8);
			out[n++] = (uint8_t)v;
			v = 0;
		}
	}
	/* A last group of 2 or 3 characters: 1 or 2 bytes. */
	if (tail == 2) {
		if ((flags & B64_STRICT) && (v & 0xf) != 0)
			return CAIRN_ERR_PROTO;
		out[n++] = (uint8_t)(v >> 4);
	} else if (tail == 3) {
		if ((flags & B64_STRICT) && (v & 0x3) != 0)
			return CAIRN_ERR_PROTO;
		out[n++] = (uint8_t)(v >> 10);
		out[n++] = (uint8_t)(v >> 2);
	}
	*outlen = n;
	return 0;
}
