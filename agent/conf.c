/*
 * conf.c - the configuration file (snisync.json(5), conf.h): with
 * report.c and state_json.c, one of the three files that include
 * <jansson.h>.
 *
 * conf_load() refuses what it does not understand, with file:line:col:
 * unknown keys, wrong types, duplicate keys, invalid UTF-8, trailing
 * garbage, relative paths and paths with characters that would need
 * quoting in a Dovecot or postmap source line. Every key has a default
 * that works on a stock Debian host. A line whose first non-blank
 * character is '#' is a comment (JSON strings cannot span lines, so such
 * a line is never inside a value); a file of comments alone is {}.
 *
 * It reads that one file (at most 1 MiB, through fsio_read()) and logs
 * every error it finds, not just the first (but for a file jansson
 * cannot parse: that one error); it never writes a file, runs a command
 * or looks at the paths it accepts. -1 leaves nothing to free; 0 leaves
 * a struct conf that conf_free() frees.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "conf.h"
#include "fsio.h"
#include "log.h"
#include "name.h"
#include "util.h"

/* ---- locating a key in the raw text, for line:column in errors ---- */

struct jpath {
	const char	*key;	/* object member, or NULL for ... */
	int		 index;	/* ... array element */
};

struct scanner {
	const char	*s, *p, *end;
};

