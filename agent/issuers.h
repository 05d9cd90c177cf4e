/*
 * issuers.h - the issuing intermediates a CA picks from, by family, for
 * DANE-TA (2 1 1) records that survive the CA's rotation: Let's Encrypt
 * picks one of a generation's intermediates at random for each issuance,
 * so a 2 1 1 record is only safe when it lists every intermediate of the
 * family, backups included.
 *
 * The data is text, one intermediate per line:
 *
 *	FAMILY NAME active|backup SPKI-SHA256
 *
 * FAMILY a token that groups the intermediates one issuance may draw
 * from (the hierarchy and key type), NAME the intermediate's CN, and the
 * SHA-256 of its DER SubjectPublicKeyInfo in hex; "#" starts a comment.
 * The built-in set is issuers.c's; dane.issuers_file adds lines of the
 * same format (a new generation announced before snisync knows it).
 */
#ifndef SNISYNC_ISSUERS_H
#define SNISYNC_ISSUERS_H

#include <stddef.h>

struct issuer {
	char		family[64];
	char		name[64];
	int		backup;
	char		spki[65];	/* lowercase hex */
};

struct issuers {
	struct issuer	*v;
	size_t		 n;
};

/* The built-in lines (issuers.c); the date they were read. */
extern const char issuers_builtin[];
extern const char issuers_builtin_date[];

/*
 * issuers_parse(text, origin, set, why, whysz): appends text's lines to
 * set. Returns 0, or -1 with "ORIGIN:LINE: reason" in why (set keeps the
 * lines before).
 */
int	issuers_parse(const char *text, const char *origin, struct issuers *set,
	    char *why, size_t whysz);

/*
 * issuers_load(file, set, why, whysz): the built-in set, then file's
 * lines when file is not NULL. Returns 0, or -1 with the reason (file
 * unreadable or a bad line); set is then empty.
 */
int	issuers_load(const char *file, struct issuers *set, char *why,
	    size_t whysz);

/* The entry with this SPKI hash (any case), or NULL. */
const struct issuer *issuers_find(const struct issuers *set,
	    const char *spki);

void	issuers_free(struct issuers *set);

#endif
