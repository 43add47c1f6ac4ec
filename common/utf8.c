/*
 * UTF-8 validation; see utf8.h.
 */
#include "common/utf8.h"

long
utf8_count(const uint8_t *p, size_t len)
{
	size_t i = 0;
	long n = 0;

	while (i < len) {
		uint8_t c = p[i];

		if (c < 0x80) {
			i += 1;
		} else if ((c & 0xe0) == 0xc0) {
			if (len - i < 2 || (p[i + 1] & 0xc0) != 0x80 ||
			    c < 0xc2)				/* overlong */
				return -1;
			i += 2;
		} else if ((c & 0xf0) == 0xe0) {
			if (len - i < 3 || (p[i + 1] & 0xc0) != 0x80 ||
			    (p[i + 2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && p[i + 1] < 0xa0) ||	/* overlong */
			    (c == 0xed && p[i + 1] >= 0xa0))	/* surrogate */
				return -1;
			i += 3;
		} else if ((c & 0xf8) == 0xf0) {
			if (len - i < 4 || (p[i + 1] & 0xc0) != 0x80 ||
			    (p[i + 2] & 0xc0) != 0x80 ||
			    (p[i + 3] & 0xc0) != 0x80 ||
			    (c == 0xf0 && p[i + 1] < 0x90) ||	/* overlong */
			    c > 0xf4 ||
			    (c == 0xf4 && p[i + 1] >= 0x90))	/* > U+10FFFF */
				return -1;
			i += 4;
		} else
			return -1;
		n++;
	}
	return n;
}