static void
skip_ws(struct scanner *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

static void
skip_string(struct scanner *sc)
{
	if (sc->p < sc->end)
		sc->p++;	/* opening quote */
	while (sc->p < sc->end && *sc->p != '"') {
		if (*sc->p == '\\' && sc->p + 1 < sc->end)
			sc->p++;
		sc->p++;
	}
	if (sc->p < sc->end)
		sc->p++;
}

/* Returns the position of the path's last element, or NULL. */
static const char *
find_value(struct scanner *sc, const struct jpath *path, int depth)
{
	skip_ws(sc);
	if (sc->p >= sc->end)
		return NULL;
	if (*sc->p == '{') {
		sc->p++;
		for (;;) {
			const char *kstart;
			size_t klen;

			skip_ws(sc);
			if (sc->p >= sc->end || *sc->p == '}') {
				sc->p++;
				return NULL;
			}
			if (*sc->p == ',') {
				sc->p++;
				continue;
			}
			kstart = sc->p;
			skip_string(sc);
			klen = (size_t)(sc->p - kstart);
			skip_ws(sc);
			if (sc->p < sc->end && *sc->p == ':')
				sc->p++;
			if (depth > 0 && path[0].key != NULL && klen >= 2 &&
			    klen - 2 == strlen(path[0].key) &&
			    memcmp(kstart + 1, path[0].key, klen - 2) == 0) {
				if (depth == 1)
					return kstart;
				return find_value(sc, path + 1, depth - 1);
			}
			if (find_value(sc, NULL, 0) != NULL)
				return NULL;
		}
	}
	if (*sc->p == '[') {
		int i = 0;

		sc->p++;
		for (;;) {
			skip_ws(sc);
			if (sc->p >= sc->end || *sc->p == ']') {
				sc->p++;
				return NULL;
			}
			if (*sc->p == ',') {
				sc->p++;
				i++;
				continue;
			}
			if (depth > 0 && path[0].key == NULL &&
			    path[0].index == i) {
				skip_ws(sc);
				if (depth == 1)
					return sc->p;
				return find_value(sc, path + 1, depth - 1);
			}
			if (find_value(sc, NULL, 0) != NULL)
				return NULL;
		}
	}
	if (*sc->p == '"') {
		skip_string(sc);
		return NULL;
	}
	while (sc->p < sc->end && *sc->p != ',' && *sc->p != '}' &&
	    *sc->p != ']' && *sc->p != ' ' && *sc->p != '\n' && *sc->p != '\t'
	    && *sc->p != '\r')
		sc->p++;
	return NULL;
}

struct conf_ctx {
	const char	*file;
	const char	*text;
	size_t		 len;
	struct jpath	 path[4];
	int		 depth;
	int		 errors;
};

static void
conf_error(struct conf_ctx *cx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conf_error(struct conf_ctx *cx, const char *fmt, ...)
{
	struct scanner sc = { cx->text, cx->text, cx->text + cx->len };
	const char *pos, *q;
	char msg[512];
	int line = 1, col = 1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pos = find_value(&sc, cx->path, cx->depth);
	if (pos != NULL)
		for (q = cx->text; q < pos; q++) {
			if (*q == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
	if (pos != NULL)
		log_err("%s:%d:%d: %s", log_esc(cx->file), line, col, msg);
	else
		log_err("%s: %s", log_esc(cx->file), msg);
	cx->errors++;
}

static const char *
path_str(struct conf_ctx *cx)
{
	static char buf[256];
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < cx->depth && off < sizeof(buf); i++) {
		if (cx->path[i].key != NULL)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "%s%s", i ? "." : "", cx->path[i].key);
		else
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "[%d]", cx->path[i].index);
	}
	return buf;
}

static void
push(struct conf_ctx *cx, const char *key, int index)
{
	cx->path[cx->depth++] = (struct jpath){ key, index };
}

static void
pop(struct conf_ctx *cx)
{
	cx->depth--;
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* Paths end up in Dovecot and postmap source lines: keep them plain. */
static const char *
path_bad(const char *s)
{
	const char *p;

	if (s[0] != '/')
		return "must be an absolute path";
	if (strlen(s) > 512)
		return "path too long";
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/._-+@", *p) != NULL))
			return "may only hold letters, digits and / . _ - + @";
	if (strstr(s, "/../") != NULL || strstr(s, "/./") != NULL ||
	    (strlen(s) >= 2 && strcmp(s + strlen(s) - 2, "/.") == 0) ||
	    (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0))
		return "must not hold . or .. components";
	return NULL;
}

static void
get_path(struct conf_ctx *cx, json_t *v, char **out)
{
	const char *why;

	if (!json_is_string(v)) {
		conf_error(cx, "\"%s\" must be a string, not %s", path_str(cx),
		    json_kind(v));
		return;
	}
	if ((why = path_bad(json_string_value(v))) != NULL) {
		conf_error(cx, "\"%s\": %s", path_str(cx), why);
		return;
	}
	free(*out);
	*out = xstrdup(json_string_value(v));
	/* A trailing slash would make "<dir>//store" paths; drop it. */
	while (strlen(*out) > 1 && (*out)[strlen(*out) - 1] == '/')
		(*out)[strlen(*out) - 1] = '\0';
}

static void
argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static void
get_argv(struct conf_ctx *cx, json_t *v, char ***out)
{
	char **argv;
	size_t i, n;

	if (json_is_null(v)) {
		argv_free(*out);
		*out = NULL;
		return;
	}
	if (!json_is_array(v)) {
		conf_error(cx, "\"%s\" must be an array of strings or null, "
		    "not %s", path_str(cx), json_kind(v));
		return;
	}
	n = json_array_size(v);
	argv = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		json_t *a = json_array_get(v, i);

		push(cx, NULL, (int)i);
		if (!json_is_string(a) || json_string_length(a) == 0 ||
		    memchr(json_string_value(a), '\0',
		    json_string_length(a)) != NULL) {
			conf_error(cx, "\"%s\" must be a non-empty string, "
			    "not %s", path_str(cx), json_kind(a));
			pop(cx);
			argv_free(argv);
			return;
		}
		argv[i] = xstrdup(json_string_value(a));
		pop(cx);
	}
	argv_free(*out);
	if (n == 0) {
		free(argv);
		argv = NULL;
	}
	*out = argv;
}

static void
get_int(struct conf_ctx *cx, json_t *v, int lo, int hi, int *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		conf_error(cx, "\"%s\" must be an integer from %d to %d",
		    path_str(cx), lo, hi);
		return;
	}
	*out = (int)json_integer_value(v);
}

/* 1 when v is an object; else an error naming where (0). */
static int
want_object(struct conf_ctx *cx, json_t *v)
{
	if (json_is_object(v))
		return 1;
	conf_error(cx, "\"%s\" must be an object, not %s", path_str(cx),
	    json_kind(v));
	return 0;
}

