/*
 * UTF-8 validation, strict: no overlong forms, no surrogates, nothing
 * above U+10FFFF.  The same acceptance as OTP's epmd verify_utf8().
 */
#ifndef CAIRN_COMMON_UTF8_H
#define CAIRN_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Number of code points in p[0..len), or -1 if it is not valid UTF-8. */
long	utf8_count(const uint8_t *p, size_t len);

#endif
