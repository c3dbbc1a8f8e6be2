/*
 * test_metrics.c - the metrics registry and its text format (daemon/metrics.c):
 * label values that hold the characters the format escapes, histogram
 * buckets (cumulative, +Inf equal to the count), series dropped with their
 * workflow, and the event latency buckets of common/delivery.c.  The whole
 * scrape is parsed by tests/platform/promtext.py in tests/integration/metrics.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "delivery.h"
#include "metrics.h"

static char *render(void)
{
	struct mbuf b = {0};
	metrics_render(&b);
	assert_false(b.oom);
	return b.buf;
}

static void label_values_escaped(void **state)
{
	(void)state;
	char out[64];
	metrics_escape(out, sizeof(out), "a\"b\\c\nd", 1);
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	metrics_escape(out, sizeof(out), "a\"b\\c\nd", 0); /* HELP: quotes stay */
	assert_string_equal(out, "a\"b\\\\c\\nd");
	metrics_escape(out, 4, "\\\\\\", 1); /* cut between escapes, never inside one */
	assert_string_equal(out, "\\\\");
	const char *v[] = {"mqtt", "bad \"topic\"\n"};
	metric_add(M_INGRESS_MESSAGES, v, 2);
	metric_add(M_INGRESS_MESSAGES, v, 1);
	char *t = render();
	assert_non_null(
	    strstr(t, "unifaas_ingress_messages_total{source=\"mqtt\",outcome=\"bad \\\"topic\\\"\\n\"} 3\n"));
	free(t);
	metrics_reset();
}

static void histogram_cumulative(void **state)
{
	(void)state;
	const char *v[] = {"wf", "st"};
	metric_observe(M_UNIT_SPAWN, v, 0.0005);
	metric_observe(M_UNIT_SPAWN, v, 0.003);
	metric_observe(M_UNIT_SPAWN, v, 0.003);
	metric_observe(M_UNIT_SPAWN, v, 1000);
	char *t = render();
	assert_non_null(strstr(t, "unifaas_unit_spawn_seconds_bucket{workflow=\"wf\",step=\"st\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(t, "unifaas_unit_spawn_seconds_bucket{workflow=\"wf\",step=\"st\",le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(t, "unifaas_unit_spawn_seconds_bucket{workflow=\"wf\",step=\"st\",le=\"0.005\"} 3\n"));
	assert_non_null(strstr(t, "unifaas_unit_spawn_seconds_bucket{workflow=\"wf\",step=\"st\",le=\"60\"} 3\n"));
	assert_non_null(strstr(t, "unifaas_unit_spawn_seconds_bucket{workflow=\"wf\",step=\"st\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(t, "unifaas_unit_spawn_seconds_count{workflow=\"wf\",step=\"st\"} 4\n"));
	assert_non_null(strstr(t, "# TYPE unifaas_unit_spawn_seconds histogram\n"));
	free(t);
	metrics_reset();
}

static void forget_drops_workflow(void **state)
{
	(void)state;
	const char *a[] = {"keep", "s", "spawn"}, *b[] = {"gone", "s", "spawn"};
	metric_add(M_UNIT_STARTS, a, 1);
	metric_add(M_UNIT_STARTS, b, 1);
	metrics_forget("workflow", "gone");
	char *t = render();
	assert_non_null(strstr(t, "workflow=\"keep\""));
	assert_null(strstr(t, "workflow=\"gone\""));
	free(t);
	metrics_reset();
}

static void latency_buckets(void **state)
{
	(void)state;
	assert_int_equal(uf_lat_bucket(0), 0);
	assert_int_equal(uf_lat_bucket(1), 0);
	assert_int_equal(uf_lat_bucket(2), 1);
	assert_int_equal(uf_lat_bucket(60000), UF_LAT_NBOUNDS - 1);
	assert_int_equal(uf_lat_bucket(60001), UF_LAT_NBOUNDS);
	assert_int_equal(uf_lat_ms("1000-5", 6, 1250), 250);
	assert_int_equal(uf_lat_ms("1000", 4, 1000), 0);
	assert_int_equal(uf_lat_ms("2000-0", 6, 1000), 0); /* a clock behind the id: not negative */
	assert_int_equal(uf_lat_ms("x-0", 3, 1000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(label_values_escaped),
	    cmocka_unit_test(histogram_cumulative),
	    cmocka_unit_test(forget_drops_workflow),
	    cmocka_unit_test(latency_buckets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
