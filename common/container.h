/*
 * container_of: from a member (an embedded libev watcher, a sub_ref)
 * back to the struct that owns it, as ev(3) "ASSOCIATING CUSTOM DATA
 * WITH A WATCHER" suggests.
 */
#ifndef CAIRN_COMMON_CONTAINER_H
#define CAIRN_COMMON_CONTAINER_H

#include <stddef.h>

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
