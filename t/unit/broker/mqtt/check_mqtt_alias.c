/*
 * Unit tests for broker/mqtt/mqtt_alias: the server's outbound topic
 * alias table of one connection.  A topic gets the next alias while
 * there is room (fresh), the same one every time after, never one over
 * the maximum; a full table (count or bytes) gives none; add refuses
 * anything but the alias lookup just offered; a large table with many
 * collisions in its slots finds every topic again.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_alias.h"
#include "common/bytes.h"
#include "common/err.h"

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

/* lookup, then add when fresh: the alias topic ends with. */
static uint16_t
use(struct mqtt_alias_out *t, const char *topic, int *fresh)
{
	uint16_t a = mqtt_alias_out_lookup(t, sv(topic), fresh);

	if (a != 0 && *fresh)
		ck_assert_int_eq(mqtt_alias_out_add(t, sv(topic), a), 0);
	return a;
}

START_TEST(mqtt_alias__none_for_max_0)
{
	int fresh = 7;

	ck_assert_ptr_null(mqtt_alias_out_new(0));
	mqtt_alias_out_free(NULL);
	/* A connection without a table sends every topic whole. */
	ck_assert_uint_eq(mqtt_alias_out_lookup(NULL, sv("a"), &fresh), 0);
	ck_assert_int_eq(fresh, 0);
	ck_assert_int_eq(mqtt_alias_out_add(NULL, sv("a"), 1),
	    CAIRN_ERR_INVAL);
	ck_assert_uint_eq(mqtt_alias_out_count(NULL), 0);
}
END_TEST

START_TEST(mqtt_alias__first_then_same)
{
	struct mqtt_alias_out *t = mqtt_alias_out_new(3);
	int fresh;

	ck_assert_ptr_nonnull(t);
	/* Offered, not yet recorded: offered again until added. */
	ck_assert_uint_eq(mqtt_alias_out_lookup(t, sv("a/b"), &fresh), 1);
	ck_assert_int_eq(fresh, 1);
	ck_assert_uint_eq(mqtt_alias_out_lookup(t, sv("a/b"), &fresh), 1);
	ck_assert_int_eq(fresh, 1);
	ck_assert_uint_eq(mqtt_alias_out_count(t), 0);
	ck_assert_int_eq(mqtt_alias_out_add(t, sv("a/b"), 1), 0);
	ck_assert_uint_eq(mqtt_alias_out_lookup(t, sv("a/b"), &fresh), 1);
	ck_assert_int_eq(fresh, 0);
	ck_assert_uint_eq(use(t, "a/c", &fresh), 2);
	ck_assert_int_eq(fresh, 1);
	ck_assert_uint_eq(use(t, "a/b", &fresh), 1);
	ck_assert_int_eq(fresh, 0);
	ck_assert_uint_eq(use(t, "a/c", &fresh), 2);
	ck_assert_int_eq(fresh, 0);
	/* A prefix, a longer topic: other topics. */
	ck_assert_uint_eq(use(t, "a/", &fresh), 3);
	ck_assert_int_eq(fresh, 1);
	ck_assert_uint_eq(mqtt_alias_out_count(t), 3);
	ck_assert_uint_eq(mqtt_alias_out_bytes(t), 3 + 3 + 2);
	mqtt_alias_out_free(t);
}
END_TEST

