/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the rules every backend keeps, and what their refusals say, in one place: a
 * backend reads what a rule needs in its own SQL and asks here.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "xmalloc.h"

/* Refuse port of protocol, which account owner reserved already: -1 with *cause. */
int
store_rule_address_taken(const char *protocol, int port, const char *owner, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];

	xasprintf(cause, "%sport %d is already reserved by account '%s'",
	    strcmp(protocol, "udp") == 0 ? "UDP " : "", port, log_quote(owner, q));
	return -1;
}

/*
 * May account, which holds held reserved addresses and may hold max (-1: any number),
 * reserve one more? 0, or -1 with *cause.
 */
int
store_rule_address_room(const char *account, int64_t held, int64_t max, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];

	if (max < 0 || held < max)
		return 0;
	xasprintf(cause, "account '%s' holds %lld reserved addresses, its limit (max-addresses "
	    "%lld; the gateway's operator can raise it: tunnelgwctl account set)",
	    log_quote(account, q), (long long)held, (long long)max);
	return -1;
}

/* Refuse a second member name in account: -1 with *cause. */
int
store_rule_member_taken(const char *account, const char *name, char **cause)
{
	char	 qa[LOG_QUOTE_SIZE], qn[LOG_QUOTE_SIZE];

	xasprintf(cause, "account '%s' already has a member '%s'", log_quote(account, qa),
	    log_quote(name, qn));
	return -1;
}

/* Refuse to take away member name, account's only owner: -1 with *cause. */
int
store_rule_last_owner(const char *account, const char *name, char **cause)
{
	char	 qa[LOG_QUOTE_SIZE], qn[LOG_QUOTE_SIZE];

	xasprintf(cause, "'%s' is the only owner of account '%s': an account keeps at least one "
	    "owner (make another member owner first, or delete the account)", log_quote(name, qn),
	    log_quote(account, qa));
	return -1;
}
