/* SPDX-License-Identifier: ISC */
/* tunnelgw: what the store's door (src/store.h) and its backends share; private to src/store/. */
#ifndef TG_STORE_BACKEND_H
#define TG_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_HASH_LEN		32	/* SHA-256 */

/* An open store. A backend's own structure starts with it. */
struct store {
	const struct store_backend	*backend;
	const char			*where;	/* what logs may name: no password */
};

/* A token's SHA-256, and its first 8 bytes read big-endian: the number it is looked up by. */
struct store_hash {
	unsigned char	 hash[STORE_HASH_LEN];
	int64_t		 lookup;
};

/* The token a hash matched: account is NULL when none did. */
struct store_match {
	int64_t		 id;
	char		*account;
	int64_t		 expires;
	int64_t		 revoked;
	int		 once;		/* a one-time token ... */
	int64_t		 last_used;	/* ... is spent once used */
};

/* The type of a field of a record. */
enum store_type {
	STORE_TEXT,		/* char *: NULL when missing */
	STORE_INT,		/* int */
	STORE_UINT,		/* unsigned int */
	STORE_INT64		/* int64_t */
};

/* A field of a record: its type, where it is, and what a missing value reads as. */
struct store_field {
	enum store_type	 type;
	size_t		 offset;
	int64_t		 none;
};

/*
 * A kind of record (an account, a token ...): its size and its fields, in the order of the
 * columns a backend reads them from. Freeing a record frees its text fields. Lists are
 * arrays of pointers to records, handled as arrays of void * by the code all kinds share:
 * GCC and Clang let a void * element alias any other object pointer.
 */
struct store_kind {
	size_t				 size;
	size_t				 nfields;
	const struct store_field	*fields;
};

/*
 * A backend: one operation for each public store_* function that reads or writes data. The
 * door (store.c) checks the arguments that need no data first, then calls the operation,
 * which keeps the rules of src/store.h: 0 or -1, a message through cause, "DB: " messages
 * about the database, and every write in one transaction. A list or find operation is called
 * with its results set to none, and leaves them so when it fails.
 */
struct store_backend {
	void		 (*close)(struct store *);
	int		 (*changes)(struct store *, int64_t *, char **);
	int		 (*changed_accounts)(struct store *, char ***, size_t *);	/* NULL: any */
	int		 (*integrity)(struct store *, char **);

	int		 (*account_add)(struct store *, const char *, int, char **);
	int		 (*account_del)(struct store *, const char *, char **);
	int		 (*account_set)(struct store *, const char *,
			     const struct store_account_set *, char **);
	int		 (*account_find)(struct store *, const char *, struct store_account **,
			     char **);
	int		 (*account_list)(struct store *, struct store_account ***, size_t *,
			     char **);

	int		 (*member_add)(struct store *, const char *, const char *, const char *,
			     char **);
	int		 (*member_del)(struct store *, const char *, const char *, char **);
	int		 (*member_set_role)(struct store *, const char *, const char *,
			     const char *, char **);
	int		 (*member_find)(struct store *, const char *, const char *,
			     struct store_member **, char **);
	int		 (*member_list)(struct store *, const char *, struct store_member ***,
			     size_t *, char **);
	int		 (*member_of_token)(struct store *, int64_t, struct store_member **,
			     char **);
	int		 (*member_of_key)(struct store *, const char *, struct store_member **,
			     char **);
	int		 (*login_find)(struct store *, int64_t, const char *, struct store_login **,
			     char **);

	/* apikey_add: account and member (both NULL: the operator's), hash; *id out. */
	int		 (*apikey_add)(struct store *, const char *, const char *,
			     const struct store_hash *, int64_t *, char **);
	int		 (*apikey_revoke)(struct store *, int64_t, char **);
	int		 (*apikey_use)(struct store *, const struct store_hash *,
			     struct store_apikey **, char **);
	int		 (*apikey_list)(struct store *, const char *, struct store_apikey ***,
			     size_t *, char **);