static void
get_service(struct conf_ctx *cx, json_t *v, struct svc_conf *svc,
    int is_dovecot)
{
	const char *k;
	json_t *m;

	svc->explicit = 1;
	if (json_is_null(v)) {
		svc->enabled = 0;
		return;
	}
	if (!json_is_object(v)) {
		conf_error(cx, "\"%s\" must be an object or null, not %s",
		    path_str(cx), json_kind(v));
		return;
	}
	json_object_foreach(v, k, m) {
		push(cx, k, 0);
		if (!is_dovecot && strcmp(k, "map") == 0)
			get_path(cx, m, &svc->path);
		else if (is_dovecot && strcmp(k, "config") == 0)
			get_path(cx, m, &svc->path);
		else if (strcmp(k, "reload") == 0)
			get_argv(cx, m, &svc->reload);
		else if (is_dovecot && strcmp(k, "check") == 0)
			get_argv(cx, m, &svc->check);
		else if (strcmp(k, is_dovecot ? "doveconf" : "postconf") == 0)
			get_argv(cx, m, &svc->query);
		else if (is_dovecot && strcmp(k, "version") == 0) {
			const char *s = json_string_value(m);

			if (s != NULL && strcmp(s, "auto") == 0)
				svc->syntax = DOVECOT_AUTO;
			else if (s != NULL && strcmp(s, "2.3") == 0)
				svc->syntax = DOVECOT_23;
			else if (s != NULL && strcmp(s, "2.4") == 0)
				svc->syntax = DOVECOT_24;
			else
				conf_error(cx, "\"%s\" must be \"auto\", "
				    "\"2.3\" or \"2.4\"", path_str(cx));
		} else
			conf_error(cx, "unknown key \"%s\"", path_str(cx));
		pop(cx);
	}
}

static void
get_watch(struct conf_ctx *cx, json_t *v, struct watch_conf *wc)
{
	const char *k;
	json_t *m;

	if (!want_object(cx, v))
		return;
	json_object_foreach(v, k, m) {
		push(cx, k, 0);
		if (strcmp(k, "settle_ms") == 0)
			get_int(cx, m, 10, 600000, &wc->settle_ms);
		else if (strcmp(k, "settle_max_ms") == 0)
			get_int(cx, m, 10, 3600000, &wc->settle_max_ms);
		else if (strcmp(k, "report_after_s") == 0)
			get_int(cx, m, 0, 86400, &wc->report_after_s);
		else if (strcmp(k, "resync_interval_s") == 0)
			get_int(cx, m, 60, 30 * 86400, &wc->resync_interval_s);
		else if (strcmp(k, "expiry_warn_days") == 0) {
			/* null: unset, the quarter of each lifetime. */
			if (json_is_null(m))
				wc->expiry_warn_days = EXPIRY_WARN_UNSET;
			else
				get_int(cx, m, 0, 365, &wc->expiry_warn_days);
		}
		else if (strcmp(k, "certbot_wait_s") == 0)
			get_int(cx, m, 0, 86400, &wc->certbot_wait_s);
		else if (strcmp(k, "reload_min_interval_s") == 0)
			get_int(cx, m, 0, 3600, &wc->reload_min_interval_s);
		else
			conf_error(cx, "unknown key \"%s\"", path_str(cx));
		pop(cx);
	}
}

/* "smtp:25" -> an endpoint; NULL, or why not. */
static const char *
endpoint_parse(const char *s, struct verify_endpoint *ep)
{
	static const char *const protos[TLS__MAX] = { "tls", "smtp", "imap",
	    "pop3" };
	const char *colon = strchr(s, ':');
	char *end;
	long port;
	int i;

	if (colon == NULL)
		return "must be PROTOCOL:PORT (tls, smtp, imap or pop3)";
	for (i = 0; i < TLS__MAX; i++)
		if ((size_t)(colon - s) == strlen(protos[i]) &&
		    strncmp(s, protos[i], strlen(protos[i])) == 0)
			break;
	if (i == TLS__MAX)
		return "protocol must be tls, smtp, imap or pop3";
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1 ||
	    port > 65535)
		return "port must be 1 to 65535";
	ep->proto = (enum tls_proto)i;
	ep->port = (int)port;
	return NULL;
}