START_TEST(mqtt_alias__full_sends_whole_topics)
{
	struct mqtt_alias_out *t = mqtt_alias_out_new(2);
	int fresh;

	ck_assert_uint_eq(use(t, "x", &fresh), 1);
	ck_assert_uint_eq(use(t, "y", &fresh), 2);
	/* Full: no alias, nothing replaced. */
	ck_assert_uint_eq(use(t, "z", &fresh), 0);
	ck_assert_int_eq(fresh, 0);
	ck_assert_int_eq(mqtt_alias_out_add(t, sv("z"), 3), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(use(t, "x", &fresh), 1);
	ck_assert_int_eq(fresh, 0);
	ck_assert_uint_eq(use(t, "y", &fresh), 2);
	ck_assert_uint_eq(mqtt_alias_out_count(t), 2);
	mqtt_alias_out_free(t);
}
END_TEST

START_TEST(mqtt_alias__add_refuses_other_aliases)
{
	struct mqtt_alias_out *t = mqtt_alias_out_new(4);
	int fresh;

	ck_assert_int_eq(mqtt_alias_out_add(t, sv("a"), 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_alias_out_add(t, sv("a"), 2), CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_alias_out_add(t, sv(""), 1), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(use(t, "a", &fresh), 1);
	/* The same topic twice would give it two aliases. */
	ck_assert_int_eq(mqtt_alias_out_add(t, sv("a"), 2), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(mqtt_alias_out_count(t), 1);
	/* An empty topic never has one. */
	ck_assert_uint_eq(mqtt_alias_out_lookup(t, sv(""), &fresh), 0);
	mqtt_alias_out_free(t);
}
END_TEST

START_TEST(mqtt_alias__byte_cap)
{
	struct mqtt_alias_out *t = mqtt_alias_out_new(10);
	size_t half = MQTT_ALIAS_OUT_BYTES / 2;
	char *big = malloc(MQTT_ALIAS_OUT_BYTES + 2);
	int fresh;

	ck_assert_ptr_nonnull(big);
	memset(big, 'b', MQTT_ALIAS_OUT_BYTES + 1);
	big[MQTT_ALIAS_OUT_BYTES + 1] = '\0';
	/* One byte over the cap alone: none. */
	ck_assert_uint_eq(mqtt_alias_out_lookup(t, sv(big), &fresh), 0);
	/* Two halves fill it exactly; then even one byte is too many. */
	big[half] = '\0';
	ck_assert_uint_eq(use(t, big, &fresh), 1);
	big[0] = 'c';
	ck_assert_uint_eq(use(t, big, &fresh), 2);
	ck_assert_uint_eq(mqtt_alias_out_bytes(t), MQTT_ALIAS_OUT_BYTES);
	ck_assert_uint_eq(use(t, "d", &fresh), 0);
	ck_assert_uint_eq(use(t, big, &fresh), 2);
	ck_assert_int_eq(fresh, 0);
	free(big);
	mqtt_alias_out_free(t);
}
END_TEST

START_TEST(mqtt_alias__many_topics_found_again)
{
	struct mqtt_alias_out *t = mqtt_alias_out_new(1000);
	char topic[32];
	int fresh, i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < 1200; i++) {
		snprintf(topic, sizeof(topic), "s/%d/t", i);
		ck_assert_uint_eq(use(t, topic, &fresh), i < 1000 ? i + 1 : 0);
		ck_assert_int_eq(fresh, i < 1000);
	}
	for (i = 1199; i >= 0; i--) {
		snprintf(topic, sizeof(topic), "s/%d/t", i);
		ck_assert_uint_eq(mqtt_alias_out_lookup(t, sv(topic), &fresh),
		    i < 1000 ? i + 1 : 0);
		ck_assert_int_eq(fresh, 0);
	}
	mqtt_alias_out_free(t);
}
END_TEST

static Suite *
mqtt_alias_suite(void)
{
	Suite *s = suite_create("mqtt_alias");
	TCase *tc = tcase_create("out");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, mqtt_alias__none_for_max_0);
	tcase_add_test(tc, mqtt_alias__first_then_same);
	tcase_add_test(tc, mqtt_alias__full_sends_whole_topics);
	tcase_add_test(tc, mqtt_alias__add_refuses_other_aliases);
	tcase_add_test(tc, mqtt_alias__byte_cap);
	tcase_add_test(tc, mqtt_alias__many_topics_found_again);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* Forked children must not flush a copy of our buffered output. */
	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(mqtt_alias_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