	/*
	 * token_add: account, member, hash, created, expires; *id out. token_use: 0, 1 or
	 * -1.
	 */
	int		 (*token_add)(struct store *, const char *, const char *,
			     const struct store_hash *, int64_t, int64_t, const char *, int, int,
			     int64_t *, char **);
	int		 (*token_find)(struct store *, int64_t, struct store_token **, char **);
	int		 (*token_revoke)(struct store *, int64_t, char **);
	int		 (*token_use)(struct store *, const struct store_hash *, int, char **,
			     int64_t *, char **);
	int		 (*token_list)(struct store *, struct store_token ***, size_t *, char **);

	int		 (*key_add)(struct store *, const struct store_key *, char **);
	int		 (*key_del)(struct store *, const char *, char **);
	int		 (*key_find)(struct store *, const char *, struct store_key **, char **);
	int		 (*key_list)(struct store *, struct store_key ***, size_t *, char **);

	int		 (*address_reserve)(struct store *, const char *, const char *,
			     const char *, int, int, int, int *, char **);
	int		 (*address_release)(struct store *, const char *, int, char **);
	int		 (*address_find)(struct store *, const char *, int, struct store_address **,
			     char **);
	int		 (*address_list)(struct store *, struct store_address ***, size_t *,
			     char **);

	int		 (*event_add)(struct store *, const struct store_event *, size_t, int64_t,
			     int64_t, char **);
	int		 (*event_list)(struct store *, const struct store_event_filter *,
			     struct store_event ***, size_t *, char **);

	/* Gateways sharing the database: NULL in a backend that has no shared state. */
	int		 (*node_join)(struct store *, const struct store_node *, int64_t *, char **);
	int		 (*node_sync)(struct store *, const struct store_node *, struct store_live **,
			     size_t, const int64_t *, size_t, struct store_live **, size_t,
			     struct store_live_count **, size_t, int64_t **, size_t *, char **);
	int		 (*node_leave)(struct store *, const struct store_node *, char **);
	int		 (*live_list)(struct store *, const char *, struct store_live ***, size_t *,
			     char **);
	int		 (*live_counts)(struct store *, const char *, const char *, int64_t,
			     struct store_live_count ***, size_t *, int64_t *, char **, int *,
			     char **);
	int		 (*live_close)(struct store *, int64_t, char **);
};

/* record.c */
extern const struct store_kind store_account_kind;
extern const struct store_kind store_token_kind;
extern const struct store_kind store_member_kind;
extern const struct store_kind store_apikey_kind;
extern const struct store_kind store_key_kind;
extern const struct store_kind store_address_kind;
extern const struct store_kind store_event_kind;
extern const struct store_kind store_live_kind;
extern const struct store_kind store_live_count_kind;
extern const struct store_kind store_login_kind;
int64_t		 store_now(void);
void		 store_record_free(void *, const struct store_kind *);
void		 store_list_free(void *, size_t, const struct store_kind *);

/* address.c */
int		 store_address_pick(int, int, const int *, size_t, int *, char **);

/* token.c */
char		*store_token_generate(const char *, char **);
int		 store_token_hash(const char *, struct store_hash *, char **);
int		 store_token_usable(const struct store_match *, int64_t, char **);

/* rules.c: the rules of every backend, and their refusals. */
int		 store_rule_address_taken(const char *, int, const char *, char **);
int		 store_rule_address_room(const char *, int64_t, int64_t, char **);
int		 store_rule_member_taken(const char *, const char *, char **);
int		 store_rule_last_owner(const char *, const char *, char **);

/* key.c */
struct store_key *store_key_parse(const char *, const char *, const char *, char **);

/* The backends: sqlite-open.c, pg.c. */
struct store	*store_sqlite_open(const char *, int, char **);
struct store	*store_pg_open(const char *, int, char **);

#endif
