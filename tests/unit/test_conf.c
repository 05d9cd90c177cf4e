/* test_conf.c - conf_load(): defaults, errors with line:column. */
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "unit.h"

static char path[] = "/tmp/snisync-conf-XXXXXX";

/* Loads text as a config; returns conf_load()'s result and the stderr
 * it printed in err. */
static int
load(const char *text, struct conf *c, char *err, size_t errsz)
{
	FILE *f = fopen(path, "w");
	int rc, saved = dup(2);
	FILE *e = tmpfile();
	size_t n;

	fputs(text, f);
	fclose(f);
	fflush(stderr);
	dup2(fileno(e), 2);
	rc = conf_load(path, 1, c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(e);
	n = fread(err, 1, errsz - 1, e);
	while (n > 0 && err[n - 1] == '\n')
		n--;
	err[n] = '\0';
	fclose(e);
	return rc;
}

int
main(void)
{
	struct conf c;
	char err[2048];
	int fd = mkstemp(path);

	close(fd);
	log_init("snisync");

	UNIT_INTEQ(conf_load("/nonexistent/snisync.json", 0, &c), 0,
	    "missing optional file: defaults");
	UNIT_STREQ(c.letsencrypt_dir, "/etc/letsencrypt", "default le dir");
	UNIT_STREQ(c.state_dir, "/var/lib/snisync", "default state dir");
	UNIT_STREQ(c.postfix.path, "/etc/postfix/tls_sni", "default map");
	UNIT_STREQ(c.postfix.reload[0], "postfix", "default postfix reload");
	UNIT_STREQ(c.dovecot.path, "/etc/dovecot/conf.d/99-snisync.conf",
	    "default dovecot file");
	UNIT_STREQ(c.dovecot.check[1], "-xn", "default dovecot check");
	UNIT_STREQ(c.dovecot.reload[0], "doveadm", "default dovecot reload");
	UNIT_INTEQ(c.dovecot.syntax, DOVECOT_AUTO, "default version auto");
	UNIT_INTEQ(c.postfix.explicit, 0, "defaults are not explicit");
	UNIT_INTEQ(c.watch.expiry_warn_days, EXPIRY_WARN_UNSET,
	    "expiry_warn_days unset by default: a quarter of each lifetime");
	conf_free(&c);
	UNIT_INTEQ(conf_load("/nonexistent/snisync.json", 1, &c), -1,
	    "missing required file: error");
	conf_free(&c);

	UNIT_INTEQ(load("{\"letsencrypt_dir\": \"/le\", \"state_dir\": \"/st\","
	    " \"postfix\": {\"map\": \"/pf/sni\", \"reload\": [\"a\", \"b\"]},"
	    " \"dovecot\": {\"config\": \"/dc/x.conf\", \"version\": \"2.4\","
	    " \"check\": null, \"reload\": []}}", &c, err, sizeof(err)), 0,
	    "full config loads");
	UNIT_STREQ(c.letsencrypt_dir, "/le", "le dir read");
	UNIT_STREQ(c.postfix.reload[1], "b", "reload argv read");
	UNIT_OK(c.dovecot.check == NULL, "check null: no check");
	UNIT_OK(c.dovecot.reload == NULL, "empty reload: no reload");
	UNIT_INTEQ(c.dovecot.syntax, DOVECOT_24, "version 2.4");
	conf_free(&c);

	UNIT_INTEQ(load("# snisync\n{\n  # the state\n  \"state_dir\": \"/st\",\n"
	    "\t# \"postfix\": null,\n  \"postfix\": {\"reload\": [\"echo\", \"#x\"]}\n"
	    "}\n#end",
	    &c, err, sizeof(err)), 0, "comment lines skipped (%s)", err);
	if (c.postfix.reload == NULL || c.postfix.reload[0] == NULL) {
		UNIT_OK(0, "comments: postfix.reload read");
		return 1;
	}
	UNIT_STREQ(c.state_dir, "/st", "key after a comment read");
	UNIT_STREQ(c.postfix.reload[1], "#x", "# inside a value kept");
	UNIT_INTEQ(c.postfix.enabled, 1, "commented-out key has no effect");
	conf_free(&c);
	UNIT_INTEQ(load("# only comments\n\n  # \"postfix\": null\n", &c, err,
	    sizeof(err)), 0, "a file of comments is {}");
	UNIT_STREQ(c.state_dir, "/var/lib/snisync", "comments only: defaults");
	conf_free(&c);
	UNIT_INTEQ(load("# a\n# b\n{\n  \"bogus\": 1\n}", &c, err,
	    sizeof(err)), -1, "error after comments");
	UNIT_OK(strstr(err, ":4:3: unknown key") != NULL,
	    "comments keep line numbers (%s)", err);
	conf_free(&c);
	UNIT_INTEQ(load("{\"state_dir\": \"/a\" # no\n}", &c, err,
	    sizeof(err)), -1, "# after a value is not a comment");
	conf_free(&c);

	UNIT_INTEQ(load("{\"postfix\": null}", &c, err, sizeof(err)), 0,
	    "postfix null loads");
	UNIT_INTEQ(c.postfix.enabled, 0, "postfix null: off");
	UNIT_INTEQ(c.dovecot.enabled, 1, "dovecot still on");
	conf_free(&c);

	UNIT_INTEQ(load("{\n  \"state_dir\": \"/x\",\n  \"bogus\": 1\n}", &c,
	    err, sizeof(err)), -1, "unknown key refused");
	UNIT_OK(strstr(err, ":3:3: unknown key \"bogus\"") != NULL,
	    "unknown key: line 3 column 3 (%s)", err);
	conf_free(&c);

	UNIT_INTEQ(load("{\"dovecot\": {\n\t\"reload\": \"doveadm reload\"}}",
	    &c, err, sizeof(err)), -1, "string instead of argv refused");
	UNIT_OK(strstr(err, ":2:2: \"dovecot.reload\" must be an array") !=
	    NULL, "wrong type: position and path (%s)", err);
	conf_free(&c);

	UNIT_INTEQ(load("{\"postfix\": {\"reload\": [\"postfix\", 3]}}", &c,
	    err, sizeof(err)), -1, "number in argv refused");
	UNIT_OK(strstr(err, "\"postfix.reload[1]\"") != NULL,
	    "argv element named (%s)", err);
	conf_free(&c);

	UNIT_INTEQ(load("{\"state_dir\": \"var/lib\"}", &c, err, sizeof(err)),
	    -1, "relative path refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"state_dir\": \"/var/lib/my state\"}", &c, err,
	    sizeof(err)), -1, "path with a space refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"state_dir\": \"/var/lib/snisync/..\"}", &c, err,
	    sizeof(err)), -1, "path ending in /.. refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"letsencrypt_dir\": \"/etc/letsencrypt/.\"}", &c,
	    err, sizeof(err)), -1, "path ending in /. refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"dovecot\": {\"version\": \"2.5\"}}", &c, err,
	    sizeof(err)), -1, "unknown dovecot version refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"state_dir\": \"/a\"} trailing", &c, err,
	    sizeof(err)), -1, "trailing garbage refused");
	UNIT_OK(strstr(err, ":1:") != NULL, "trailing garbage: line (%s)", err);
	conf_free(&c);
	UNIT_INTEQ(load("{\"state_dir\": \"/a\", \"state_dir\": \"/b\"}", &c,
	    err, sizeof(err)), -1, "duplicate key refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"state_dir\": \"/\xff\"}", &c, err, sizeof(err)),
	    -1, "invalid UTF-8 refused");
	conf_free(&c);
	UNIT_INTEQ(load("[1]", &c, err, sizeof(err)), -1,
	    "non-object refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"command_timeout\": 0}", &c, err, sizeof(err)), -1,
	    "timeout out of range refused");
	conf_free(&c);
	UNIT_INTEQ(load("{\"watch\": {\"expiry_warn_days\": null}}", &c, err,
	    sizeof(err)), 0, "expiry_warn_days null accepted (%s)", err);
	UNIT_INTEQ(c.watch.expiry_warn_days, EXPIRY_WARN_UNSET,
	    "expiry_warn_days null: unset");
	conf_free(&c);
	UNIT_INTEQ(load("{\"watch\": {\"expiry_warn_days\": 21}}", &c, err,
	    sizeof(err)), 0, "expiry_warn_days 21 accepted (%s)", err);
	UNIT_INTEQ(c.watch.expiry_warn_days, 21,
	    "expiry_warn_days 21: an absolute override");
	conf_free(&c);
	UNIT_INTEQ(load("{\"watch\": {\"expiry_warn_days\": -1}}", &c, err,
	    sizeof(err)), -1, "expiry_warn_days -1 refused");
	UNIT_OK(strstr(err, "\"watch.expiry_warn_days\" must be an integer "
	    "from 0 to 365") != NULL, "expiry_warn_days -1: the reason (%s)",
	    err);
	conf_free(&c);
	UNIT_INTEQ(load("{\"sources\": [{\"type\": \"lego\", \"dir\": \"/l\", "
	    "\"name\": \"fe80\"}]}", &c, err, sizeof(err)), -1,
	    "a source named like an IPv6 address's first group refused");
	UNIT_OK(strstr(err, "reads as the start of an IPv6 address") != NULL,
	    "source name fe80: the reason (%s)", err);
	conf_free(&c);
	UNIT_INTEQ(load("{\"sources\": [{\"type\": \"lego\", \"dir\": \"/l\", "
	    "\"name\": \"lego2\"}]}", &c, err, sizeof(err)), 0,
	    "source name lego2 accepted (%s)", err);
	conf_free(&c);
	unlink(path);
	return unit_status();
}
