/* SPDX-License-Identifier: ISC */
/* tunnelgw: what every part of the store shares: the kinds of record, freeing them, the time. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "backend.h"
#include "store.h"

/* The fields of each kind of record, in the order of the columns backends read. */
#define STORE_FIELD(type, record, field, none)	{ type, offsetof(struct record, field), none }
static const struct store_field store_account_fields[] = {
	STORE_FIELD(STORE_TEXT, store_account, name, 0),
	STORE_FIELD(STORE_INT, store_account, max_tunnels, -1),
	STORE_FIELD(STORE_INT64, store_account, created, 0),
	STORE_FIELD(STORE_UINT, store_account, nkeys, 0),
	STORE_FIELD(STORE_UINT, store_account, ntokens, 0),
	STORE_FIELD(STORE_UINT, store_account, naddresses, 0),
	STORE_FIELD(STORE_TEXT, store_account, create_raw_tunnel, 0),
	STORE_FIELD(STORE_INT, store_account, max_addresses, -1),
	STORE_FIELD(STORE_INT, store_account, max_connections, -1),
	STORE_FIELD(STORE_UINT, store_account, nmembers, 0),
};
static const struct store_field store_member_fields[] = {
	STORE_FIELD(STORE_TEXT, store_member, account, 0),
	STORE_FIELD(STORE_TEXT, store_member, name, 0),
	STORE_FIELD(STORE_TEXT, store_member, role, 0),
	STORE_FIELD(STORE_INT64, store_member, created, 0),
	STORE_FIELD(STORE_UINT, store_member, nkeys, 0),
	STORE_FIELD(STORE_UINT, store_member, ntokens, 0),
	STORE_FIELD(STORE_UINT, store_member, napikeys, 0),
};
static const struct store_field store_apikey_fields[] = {
	STORE_FIELD(STORE_INT64, store_apikey, id, 0),
	STORE_FIELD(STORE_TEXT, store_apikey, account, 0),
	STORE_FIELD(STORE_TEXT, store_apikey, member, 0),
	STORE_FIELD(STORE_TEXT, store_apikey, role, 0),
	STORE_FIELD(STORE_INT64, store_apikey, created, 0),
	STORE_FIELD(STORE_INT64, store_apikey, revoked, 0),
	STORE_FIELD(STORE_INT64, store_apikey, last_used, 0),
};
static const struct store_field store_token_fields[] = {
	STORE_FIELD(STORE_INT64, store_token, id, 0),
	STORE_FIELD(STORE_TEXT, store_token, account, 0),
	STORE_FIELD(STORE_INT64, store_token, created, 0),
	STORE_FIELD(STORE_INT64, store_token, expires, 0),
	STORE_FIELD(STORE_INT64, store_token, revoked, 0),
	STORE_FIELD(STORE_INT64, store_token, last_used, 0),
	STORE_FIELD(STORE_TEXT, store_token, member, 0),
	STORE_FIELD(STORE_INT, store_token, port, 0),
	STORE_FIELD(STORE_INT, store_token, once, 0),
	STORE_FIELD(STORE_TEXT, store_token, protocol, 0),
};
static const struct store_field store_key_fields[] = {
	STORE_FIELD(STORE_TEXT, store_key, fingerprint, 0),
	STORE_FIELD(STORE_TEXT, store_key, account, 0),
	STORE_FIELD(STORE_TEXT, store_key, type, 0),
	STORE_FIELD(STORE_TEXT, store_key, key, 0),
	STORE_FIELD(STORE_TEXT, store_key, comment, 0),
	STORE_FIELD(STORE_TEXT, store_key, added_by, 0),
	STORE_FIELD(STORE_INT64, store_key, created, 0),
	STORE_FIELD(STORE_TEXT, store_key, member, 0),
};
static const struct store_field store_address_fields[] = {
	STORE_FIELD(STORE_TEXT, store_address, protocol, 0),
	STORE_FIELD(STORE_INT, store_address, port, 0),
	STORE_FIELD(STORE_TEXT, store_address, account, 0),
	STORE_FIELD(STORE_INT64, store_address, created, 0),
	STORE_FIELD(STORE_TEXT, store_address, node, 0),
	STORE_FIELD(STORE_TEXT, store_address, host, 0),
};
static const struct store_field store_live_fields[] = {
	STORE_FIELD(STORE_INT64, store_live, id, 0),
	STORE_FIELD(STORE_TEXT, store_live, node, 0),
	STORE_FIELD(STORE_TEXT, store_live, account, 0),
	STORE_FIELD(STORE_TEXT, store_live, member, 0),
	STORE_FIELD(STORE_TEXT, store_live, client, 0),
	STORE_FIELD(STORE_TEXT, store_live, url, 0),
	STORE_FIELD(STORE_TEXT, store_live, target, 0),
	STORE_FIELD(STORE_INT64, store_live, since, 0),
	STORE_FIELD(STORE_INT, store_live, conns, 0),
	STORE_FIELD(STORE_INT64, store_live, bytes_in, 0),
	STORE_FIELD(STORE_INT64, store_live, bytes_out, 0),
};
static const struct store_field store_login_fields[] = {
	STORE_FIELD(STORE_TEXT, store_login, account, 0),
	STORE_FIELD(STORE_TEXT, store_login, member, 0),
	STORE_FIELD(STORE_TEXT, store_login, role, 0),
	STORE_FIELD(STORE_TEXT, store_login, create_raw_tunnel, 0),
	STORE_FIELD(STORE_INT, store_login, max_tunnels, -1),
	STORE_FIELD(STORE_INT, store_login, max_connections, -1),
	STORE_FIELD(STORE_INT, store_login, port, 0),
	STORE_FIELD(STORE_TEXT, store_login, protocol, 0),
	STORE_FIELD(STORE_INT, store_login, active, 0),
};
static const struct store_field store_live_count_fields[] = {
	STORE_FIELD(STORE_TEXT, store_live_count, node, 0),
	STORE_FIELD(STORE_TEXT, store_live_count, account, 0),
	STORE_FIELD(STORE_INT, store_live_count, tunnels, 0),
	STORE_FIELD(STORE_INT, store_live_count, conns, 0),
	STORE_FIELD(STORE_INT64, store_live_count, seq, 0),
};
static const struct store_field store_event_fields[] = {
	STORE_FIELD(STORE_INT64, store_event, id, 0),
	STORE_FIELD(STORE_INT64, store_event, time, 0),
	STORE_FIELD(STORE_TEXT, store_event, event, 0),
	STORE_FIELD(STORE_TEXT, store_event, account, 0),
	STORE_FIELD(STORE_TEXT, store_event, url, 0),
	STORE_FIELD(STORE_TEXT, store_event, client, 0),
	STORE_FIELD(STORE_INT64, store_event, bytes_in, -1),
	STORE_FIELD(STORE_INT64, store_event, bytes_out, -1),
	STORE_FIELD(STORE_INT64, store_event, duration_ms, -1),
	STORE_FIELD(STORE_TEXT, store_event, detail, 0),
};

