/* Small helpers over libyajl for the management API: one JSON object per
 * line each way (docs/api.md). */
#ifndef BH_TOOLSTACK_JSON_H
#define BH_TOOLSTACK_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

yajl_gen jw_new(void);
void jw_key(yajl_gen g, const char *k);
void jw_str(yajl_gen g, const char *k, const char *v); /* k NULL: array element */
void jw_int(yajl_gen g, const char *k, long long v);
void jw_bool(yajl_gen g, const char *k, bool v);
/* Splices an already formed JSON value (e.g. xlcfg_json_dump's). */
void jw_raw(yajl_gen g, const char *k, const char *json);
/* Emits a parsed tree (NULL as null). */
void jw_tree(yajl_gen g, yajl_val v);

/* Request accessors: NULL / default when absent or of another type. */
const char *jr_str(yajl_val root, const char *key);
long long jr_int(yajl_val root, const char *key, long long dflt);
bool jr_bool(yajl_val root, const char *key, bool dflt);
yajl_val jr_array(yajl_val root, const char *key);

#endif
