#include <string.h>

#include "toolstack/json.h"

yajl_gen jw_new(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g)
		yajl_gen_config(g, yajl_gen_validate_utf8, 0);
	return g;
}

void jw_key(yajl_gen g, const char *k)
{
	if (k)
		yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

void jw_str(yajl_gen g, const char *k, const char *v)
{
	jw_key(g, k);
	if (v)
		yajl_gen_string(g, (const unsigned char *)v, strlen(v));
	else
		yajl_gen_null(g);
}

void jw_int(yajl_gen g, const char *k, long long v)
{
	jw_key(g, k);
	yajl_gen_integer(g, v);
}

void jw_bool(yajl_gen g, const char *k, bool v)
{
	jw_key(g, k);
	yajl_gen_bool(g, v);
}

/* yajl has no "raw" call: parse the value and re-emit it. */
void jw_tree(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			jw_key(g, v->u.object.keys[i]);
			jw_tree(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			jw_tree(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v))
		yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
	else if (YAJL_IS_INTEGER(v))
		yajl_gen_integer(g, YAJL_GET_INTEGER(v));
	else if (YAJL_IS_NUMBER(v))
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	else if (YAJL_IS_TRUE(v))
		yajl_gen_bool(g, 1);
	else if (YAJL_IS_FALSE(v))
		yajl_gen_bool(g, 0);
	else
		yajl_gen_null(g);
}

void jw_raw(yajl_gen g, const char *k, const char *json)
{
	char err[128];
	yajl_val v = json ? yajl_tree_parse(json, err, sizeof(err)) : NULL;

	jw_key(g, k);
	if (v)
		jw_tree(g, v);
	else
		yajl_gen_null(g);
	yajl_tree_free(v);
}

static yajl_val get(yajl_val root, const char *key, yajl_type t)
{
	const char *path[] = { key, NULL };
	return root ? yajl_tree_get(root, path, t) : NULL;
}

const char *jr_str(yajl_val root, const char *key)
{
	yajl_val v = get(root, key, yajl_t_string);
	return v ? YAJL_GET_STRING(v) : NULL;
}

long long jr_int(yajl_val root, const char *key, long long dflt)
{
	yajl_val v = get(root, key, yajl_t_number);
	return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : dflt;
}

bool jr_bool(yajl_val root, const char *key, bool dflt)
{
	yajl_val v = get(root, key, yajl_t_any);
	if (v && YAJL_IS_TRUE(v))
		return true;
	if (v && YAJL_IS_FALSE(v))
		return false;
	return dflt;
}

yajl_val jr_array(yajl_val root, const char *key)
{
	return get(root, key, yajl_t_array);
}