/* "verify": {"endpoints": ["smtp:25", ...], "timeout_ms": 5000} */
static void
get_verify(struct conf_ctx *cx, json_t *v, struct verify_conf *vc)
{
	const char *k, *why;
	json_t *m, *a;
	size_t i;

	if (!want_object(cx, v))
		return;
	json_object_foreach(v, k, m) {
		push(cx, k, 0);
		if (strcmp(k, "timeout_ms") == 0)
			get_int(cx, m, 100, 60000, &vc->timeout_ms);
		else if (strcmp(k, "after_reload") == 0) {
			if (!json_is_boolean(m))
				conf_error(cx, "\"%s\" must be true or false, "
				    "not %s", path_str(cx), json_kind(m));
			else
				vc->after_reload = json_is_true(m);
		}
		else if (strcmp(k, "endpoints") != 0)
			conf_error(cx, "unknown key \"%s\"", path_str(cx));
		else if (!json_is_array(m))
			conf_error(cx, "\"%s\" must be an array of "
			    "\"PROTOCOL:PORT\" strings, not %s", path_str(cx),
			    json_kind(m));
		else {
			vc->nendpoints = 0;
			vc->endpoints = xreallocarray(vc->endpoints,
			    json_array_size(m) + 1, sizeof(*vc->endpoints));
			json_array_foreach(m, i, a) {
				push(cx, NULL, (int)i);
				if (!json_is_string(a))
					conf_error(cx, "\"%s\" must be a string, "
					    "not %s", path_str(cx), json_kind(a));
				else if ((why = endpoint_parse(
				    json_string_value(a),
				    &vc->endpoints[vc->nendpoints])) != NULL)
					conf_error(cx, "\"%s\": %s", path_str(cx),
					    why);
				else
					vc->nendpoints++;
				pop(cx);
			}
		}
		pop(cx);
	}
}

/* An array of host names (normalised) into *v, *n. */
static void
get_names(struct conf_ctx *cx, json_t *m, char ***v, size_t *n)
{
	const char *why;
	json_t *a;
	size_t i;

	if (!json_is_array(m)) {
		conf_error(cx, "\"%s\" must be an array of host names, not %s",
		    path_str(cx), json_kind(m));
		return;
	}
	json_array_foreach(m, i, a) {
		char name[NAME_MAX_LEN + 1];

		push(cx, NULL, (int)i);
		if (!json_is_string(a))
			conf_error(cx, "\"%s\" must be a host name, not %s",
			    path_str(cx), json_kind(a));
		else if ((why = name_normalize(json_string_value(a),
		    json_string_length(a), name)) != NULL)
			conf_error(cx, "\"%s\": %s", path_str(cx), why);
		else {
			*v = xreallocarray(*v, *n + 1, sizeof(char *));
			(*v)[(*n)++] = xstrdup(name);
		}
		pop(cx);
	}
}

/* "dane": {"hold_key_change": [names], "published": [names],
 * "issuers_file": path or null} */
static void
get_dane(struct conf_ctx *cx, json_t *v, struct conf *c)
{
	const char *k;
	json_t *m;

	if (!want_object(cx, v))
		return;
	json_object_foreach(v, k, m) {
		push(cx, k, 0);
		if (strcmp(k, "hold_key_change") == 0)
			get_names(cx, m, &c->hold, &c->nhold);
		else if (strcmp(k, "published") == 0)
			get_names(cx, m, &c->dane_names, &c->ndane_names);
		else if (strcmp(k, "issuers_file") == 0) {
			free(c->issuers_file);
			c->issuers_file = NULL;
			if (!json_is_null(m))
				get_path(cx, m, &c->issuers_file);
		} else
			conf_error(cx, "unknown key \"%s\"", path_str(cx));
		pop(cx);
	}
}

int
conf_dane_name(const struct conf *c, const char *name)
{
	return strv_has(c->hold, c->nhold, name) ||
	    strv_has(c->dane_names, c->ndane_names, name);
}

