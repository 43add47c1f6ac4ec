/*
 * Corpus replay for builds without libFuzzer: runs the fuzz target's
 * LLVMFuzzerTestOneInput() over every file named on the command line,
 * and over every regular file in every directory named (not recursing),
 * in name order.  Prints TAP, one point per file.  Each input is copied
 * into a buffer of exactly its size, so ASan sees any read past it.  A
 * broken invariant aborts the run; the "# file" comment before each
 * point names the input that did it.
 *
 * Shared by every t/fuzz/fuzz_<codec>.c.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	npoints;

/* Reads path whole into a buffer of its exact size; NULL on error. */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *buf = NULL;
	struct stat st;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(f), &st) == -1 || st.st_size < 0)
		goto fail;
	*len = (size_t)st.st_size;
	/* malloc(0) may return NULL: keep one byte, pass the true length. */
	if ((buf = malloc(*len ? *len : 1)) == NULL)
		goto fail;
	if (*len > 0 && fread(buf, 1, *len, f) != *len)
		goto fail;
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static void
replay_file(const char *path)
{
	uint8_t *buf;
	size_t len = 0;

	printf("# file %s\n", path);
	if ((buf = replay_read(path, &len)) == NULL) {
		printf("not ok %d - %s: %s\n", ++npoints, path,
		    strerror(errno));
		return;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	printf("ok %d - %s (%zu bytes)\n", ++npoints, path, len);
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
replay_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char **names = NULL, **nn, *path;
	size_t n = 0, cap = 0, i, plen;

	if ((d = opendir(dir)) == NULL) {
		printf("not ok %d - %s: %s\n", ++npoints, dir,
		    strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		plen = strlen(dir) + 1 + strlen(de->d_name) + 1;
		if ((path = malloc(plen)) == NULL)
			break;
		snprintf(path, plen, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(names, cap * sizeof(*names))) ==
			    NULL) {
				free(path);
				break;
			}
			names = nn;
		}
		names[n++] = path;
	}
	closedir(d);
	if (n == 0)
		printf("not ok %d - %s: no files\n", ++npoints, dir);
	qsort(names, n, sizeof(*names), replay_cmp);
	for (i = 0; i < n; i++) {
		replay_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char *argv[])
{
	struct stat st;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir-or-file ...\n", argv[0]);
		return 2;
	}
	/* Unbuffered, so the last "# file" line survives an abort. */
	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i]);
	}
	printf("1..%d\n", npoints);
	return 0;
}
