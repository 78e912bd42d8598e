/* The xl.cfg file syntax, as libxlu accepts it:
 *
 *   file    := { [setting] ( ';' | NEWLINE ) }
 *   setting := KEY ( '=' | '+=' ) value
 *   value   := NUMBER | 'string' | "string" | '[' [ value { ',' value } [','] ] ']'
 *
 * '#' starts a comment to the end of the line. Newlines end a setting
 * except inside a list. Numbers are kept as text: the key that reads one
 * decides how to convert it (decimal, 0NN octal, 0xNN hex). Parsing stops
 * at the first syntax error, as xl does; the message says what was
 * expected and where. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

struct lexer {
	const char *file;
	const char *p;
	unsigned line, col;
	struct xlcfg_diags *d;
	bool failed;
};

static struct xlcfg_pos here(const struct lexer *lx)
{
	return (struct xlcfg_pos){ lx->file, lx->line, lx->col };
}

static void advance(struct lexer *lx)
{
	if (*lx->p == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->p++;
}

/* Reports once: after the first error the parse unwinds. */
static int fail(struct lexer *lx, struct xlcfg_pos at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct lexer *lx, struct xlcfg_pos at, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (lx->failed)
		return -EINVAL;
	lx->failed = true;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	xlcfg_err(lx->d, at, "%s", msg ? msg : "syntax error");
	free(msg);
	return -EINVAL;
}

/* Spaces and comments; newlines too when NL is set (inside lists). */
static void skip_blank(struct lexer *lx, bool nl)
{
	for (;;) {
		char c = *lx->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' ||
		    (nl && c == '\n')) {
			advance(lx);
		} else if (c == '#') {
			while (*lx->p && *lx->p != '\n')
				advance(lx);
		} else {
			return;
		}
	}
}

/* A short, printable rendering of what is at the cursor for messages. */
static const char *describe(const struct lexer *lx, char buf[32])
{
	unsigned char c = (unsigned char)*lx->p;
	size_t n = 0;

	if (!c)
		return "end of file";
	if (c == '\n')
		return "end of line";
	if (c == '"' || c == '\'')
		return "a string";
	if (isalnum(c) || c == '_') {
		buf[n++] = '"';
		while (n < 24 && (isalnum((unsigned char)lx->p[n - 1]) || lx->p[n - 1] == '_' ||
		                  lx->p[n - 1] == '.'))
			buf[n] = lx->p[n - 1], n++;
		buf[n++] = '"';
		buf[n] = 0;
		return buf;
	}
	if (isprint(c))
		snprintf(buf, 32, "'%c'", c);
	else
		snprintf(buf, 32, "byte 0x%02x", c);
	return buf;
}

/* Keys as libxlu lexes them: [a-z][a-z0-9_.]* (no upper case). */
static bool is_key_start(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_key_char(char c)
{
	return is_key_start(c) || isdigit((unsigned char)c) || c == '_' || c == '.';
}

static bool is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' || c == '+';
}

static int parse_value(struct lexer *lx, struct xv *out, unsigned depth);