/* "sources": [{"type": T, "dir": D, "name": N}...]; names unique. */
static void
get_sources(struct conf_ctx *cx, json_t *v, struct conf *c)
{
	size_t i, j;
	json_t *e, *m;
	const char *k;
	int t;

	if (!json_is_array(v)) {
		conf_error(cx, "\"%s\" must be an array of objects, not %s",
		    path_str(cx), json_kind(v));
		return;
	}
	c->sources = xcalloc(json_array_size(v) + 1, sizeof(*c->sources));
	json_array_foreach(v, i, e) {
		struct source *s = &c->sources[c->nsources];

		push(cx, NULL, (int)i);
		if (!want_object(cx, e)) {
			pop(cx);
			continue;
		}
		s->type = SOURCE__MAX;
		json_object_foreach(e, k, m) {
			push(cx, k, 0);
			if (strcmp(k, "type") == 0) {
				for (t = 0; t < SOURCE__MAX; t++)
					if (json_is_string(m) && strcmp(
					    json_string_value(m),
					    scan_source_type_name(t)) == 0)
						s->type = t;
				if (s->type == SOURCE__MAX)
					conf_error(cx, "\"%s\" must be "
					    "\"dehydrated\", \"lego\", "
					    "\"acme.sh\" or \"kubernetes\"",
					    path_str(cx));
			} else if (strcmp(k, "dir") == 0)
				get_path(cx, m, &s->dir);
			else if (strcmp(k, "name") == 0) {
				const char *n = json_string_value(m);

				if (n == NULL || n[0] == '\0' ||
				    strlen(n) > 64 || n[strspn(n,
				    "abcdefghijklmnopqrstuvwxyz0123456789._-")]
				    != '\0')
					conf_error(cx, "\"%s\" must be 1 to 64 "
					    "of a-z 0-9 . _ -", path_str(cx));
				else if (strlen(n) <= 4 &&
				    n[strspn(n, "0123456789abcdef")] == '\0')
					/* "fe80:..." names a certbot lineage
					 * of an IPv6 address, not a source. */
					conf_error(cx, "\"%s\": \"%s\" reads as "
					    "the start of an IPv6 address (a "
					    "certbot lineage); use another name",
					    path_str(cx), n);
				else {
					free(s->name);
					s->name = xstrdup(n);
				}
			} else
				conf_error(cx, "unknown key \"%s\"",
				    path_str(cx));
			pop(cx);
		}
		if (s->type == SOURCE__MAX || s->dir == NULL) {
			conf_error(cx, "\"%s\" needs \"type\" and \"dir\"",
			    path_str(cx));
			free(s->name);
			free(s->dir);
			memset(s, 0, sizeof(*s));
			pop(cx);
			continue;
		}
		if (s->name == NULL)
			s->name = xstrdup(scan_source_type_name(s->type));
		for (j = 0; j < c->nsources; j++)
			if (strcmp(c->sources[j].name, s->name) == 0)
				conf_error(cx, "\"%s\": another source is "
				    "named \"%s\" (set \"name\")",
				    path_str(cx), s->name);
		c->nsources++;
		pop(cx);
	}
}

static char **
argv_of(const char *a, const char *b)
{
	char **argv = xcalloc(3, sizeof(char *));

	argv[0] = xstrdup(a);
	argv[1] = b != NULL ? xstrdup(b) : NULL;
	return argv;
}

static void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->letsencrypt_dir = xstrdup("/etc/letsencrypt");
	c->state_dir = xstrdup("/var/lib/snisync");
	c->command_timeout = 30;
	c->lock_timeout = 120;
	c->postfix.enabled = 1;
	c->postfix.path = xstrdup("/etc/postfix/tls_sni");
	c->postfix.reload = argv_of("postfix", "reload");
	c->postfix.query = argv_of("postconf", NULL);
	c->dovecot.enabled = 1;
	c->dovecot.path = xstrdup("/etc/dovecot/conf.d/99-snisync.conf");
	c->dovecot.check = argv_of("doveconf", "-xn");
	c->dovecot.reload = argv_of("doveadm", "reload");
	c->dovecot.query = argv_of("doveconf", NULL);
	c->dovecot.syntax = DOVECOT_AUTO;
	c->watch.settle_ms = 1000;
	c->watch.settle_max_ms = 30000;
	c->watch.report_after_s = 10;
	c->watch.resync_interval_s = 12 * 3600;
	c->watch.expiry_warn_days = EXPIRY_WARN_UNSET;
	c->watch.certbot_wait_s = 600;
	c->watch.reload_min_interval_s = 0;
	{
		static const struct verify_endpoint def[] = {
			{ TLS_SMTP, 25 }, { TLS_SMTP, 587 },
			{ TLS_DIRECT, 465 }, { TLS_IMAP, 143 },
			{ TLS_DIRECT, 993 }, { TLS_POP3, 110 },
			{ TLS_DIRECT, 995 },
		};

		c->verify.nendpoints = sizeof(def) / sizeof(def[0]);
		c->verify.endpoints = xcalloc(c->verify.nendpoints,
		    sizeof(def[0]));
		memcpy(c->verify.endpoints, def, sizeof(def));
		c->verify.timeout_ms = 5000;
	}
}

/*
 * Blanks comment lines in place (spaces, newlines kept, so line:column
 * in errors still point into the file as written). Returns 1 when
 * nothing but white space is left.
 */