#define STORE_KIND(record, fields) \
	{ sizeof (struct record), sizeof fields / sizeof fields[0], fields }
const struct store_kind store_account_kind = STORE_KIND(store_account, store_account_fields);
const struct store_kind store_member_kind = STORE_KIND(store_member, store_member_fields);
const struct store_kind store_apikey_kind = STORE_KIND(store_apikey, store_apikey_fields);
const struct store_kind store_token_kind = STORE_KIND(store_token, store_token_fields);
const struct store_kind store_key_kind = STORE_KIND(store_key, store_key_fields);
const struct store_kind store_address_kind = STORE_KIND(store_address, store_address_fields);
const struct store_kind store_event_kind = STORE_KIND(store_event, store_event_fields);
const struct store_kind store_live_kind = STORE_KIND(store_live, store_live_fields);
const struct store_kind store_login_kind = STORE_KIND(store_login, store_login_fields);
const struct store_kind store_live_count_kind = STORE_KIND(store_live_count,
    store_live_count_fields);

/* The time now, in Unix seconds. */
int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* Free a record of a kind with its text fields; NULL is a no-op. */
void
store_record_free(void *r, const struct store_kind *kind)
{
	void	*p;
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < kind->nfields; i++) {
		p = (char *)r + kind->fields[i].offset;
		if (kind->fields[i].type == STORE_TEXT)
			free(*(char **)p);
	}
	free(r);
}

/* Free an array of n records of a kind, then the array. */
void
store_list_free(void *v, size_t n, const struct store_kind *kind)
{
	void	**records = v;
	size_t	  i;

	for (i = 0; i < n; i++)
		store_record_free(records[i], kind);
	free(v);
}