/* One escape after a backslash (libxlu's set: C escapes, \xHH, \ooo). */
static int parse_escape(struct lexer *lx, char *out)
{
	struct xlcfg_pos at = here(lx);
	char c;
	int v = 0, n = 0;

	advance(lx); /* the backslash */
	c = *lx->p;
	switch (c) {
	case '\\':
	case '\'':
	case '"':
		*out = c;
		break;
	case 'a':
		*out = '\a';
		break;
	case 'b':
		*out = '\b';
		break;
	case 'f':
		*out = '\f';
		break;
	case 'n':
		*out = '\n';
		break;
	case 'r':
		*out = '\r';
		break;
	case 't':
		*out = '\t';
		break;
	case 'v':
		*out = '\v';
		break;
	case 'x':
		advance(lx);
		while (n < 2 && isxdigit((unsigned char)*lx->p)) {
			char h = *lx->p;

			v = v * 16 +
			    (isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
			n++;
			advance(lx);
		}
		if (n != 2)
			return fail(lx, at, "expected two hex digits after '\\x' in a string");
		if (!v)
			return fail(lx, at, "a string cannot contain a NUL byte ('\\x00')");
		*out = (char)v;
		return 0;
	default:
		if (c >= '0' && c <= '7') {
			while (n < 3 && *lx->p >= '0' && *lx->p <= '7') {
				v = v * 8 + (*lx->p - '0');
				n++;
				advance(lx);
			}
			if (!v || v > 255)
				return fail(lx, at, "octal escape out of range (1 to \\377)");
			*out = (char)v;
			return 0;
		}
		if (!c || c == '\n')
			return fail(lx, at, "expected a character after '\\' in a string");
		return fail(lx, at, "unknown escape '\\%c' in a string", c);
	}
	advance(lx);
	return 0;
}

static int parse_string(struct lexer *lx, struct xv *out)
{
	struct xlcfg_pos open = here(lx);
	char quote = *lx->p;
	char *buf = xlcfg_calloc(XLCFG_MAX_STRING + 1, 1);
	size_t n = 0;
	int rc;

	advance(lx);
	while (*lx->p != quote) {
		char c = *lx->p;

		if (!c || c == '\n') {
			rc = fail(lx, open,
			          "unterminated string: expected %c before the end of the %s",
			          quote, c ? "line" : "file");
			goto out;
		}
		if (n == XLCFG_MAX_STRING) {
			rc = fail(lx, open, "string longer than %u bytes", XLCFG_MAX_STRING);
			goto out;
		}
		if (c == '\\') {
			rc = parse_escape(lx, &buf[n]);
			if (rc)
				goto out;
			n++;
			continue;
		}
		buf[n++] = c;
		advance(lx);
	}
	advance(lx);
	out->quoted = true;
	out->s = xlcfg_strndup(buf, n);
	rc = 0;
out:
	free(buf);
	return rc;
}

/* libxlu's numbers: [0-9]+ or 0x[0-9a-f]+, nothing glued after them
 * (so "512M" is refused here, as xl refuses it). */
static int parse_number(struct lexer *lx, struct xv *out)
{
	const char *start = lx->p;
	bool hex = lx->p[0] == '0' && lx->p[1] == 'x' && isxdigit((unsigned char)lx->p[2]);

	if (hex) {
		advance(lx);
		advance(lx);
	}
	while (hex ? isdigit((unsigned char)*lx->p) || (*lx->p >= 'a' && *lx->p <= 'f')
	           : isdigit((unsigned char)*lx->p))
		advance(lx);
	if (is_word(*lx->p)) {
		const char *end = lx->p;

		while (is_word(*end) && end - start < 24)
			end++;
		return fail(lx, out->at,
		            "bad number \"%.*s\": expected decimal, 0NN octal or 0xNN hex digits "
		            "(lower case, no units)",
		            (int)(end - start), start);
	}
	if ((size_t)(lx->p - start) > XLCFG_MAX_STRING)
		return fail(lx, out->at, "number longer than %u bytes", XLCFG_MAX_STRING);
	out->s = xlcfg_strndup(start, (size_t)(lx->p - start));
	return 0;
}

static int parse_list(struct lexer *lx, struct xv *out, unsigned depth)
{
	struct xlcfg_pos open = here(lx);
	char what[32];
	int rc;

	if (depth >= XLCFG_MAX_DEPTH)
		return fail(lx, open, "lists nested deeper than %u", XLCFG_MAX_DEPTH);
	out->is_list = true;
	advance(lx); /* [ */
	for (;;) {
		skip_blank(lx, true);
		if (*lx->p == ']')
			break;
		if (out->n == XLCFG_MAX_ITEMS)
			return fail(lx, here(lx), "list with more than %u values", XLCFG_MAX_ITEMS);
		out->items = xlcfg_reallocarray(out->items, out->n + 1, sizeof(*out->items));
		memset(&out->items[out->n], 0, sizeof(*out->items));
		rc = parse_value(lx, &out->items[out->n++], depth + 1);
		if (rc)
			return rc;
		skip_blank(lx, true);
		if (*lx->p == ',') {
			advance(lx);
			continue;
		}
		if (*lx->p != ']')
			return fail(lx, here(lx),
			            "expected ',' or ']' to close the list opened at %u:%u, got %s",
			            open.line, open.col, describe(lx, what));
	}
	advance(lx); /* ] */
	return 0;
}

static int parse_value(struct lexer *lx, struct xv *out, unsigned depth)
{
	char c = *lx->p, what[32];

	out->at = here(lx);
	if (c == '"' || c == '\'')
		return parse_string(lx, out);
	if (c == '[')
		return parse_list(lx, out, depth);
	if (isdigit((unsigned char)c))
		return parse_number(lx, out);
	return fail(lx, out->at, "expected a value (a number, a 'string' or a [list]), got %s",
	            describe(lx, what));
}

static int parse_setting(struct lexer *lx, struct xsetting *s)
{
	const char *start = lx->p;
	char what[32];

	s->at = here(lx);
	while (is_key_char(*lx->p))
		advance(lx);
	if ((size_t)(lx->p - start) > 128)
		return fail(lx, s->at, "key name longer than 128 bytes");
	s->key = xlcfg_strndup(start, (size_t)(lx->p - start));
	skip_blank(lx, false);
	if (lx->p[0] == '+' && lx->p[1] == '=') {
		s->append = true;
		advance(lx);
	} else if (*lx->p != '=') {
		return fail(lx, here(lx), "expected '=' after \"%s\", got %s", s->key,
		            describe(lx, what));
	}
	advance(lx);
	skip_blank(lx, false);
	return parse_value(lx, &s->val, 0);
}

static int parse_statement(struct lexer *lx, struct xsettings *out)
{
	struct xsetting *s;
	char what[32];
	int rc;

	if (!is_key_start(*lx->p))
		return fail(lx, here(lx),
		            "expected a setting (KEY = VALUE; keys are lower case), got %s",
		            describe(lx, what));
	if (out->n >= XLCFG_MAX_SETTINGS)
		return fail(lx, here(lx), "more than %u settings", XLCFG_MAX_SETTINGS);
	out->v = xlcfg_reallocarray(out->v, out->n + 1, sizeof(*out->v));
	s = &out->v[out->n++];
	memset(s, 0, sizeof(*s));
	rc = parse_setting(lx, s);
	if (rc)
		return rc;
	skip_blank(lx, false);
	if (*lx->p && *lx->p != ';' && *lx->p != '\n')
		return fail(lx, here(lx),
		            "expected ';' or a new line after the value of \"%s\", got %s", s->key,
		            describe(lx, what));
	return 0;
}

int xlcfg_syntax_parse(const char *file, unsigned first_line, const char *text,
                       struct xsettings *out, struct xlcfg_diags *d)
{
	struct lexer lx = { .file = file, .p = text, .line = first_line, .col = 1, .d = d };

	for (;;) {
		skip_blank(&lx, false);
		if (!*lx.p)
			return 0;
		if (*lx.p == ';' || *lx.p == '\n') {
			advance(&lx);
			continue;
		}
		if (parse_statement(&lx, out))
			return -EINVAL;
	}
}

void xlcfg_xv_free(struct xv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		xlcfg_xv_free(&v->items[i]);
	free(v->items);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

int xlcfg_xv_copy(struct xv *dst, const struct xv *src)
{
	*dst = *src;
	dst->s = xlcfg_strdup(src->s);
	dst->items = NULL;
	if (src->n) {
		dst->items = xlcfg_calloc(src->n, sizeof(*dst->items));
		for (size_t i = 0; i < src->n; i++)
			xlcfg_xv_copy(&dst->items[i], &src->items[i]);
	}
	return 0;
}

void xlcfg_settings_free(struct xsettings *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		xlcfg_xv_free(&s->v[i].val);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