static int
blank_comments(unsigned char *t, size_t len)
{
	size_t i = 0;
	int empty = 1;

	while (i < len) {
		while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r'))
			i++;
		if (i < len && t[i] == '#') {
			while (i < len && t[i] != '\n')
				t[i++] = ' ';
		} else if (i < len && t[i] != '\n') {
			empty = 0;
			while (i < len && t[i] != '\n')
				i++;
		}
		i++;
	}
	return empty;
}

int
conf_load(const char *path, int required, struct conf *c)
{
	struct conf_ctx cx = { 0 };
	unsigned char *text = NULL;
	json_error_t jerr;
	json_t *root = NULL, *m;
	const char *k;
	char why[256];
	size_t len;

	conf_defaults(c);
	cx.file = path;
	if (fsio_read(path, 1024 * 1024, &text, &len, NULL, why,
	    sizeof(why)) == -1) {
		struct stat st;

		if (!required && lstat(path, &st) == -1 && errno == ENOENT)
			return 0;
		log_err("%s: %s", log_esc(path), why);
		conf_free(c);
		return -1;
	}
	cx.text = (const char *)text;
	cx.len = len;
	if (blank_comments(text, len)) {
		free(text);
		return 0;
	}
	root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		log_err("%s:%d:%d: %s", log_esc(path), jerr.line, jerr.column,
		    log_esc(jerr.text));
		free(text);
		conf_free(c);
		return -1;
	}
	if (!json_is_object(root)) {
		conf_error(&cx, "the configuration must be a JSON object");
		goto out;
	}
	json_object_foreach(root, k, m) {
		push(&cx, k, 0);
		if (strcmp(k, "letsencrypt_dir") == 0) {
			c->letsencrypt_explicit = 1;
			free(c->letsencrypt_dir);
			c->letsencrypt_dir = NULL;
			if (!json_is_null(m))
				get_path(&cx, m, &c->letsencrypt_dir);
		} else if (strcmp(k, "sources") == 0)
			get_sources(&cx, m, c);
		else if (strcmp(k, "state_dir") == 0)
			get_path(&cx, m, &c->state_dir);
		else if (strcmp(k, "command_timeout") == 0)
			get_int(&cx, m, 1, 3600, &c->command_timeout);
		else if (strcmp(k, "lock_timeout") == 0)
			get_int(&cx, m, 0, 3600, &c->lock_timeout);
		else if (strcmp(k, "postfix") == 0)
			get_service(&cx, m, &c->postfix, 0);
		else if (strcmp(k, "dovecot") == 0)
			get_service(&cx, m, &c->dovecot, 1);
		else if (strcmp(k, "watch") == 0)
			get_watch(&cx, m, &c->watch);
		else if (strcmp(k, "dane") == 0)
			get_dane(&cx, m, c);
		else if (strcmp(k, "verify") == 0)
			get_verify(&cx, m, &c->verify);
		else if (strcmp(k, "metrics_file") == 0) {
			free(c->metrics_file);
			c->metrics_file = NULL;
			if (!json_is_null(m))
				get_path(&cx, m, &c->metrics_file);
		}
		else
			conf_error(&cx, "unknown key \"%s\"", path_str(&cx));
		pop(&cx);
	}
	if (c->letsencrypt_dir == NULL && c->nsources == 0)
		conf_error(&cx, "\"letsencrypt_dir\" is null and there are no "
		    "\"sources\": nothing to sync");
out:
	json_decref(root);
	free(text);
	if (cx.errors) {
		conf_free(c);
		return -1;
	}
	return 0;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->letsencrypt_dir);
	for (size_t i = 0; i < c->nsources; i++) {
		free(c->sources[i].name);
		free(c->sources[i].dir);
	}
	free(c->sources);
	free(c->state_dir);
	free(c->postfix.path);
	argv_free(c->postfix.reload);
	argv_free(c->postfix.query);
	free(c->dovecot.path);
	argv_free(c->dovecot.reload);
	argv_free(c->dovecot.check);
	argv_free(c->dovecot.query);
	free(c->metrics_file);
	free(c->verify.endpoints);
	for (size_t i = 0; i < c->nhold; i++)
		free(c->hold[i]);
	free(c->hold);
	for (size_t i = 0; i < c->ndane_names; i++)
		free(c->dane_names[i]);
	free(c->dane_names);
	free(c->issuers_file);
	memset(c, 0, sizeof(*c));
}
