#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fifo.h"

int
fifo_grow(void **base, size_t *cap, size_t *head, size_t n, size_t size,
    size_t first)
{
	size_t ncap, tail;
	char *nb, *ob = *base;

	if (n > *cap || first == 0 || size == 0 || *cap > SIZE_MAX / 2)
		return CAIRN_ERR_INVAL;
	ncap = *cap == 0 ? first : *cap * 2;
	if ((nb = reallocarray(NULL, ncap, size)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (n > 0) {
		/* From the head to the end of the old array, then the wrap. */
		tail = *cap - *head < n ? *cap - *head : n;
		memcpy(nb, ob + *head * size, tail * size);
		memcpy(nb + tail * size, ob, (n - tail) * size);
	}
	free(ob);
	*base = nb;
	*cap = ncap;
	*head = 0;
	return 0;
}
