/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the keys file: key types, options, malformed lines, lookups. */
#include "config.h"

#include <sys/stat.h>

#include <time.h>

#include "auth.h"
#include "tg_test.h"

/*
 * Public keys made with ssh-keygen (OpenSSH 9) on a development machine, with the fingerprints
 * "ssh-keygen -l" printed for them. ssh-keygen cannot make security-key (sk-) keys without a
 * token, so those two were put together by hand from the ed25519 and nistp256 keys above them:
 * string "sk-ssh-ed25519@openssh.com", string public key, string application "ssh:" (and for
 * sk-ecdsa, the curve name "nistp256" before the point); ssh-keygen -l agreed on them.
 */
#define ED25519 "AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjOfoCKtl"
#define ED25519_FP "SHA256:lRxCKkTTJVWXkeZm/Y2aczAcoONPqFr8t2VheSNtCKI"
#define RSA "AAAAB3NzaC1yc2EAAAADAQABAAABAQCZ2Jw4E9y7GMgGkfUzCYfF1+LNrH7GZEzv60YZt9KS4iTwlmIr" \
	"xWNjDLfFOI0zQ/tIkhy+Nz6BiME5VrS+/NfhAtjH0jJhDH6EclyKjcwFLHdWwJa/IU06HYV5fFOJT/1SMm3AvU+k" \
	"dU7vuX8VqJTsVg6otdA1GCK7+EMuHHsup5mzlHQXXctigqldp6LDk6gvIxwSF0gouvLB0FF+9kULizLG09rST8i4" \
	"1+1W2Y3Akg61+gtcCOKrwfKe7CDKbocBom0lkvlgqjHTLxKac/D7Dp0vfhnOY0xI8lb4/3Rajkq3Pmn2jjNr6C+X" \
	"BxsARq4fCFPTOLp+fTOQ3TMNZk4R"
#define P256 "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJwmZSRx5+fXczylhdt1hVt4X06B" \
	"CKdhaebL5U95OkhdZOrlSTCP0N/1rXhKx4lG/lX4/oYF2wPFLgDdOjszZPA="
#define P384 "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBOFab0Qc++R4AqimLV+jywkS3g9P" \
	"HT6hnojrWaxtacjkEAa40y4CMajUh4M83Rxf2VredTGKKQimTEa1WmaxgKJc+wh2ZyBXoC6wEKhIdnJSr3xVtxq1" \
	"j11fFyC9aFYafg=="
#define P521 "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBADU9VE2ohwTcedJ7qXfCj+VdQWK" \
	"HmmCo3UgT/YJrxSp09jVRUGoPEFIPDXnhJXNhi8qMgBegd4NclkZTU8aFNPsegFhC/pzrMivHK4ho/mySR9coNuC" \
	"LxSG8PO9LHLNL5nfszs/Kwu04DufSiwcSaD4rYZE+SFqtOTgMxiLj1LllHB+eQ=="
#define SK_ED25519 "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAILASBAwoiGAAwbb4+n1F2a4BlM3H" \
	"DJjJtf7wjOfoCKtlAAAABHNzaDo="
#define SK_P256 "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBJwm" \
	"ZSRx5+fXczylhdt1hVt4X06BCKdhaebL5U95OkhdZOrlSTCP0N/1rXhKx4lG/lX4/oYF2wPFLgDdOjszZPAAAAAE" \
	"c3NoOg=="

/* The ed25519 key with four zero bytes after it, then cut short by five bytes. */
#define ED25519_TRAILING "AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjOfo" \
	"CKtlAAAAAA=="
#define ED25519_SHORT "AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjA=="
/* Named ecdsa-sha2-nistp256 inside, but holding the nistp384 curve and point. */
#define P256_WRONG_CURVE "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAzODQAAABhBOFab0Qc++R4" \
	"AqimLV+jywkS3g9PHT6hnojrWaxtacjkEAa40y4CMajUh4M83Rxf2VredTGKKQimTEa1WmaxgKJc+wh2ZyBXoC6w" \
	"EKhIdnJSr3xVtxq1j11fFyC9aFYafg=="

/* Every key type, its base64 and its fingerprint. */
static const struct {
	const char	*type;
	const char	*b64;
	const char	*fingerprint;
} types[] = {
	{ "ssh-ed25519", ED25519, ED25519_FP },
	{ "ssh-rsa", RSA, "SHA256:ElVpfZXk0lD2tFpHqITXu44C0BUtCM1Q4x7atmRZQxg" },
	{ "ecdsa-sha2-nistp256", P256, "SHA256:qVejIep3buA4kGOgHyZ4Xic5nxWVwe5+wSLFKuyUpW0" },
	{ "ecdsa-sha2-nistp384", P384, "SHA256:jRi/n1pemz4gs95AgLMLqMVfvy8dbuWgHxcezLe4lSs" },
	{ "ecdsa-sha2-nistp521", P521, "SHA256:L0IwYGjPQgSXRpu0ZvG0pndZrxkn0F0pVXD+4/cgRMI" },
	{ "sk-ssh-ed25519@openssh.com", SK_ED25519,
	    "SHA256:QbDb2AppxiPnUgQDvyF0Ks0trFzuqv1bI+a00ZHl3JY" },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", SK_P256,
	    "SHA256:eet8lnf7+J+fAfeBd0mmJvFaoXknRmZ8iCr9hMVNQPo" },
};

/* Parse line, which must hold a key, and return its entry. */
static struct keyent *
parse_ok(const char *line)
{
	struct keyent	*ke = NULL;
	char		*cause = NULL;

	ck_assert_msg(keys_parse_line(line, &ke, &cause) == 0, "'%s': %s", line, cause);
	ck_assert_ptr_nonnull(ke);
	return ke;
}

/* Parse line, which must be malformed, and return its cause. */
static char *
parse_bad(const char *line)
{
	struct keyent	*ke = (struct keyent *)1;
	char		*cause = NULL;

	ck_assert_msg(keys_parse_line(line, &ke, &cause) == -1, "'%s' was accepted", line);
	ck_assert_ptr_null(ke);
	ck_assert_ptr_nonnull(cause);
	return cause;
}

/* Format the CIDR list l and compare it with expect. */
static void
check_cidr(const struct cidrlist *l, const char *expect)
{
	char	*s;

	ck_assert_ptr_nonnull(l);
	s = cidrlist_format(l);
	ck_assert_str_eq(s, expect);
	free(s);
}

/* Make a new ed25519 key pair. */
static ssh_key
generate(void)
{
	ssh_key	 key = NULL;

	ck_assert_int_eq(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key), SSH_OK);
	return key;
}

/* The authorized_keys line of a key, "ssh-ed25519 BASE64 comment", in a new string. */
static char *
key_line(const ssh_key key, const char *opts, const char *comment)
{
	char	*b64, *line;

	ck_assert_int_eq(ssh_pki_export_pubkey_base64(key, &b64), SSH_OK);
	ck_assert_int_ne(asprintf(&line, "%s%s%s %s %s\n", opts, *opts != '\0' ? " " : "",
	    ssh_key_type_to_char(ssh_key_type(key)), b64, comment), -1);
	ssh_string_free_char(b64);
	return line;
}

/* Every key type OpenSSH issues parses, with ssh-keygen's fingerprint and the comment. */
START_TEST(test_key_types)
{
	struct keyent	*ke;
	char		*line;

	ck_assert_int_ne(asprintf(&line, "%s %s my key  \r\n", types[_i].type, types[_i].b64), -1);
	ke = parse_ok(line);
	ck_assert_str_eq(ke->type, types[_i].type);
	ck_assert_str_eq(ke->fingerprint, types[_i].fingerprint);
	ck_assert_str_eq(ke->comment, "my key");
	ck_assert_ptr_eq(ke->account, ke->fingerprint);
	ck_assert_ptr_null(ke->opts.account);
	ck_assert_int_eq(ke->opts.max_tunnels, -1);
	ck_assert_int_eq(ke->opts.proxy_proto, -1);
	ck_assert_ptr_null(ke->opts.permitlisten);
	ck_assert_uint_eq(ke->opts.npermitlisten, 0);
	ck_assert_ptr_null(ke->opts.from);
	ck_assert_ptr_null(ke->opts.allow);
	ck_assert_ptr_null(ke->opts.deny);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 0);
	ck_assert_int_eq(ke->line, 0);
	ck_assert_int_eq(ssh_key_type(ke->key), ssh_key_type_from_name(types[_i].type));
	ck_assert_int_eq(ssh_key_is_public(ke->key), 1);
	keyent_free(ke);
	free(line);
}
END_TEST

/* A key without a comment, and blanks before the key, are fine. */
START_TEST(test_no_comment)
{
	struct keyent	*ke = parse_ok(" \tssh-ed25519 " ED25519);

	ck_assert_ptr_null(ke->comment);
	keyent_free(ke);
	ke = parse_ok("no-pty ssh-ed25519\t" ED25519 "\t\n");
	ck_assert_ptr_null(ke->comment);
	keyent_free(ke);
	ke = parse_ok("ssh-ed25519 " ED25519 " a comment with  \"quotes\", commas and = signs");
	ck_assert_str_eq(ke->comment, "a comment with  \"quotes\", commas and = signs");
	keyent_free(ke);
}
END_TEST

/* Every option arrives in its field. */
START_TEST(test_options)
{
	struct keyent	*ke;

	ke = parse_ok("account=\"alice\",max-tunnels=5,permitlisten=\"8080\","
	    "permitlisten=\"localhost:9090\",permitlisten=\"[::1]:*\",permitlisten=\"*:443\","
	    "from=\"10.0.0.0/8, 192.168.1.0/24\",allow-cidr=\"0.0.0.0/0,::/0\","
	    "deny-cidr=\"10.1.0.0/16\",proxy-proto=2 ssh-ed25519 " ED25519 " alice@laptop");
	ck_assert_str_eq(ke->opts.account, "alice");
	ck_assert_ptr_eq(ke->account, ke->opts.account);
	ck_assert_int_eq(ke->opts.max_tunnels, 5);
	ck_assert_uint_eq(ke->opts.npermitlisten, 4);
	ck_assert_int_eq(ke->opts.permitlisten[0], 8080);
	ck_assert_int_eq(ke->opts.permitlisten[1], 9090);
	ck_assert_int_eq(ke->opts.permitlisten[2], 0);
	ck_assert_int_eq(ke->opts.permitlisten[3], 443);
	check_cidr(ke->opts.from, "10.0.0.0/8,192.168.1.0/24");
	check_cidr(ke->opts.allow, "0.0.0.0/0,::/0");
	check_cidr(ke->opts.deny, "10.1.0.0/16");
	ck_assert_int_eq(ke->opts.proxy_proto, 2);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 0);
	ck_assert_str_eq(ke->comment, "alice@laptop");
	ck_assert_str_eq(ke->fingerprint, ED25519_FP);
	keyent_free(ke);

	ke = parse_ok("max-tunnels=\"0\",proxy-proto=0,account=\"a.b_c@d-e.F9\" ssh-ed25519 "
	    ED25519);
	ck_assert_int_eq(ke->opts.max_tunnels, 0);
	ck_assert_int_eq(ke->opts.proxy_proto, 0);
	ck_assert_str_eq(ke->account, "a.b_c@d-e.F9");
	keyent_free(ke);

	ke = parse_ok("max-tunnels=100000,proxy-proto=\"1\",permitlisten=65535 ssh-ed25519 "
	    ED25519);
	ck_assert_int_eq(ke->opts.max_tunnels, 100000);
	ck_assert_int_eq(ke->opts.proxy_proto, 1);
	ck_assert_int_eq(ke->opts.permitlisten[0], 65535);
	ck_assert_int_eq(ke->opts.role, 0);		/* not set: the default applies */
	keyent_free(ke);

	ke = parse_ok("role=viewer ssh-ed25519 " ED25519);
	ck_assert_int_eq(ke->opts.role, ROLE_VIEWER);
	keyent_free(ke);
	ke = parse_ok("account=\"t\",role=\"owner\" ssh-ed25519 " ED25519);
	ck_assert_int_eq(ke->opts.role, ROLE_OWNER);
	keyent_free(ke);
}
END_TEST

/* Option names are case-insensitive. */
START_TEST(test_option_case)
{
	struct keyent	*ke;

	ke = parse_ok("ACCOUNT=\"bob\",Max-Tunnels=7,NO-PTY,From=\"::1\",No-X11-Forwarding,"
	    "PROXY-PROTO=1,No-Port-Forwarding ssh-ed25519 " ED25519);
	ck_assert_str_eq(ke->account, "bob");
	ck_assert_int_eq(ke->opts.max_tunnels, 7);
	check_cidr(ke->opts.from, "::1/128");
	ck_assert_int_eq(ke->opts.proxy_proto, 1);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 1);
	keyent_free(ke);
}
END_TEST

/* Quoted values may hold commas and blanks; \" inside quotes is a quote. */
START_TEST(test_quoting)
{
	struct keyent	*ke;
	char		*cause;

	ke = parse_ok("from=\"10.0.0.0/8 , ::1\",deny-cidr=\" 192.0.2.0/24,198.51.100.0/24 \" "
	    "ssh-ed25519 " ED25519 " c");
	check_cidr(ke->opts.from, "10.0.0.0/8,::1/128");
	check_cidr(ke->opts.deny, "192.0.2.0/24,198.51.100.0/24");
	ck_assert_str_eq(ke->comment, "c");
	keyent_free(ke);

	/* The escaped quote ends up in the value, and the value does not end there. */
	cause = parse_bad("account=\"x\\\"y, z\" ssh-ed25519 " ED25519);
	ck_assert_str_eq(cause, "account 'x\"y, z' is not 1-64 characters of A-Z a-z 0-9 . _ @ -");
	free(cause);
	cause = parse_bad("from=\"10.0.0.0/8 ssh-ed25519 " ED25519);
	ck_assert_str_eq(cause, "missing end quote in option 'from'");
	free(cause);
}
END_TEST

/* OpenSSH restrictions: the moot ones are accepted, no-port-forwarding and restrict count. */
START_TEST(test_restrictions)
{
	struct keyent	*ke;

	ke = parse_ok("no-pty,pty,no-agent-forwarding,agent-forwarding,no-X11-forwarding,"
	    "x11-forwarding,no-user-rc,user-rc ssh-ed25519 " ED25519);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 0);
	keyent_free(ke);
	ke = parse_ok("no-port-forwarding ssh-ed25519 " ED25519);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 1);
	keyent_free(ke);
	ke = parse_ok("restrict ssh-ed25519 " ED25519);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 1);
	keyent_free(ke);
	ke = parse_ok("restrict,port-forwarding,permitlisten=\"2222\" ssh-ed25519 " ED25519);
	ck_assert_int_eq(ke->opts.no_port_forwarding, 0);
	keyent_free(ke);
}
END_TEST

/* Blank lines and comments give no entry. */
START_TEST(test_blank_and_comment)
{
	static const char *const lines[] = {
		"", "\n", "   \t \r\n", "# a comment", "   # indented comment ssh-ed25519 " ED25519,
		"#ssh-ed25519 " ED25519,
	};
	struct keyent	*ke;
	char		*cause = NULL;
	size_t		 i;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		ke = (struct keyent *)1;
		ck_assert_int_eq(keys_parse_line(lines[i], &ke, &cause), 1);
		ck_assert_ptr_null(ke);
		ck_assert_ptr_null(cause);
	}
}
END_TEST

/* Malformed lines and the message each must give, in full. */
static const struct {
	const char	*line;
	const char	*cause;
} bad_cases[] = {
	{ "bogus ssh-ed25519 " ED25519, "unknown option 'bogus'" },
	{ "no-pty,Bogus=\"1\" ssh-ed25519 " ED25519, "unknown option 'Bogus'" },
	{ "command=\"/bin/sh\" ssh-ed25519 " ED25519, "unknown option 'command'" },
	{ "cert-authority ssh-ed25519 " ED25519, "certificate authorities are not supported" },
	{ "proxy-proto=3 ssh-ed25519 " ED25519, "proxy-proto must be 0, 1 or 2" },
	{ "proxy-proto=\"v2\" ssh-ed25519 " ED25519, "proxy-proto must be 0, 1 or 2" },
	{ "proxy-proto= ssh-ed25519 " ED25519, "proxy-proto must be 0, 1 or 2" },
	{ "proxy-proto=1,proxy-proto=2 ssh-ed25519 " ED25519, "proxy-proto given more than once" },
	{ "role=admin ssh-ed25519 " ED25519, "role must be viewer, developer, manager or owner" },
	{ "role=\"Owner\" ssh-ed25519 " ED25519, "role must be viewer, developer, manager or owner" },
	{ "role= ssh-ed25519 " ED25519, "role must be viewer, developer, manager or owner" },
	{ "role=viewer,role=owner ssh-ed25519 " ED25519, "role given more than once" },
	{ "max-tunnels=100001 ssh-ed25519 " ED25519,
	    "max-tunnels must be a number from 0 to 100000" },
	{ "max-tunnels=-1 ssh-ed25519 " ED25519, "max-tunnels must be a number from 0 to 100000" },
	{ "max-tunnels=\"5x\" ssh-ed25519 " ED25519,
	    "max-tunnels must be a number from 0 to 100000" },
	{ "account=\"\" ssh-ed25519 " ED25519,
	    "account '' is not 1-64 characters of A-Z a-z 0-9 . _ @ -" },
	{ "account=\"a b\" ssh-ed25519 " ED25519,
	    "account 'a b' is not 1-64 characters of A-Z a-z 0-9 . _ @ -" },
	{ "account=\"caf\xc3\xa9\" ssh-ed25519 " ED25519,
	    "account 'caf?" "?' is not 1-64 characters of A-Z a-z 0-9 . _ @ -" },
	{ "account=\"../etc\" ssh-ed25519 " ED25519,
	    "account '../etc' is not 1-64 characters of A-Z a-z 0-9 . _ @ -" },
	{ "account=\"x0123456789012345678901234567890123456789012345678901234567890123\" "
	    "ssh-ed25519 " ED25519, "account 'x012345678901234567890123456789012345678901234567890"
	    "123456789012...' is not 1-64 characters of A-Z a-z 0-9 . _ @ -" },
	{ "account=\"a\",account=\"b\" ssh-ed25519 " ED25519, "account given more than once" },
	{ "account ssh-ed25519 " ED25519, "option 'account' needs a value" },
	{ "no-pty=\"yes\" ssh-ed25519 " ED25519, "option 'no-pty' takes no value" },
	{ "account=\"a\"x ssh-ed25519 " ED25519,
	    "unexpected text after option 'account' (missing comma?)" },
	{ "account=\"a\",,no-pty ssh-ed25519 " ED25519, "empty option" },
	{ "no-pty, ssh-ed25519 " ED25519, "empty option" },
	{ "permitlisten=\"0\" ssh-ed25519 " ED25519, "permitlisten '0' is not \"PORT\" or "
	    "\"HOST:PORT\" with a port from 1 to 65535 or *" },
	{ "permitlisten=\"65536\" ssh-ed25519 " ED25519, "permitlisten '65536' is not \"PORT\" or "
	    "\"HOST:PORT\" with a port from 1 to 65535 or *" },
	{ "permitlisten=\"host:\" ssh-ed25519 " ED25519, "permitlisten 'host:' is not \"PORT\" or "
	    "\"HOST:PORT\" with a port from 1 to 65535 or *" },
	{ "permitlisten=\":80\" ssh-ed25519 " ED25519, "permitlisten ':80' is not \"PORT\" or "
	    "\"HOST:PORT\" with a port from 1 to 65535 or *" },
	{ "permitlisten=\"::1:80\" ssh-ed25519 " ED25519, "permitlisten '::1:80' is not \"PORT\" or "
	    "\"HOST:PORT\" with a port from 1 to 65535 or *" },
	{ "permitlisten=\"[::1]80\" ssh-ed25519 " ED25519, "permitlisten '[::1]80' is not \"PORT\" "
	    "or \"HOST:PORT\" with a port from 1 to 65535 or *" },
	{ "from=\"10.0.0.1/8\" ssh-ed25519 " ED25519,
	    "from: '10.0.0.1/8' (entry 1): host bits set after the /8 prefix "
	    "(did you mean 10.0.0.0/8?)" },
	{ "allow-cidr=\"\" ssh-ed25519 " ED25519, "allow-cidr: empty list" },
	{ "deny-cidr=\"10.0.0.0/8,nope\" ssh-ed25519 " ED25519,
	    "deny-cidr: 'nope' (entry 2): not a numeric IPv4 address" },
	{ "from=\"::1\",from=\"::2\" ssh-ed25519 " ED25519, "from given more than once" },
	{ "ssh-foo " ED25519, "unknown key type 'ssh-foo'" },
	{ "no-pty ssh-foo " ED25519, "unknown key type 'ssh-foo'" },
	{ "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unsupported key type 'ssh-dss'" },
	{ "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t",
	    "certificates are not supported ('ssh-ed25519-cert-v01@openssh.com')" },
	{ "rsa-sha2-256 " RSA, "unknown key type 'rsa-sha2-256'" },
	{ "ssh-rsa " P256, "key type mismatch: the key data is of type 'ecdsa-sha2-nistp256'" },
	{ "ssh-rsa " ED25519, "key type mismatch: the key data is of type 'ssh-ed25519'" },
	{ "ecdsa-sha2-nistp384 " P256,
	    "key type mismatch: the key data is of type 'ecdsa-sha2-nistp256'" },
	{ "ssh-ed25519 " SK_ED25519,
	    "key type mismatch: the key data is of type 'sk-ssh-ed25519@openssh.com'" },
	{ "ecdsa-sha2-nistp256 " P256_WRONG_CURVE, "invalid ecdsa-sha2-nistp256 key data" },
	{ "ssh-ed25519 " ED25519_TRAILING, "invalid ssh-ed25519 key data" },
	{ "ssh-ed25519 " ED25519_SHORT, "invalid ssh-ed25519 key data" },
	{ "ssh-ed25519 AAAA", "invalid ssh-ed25519 key data" },
	{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5!!!!", "invalid base64 in ssh-ed25519 key data" },
	{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjOfoCKt",
	    "invalid base64 in ssh-ed25519 key data" },
	{ "ssh-ed25519 A=AA", "invalid base64 in ssh-ed25519 key data" },
	{ "ssh-ed25519", "missing key data after 'ssh-ed25519'" },
	{ "no-pty ssh-ed25519", "missing key data after 'ssh-ed25519'" },
	{ "no-pty", "missing key type" },
	{ "from=\"::1\"   ", "missing key type" },
};

/* Each malformed line is refused with its message. */
START_TEST(test_bad)
{
	char	*cause = parse_bad(bad_cases[_i].line);

	ck_assert_str_eq(cause, bad_cases[_i].cause);
	free(cause);
}
END_TEST

/* A line longer than KEYS_MAX_LINE is refused; one just as long is taken. */
START_TEST(test_long_line)
{
	struct keyent	*ke;
	char		*line, *cause;
	size_t		 len;

	line = malloc(KEYS_MAX_LINE + 2);
	ck_assert_ptr_nonnull(line);
	len = (size_t)snprintf(line, KEYS_MAX_LINE + 2, "ssh-ed25519 %s ", ED25519);
	memset(line + len, 'c', KEYS_MAX_LINE - len);
	line[KEYS_MAX_LINE] = '\0';
	ke = parse_ok(line);
	ck_assert_uint_eq(strlen(ke->comment), KEYS_MAX_LINE - len);
	keyent_free(ke);
	line[KEYS_MAX_LINE] = 'c';
	line[KEYS_MAX_LINE + 1] = '\0';
	cause = parse_bad(line);
	ck_assert_str_eq(cause, "line longer than 16384 bytes");
	free(cause);
	free(line);
}
END_TEST

/* Look the problems of kf up against a list of expected ones, "LINE: message" after the path. */
static void
check_problems(const struct keyfile *kf, const char *path, const char *const *expect, size_t n)
{
	char	*want;
	size_t	 i;

	ck_assert_uint_eq(keyfile_nproblems(kf), n);
	for (i = 0; i < n; i++) {
		ck_assert_int_ne(asprintf(&want, "%s:%s", path, expect[i]), -1);
		ck_assert_str_eq(keyfile_problem(kf, i), want);
		free(want);
	}
	ck_assert_ptr_null(keyfile_problem(kf, n));
}

/* A file: comments and blanks skipped, bad lines reported by number, later lines still load. */
START_TEST(test_file)
{
	static const char *const problems[] = {
		"4: unknown option 'bogus'",
		"6: duplicate of line 3",
		"7: line longer than 16384 bytes",
		"8: proxy-proto must be 0, 1 or 2",
		"10: duplicate of line 9",
	};
	const char		*dir = tg_tmpdir();
	const struct keyent	*ke;
	struct keyfile		*kf;
	char			*body, *path, *cause = NULL, *longline;
	ssh_key			 key;

	longline = malloc(KEYS_MAX_LINE + 2);
	ck_assert_ptr_nonnull(longline);
	memset(longline, 'x', KEYS_MAX_LINE + 1);
	longline[KEYS_MAX_LINE + 1] = '\0';
	ck_assert_int_ne(asprintf(&body,
	    "# tunnelgw keys\n"
	    "\n"
	    "account=\"alice\" ssh-ed25519 " ED25519 " alice\n"
	    "bogus ssh-rsa " RSA " bad\n"
	    "  ecdsa-sha2-nistp256 " P256 "\r\n"
	    "account=\"mallory\" ssh-ed25519 " ED25519 " again\n"
	    "%s\n"
	    "proxy-proto=3 ecdsa-sha2-nistp384 " P384 "\n"
	    "sk-ssh-ed25519@openssh.com " SK_ED25519 " sk\n"
	    "sk-ssh-ed25519@openssh.com " SK_ED25519 " sk again\n"
	    "max-tunnels=2 ssh-rsa " RSA " last, no newline", longline), -1);
	path = tg_write(dir, "keys", body);
	kf = keyfile_load(path, &cause);
	ck_assert_msg(kf != NULL, "%s", cause);
	check_problems(kf, path, problems, sizeof problems / sizeof problems[0]);

	ck_assert_uint_eq(keyfile_count(kf), 4);
	ck_assert_int_eq(keyfile_get(kf, 0)->line, 3);
	ck_assert_str_eq(keyfile_get(kf, 0)->account, "alice");
	ck_assert_int_eq(keyfile_get(kf, 1)->line, 5);
	ck_assert_str_eq(keyfile_get(kf, 1)->type, "ecdsa-sha2-nistp256");
	ck_assert_ptr_null(keyfile_get(kf, 1)->comment);
	ck_assert_int_eq(keyfile_get(kf, 2)->line, 9);
	ck_assert_int_eq(keyfile_get(kf, 3)->line, 11);
	ck_assert_str_eq(keyfile_get(kf, 3)->comment, "last, no newline");
	ck_assert_int_eq(keyfile_get(kf, 3)->opts.max_tunnels, 2);
	ck_assert_ptr_null(keyfile_get(kf, 4));

	/* Found by key: the first of two duplicate lines wins. */
	ck_assert_int_eq(ssh_pki_import_pubkey_base64(ED25519, SSH_KEYTYPE_ED25519, &key), SSH_OK);
	ke = keyfile_find(kf, key);
	ck_assert_ptr_nonnull(ke);
	ck_assert_int_eq(ke->line, 3);
	ck_assert_str_eq(ke->account, "alice");
	ssh_key_free(key);
	ck_assert_int_eq(ssh_pki_import_pubkey_base64(RSA, SSH_KEYTYPE_RSA, &key), SSH_OK);
	ck_assert_int_eq(keyfile_find(kf, key)->line, 11);
	ssh_key_free(key);
	/* Lines that were skipped are not found. */
	ck_assert_int_eq(ssh_pki_import_pubkey_base64(P384, SSH_KEYTYPE_ECDSA_P384, &key), SSH_OK);
	ck_assert_ptr_null(keyfile_find(kf, key));
	ck_assert_ptr_null(keyfile_find(NULL, key));
	ssh_key_free(key);
	ck_assert_ptr_null(keyfile_find(kf, NULL));

	keyfile_free(kf);
	free(longline);
	free(body);
	free(path);
}
END_TEST

/* Every key type is found by its own key and by no other, sk- and plain twins included. */
START_TEST(test_find)
{
	const char		*dir = tg_tmpdir();
	const struct keyent	*ke;
	struct keyfile		*kf;
	char			*body = NULL, *line, *path, *cause = NULL;
	size_t			 i, n = sizeof types / sizeof types[0], len = 0;
	ssh_key			 key, other;

	for (i = 0; i < n; i++) {
		ck_assert_int_ne(asprintf(&line, "account=\"a%zu\" %s %s k%zu\n", i, types[i].type,
		    types[i].b64, i), -1);
		body = realloc(body, len + strlen(line) + 1);
		ck_assert_ptr_nonnull(body);
		memcpy(body + len, line, strlen(line) + 1);
		len += strlen(line);
		free(line);
	}
	path = tg_write(dir, "keys", body);
	kf = keyfile_load(path, &cause);
	ck_assert_msg(kf != NULL, "%s", cause);
	ck_assert_uint_eq(keyfile_nproblems(kf), 0);
	ck_assert_uint_eq(keyfile_count(kf), n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ssh_pki_import_pubkey_base64(types[i].b64,
		    ssh_key_type_from_name(types[i].type), &key), SSH_OK);
		ke = keyfile_find(kf, key);
		ck_assert_msg(ke != NULL, "%s not found", types[i].type);
		ck_assert_int_eq(ke->line, (int)i + 1);
		ck_assert_str_eq(ke->fingerprint, types[i].fingerprint);
		ssh_key_free(key);
	}
	other = generate();
	ck_assert_ptr_null(keyfile_find(kf, other));
	ssh_key_free(other);
	keyfile_free(kf);
	free(body);
	free(path);
}
END_TEST

/* An empty file loads with no keys and no problems. */
START_TEST(test_empty_file)
{
	struct keyfile	*kf;
	char		*path, *cause = NULL;
	ssh_key		 key;

	path = tg_write(tg_tmpdir(), "keys", "");
	kf = keyfile_load(path, &cause);
	ck_assert_ptr_nonnull(kf);
	ck_assert_uint_eq(keyfile_count(kf), 0);
	ck_assert_uint_eq(keyfile_nproblems(kf), 0);
	ck_assert_ptr_null(keyfile_get(kf, 0));
	key = generate();
	ck_assert_ptr_null(keyfile_find(kf, key));
	ssh_key_free(key);
	keyfile_free(kf);
	keyfile_free(NULL);
	keyent_free(NULL);
	free(path);
}
END_TEST

/* A missing file: NULL and "PATH: cannot open: No such file or directory". */
START_TEST(test_missing_file)
{
	char		*path, *cause = NULL, *want;

	ck_assert_int_ne(asprintf(&path, "%s/nope", tg_tmpdir()), -1);
	ck_assert_ptr_null(keyfile_load(path, &cause));
	ck_assert_int_ne(asprintf(&want, "%s: cannot open: No such file or directory", path), -1);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	free(path);
}
END_TEST

/* A folder in place of the file cannot be read, and says so. */
START_TEST(test_folder_as_file)
{
	const char	*dir = tg_tmpdir();
	char		*cause = NULL, *want;

	ck_assert_ptr_null(keyfile_load(dir, &cause));
	ck_assert_ptr_nonnull(cause);
	ck_assert_int_ne(asprintf(&want, "%s: cannot read: Is a directory", dir), -1);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
}
END_TEST

/* A NUL byte spoils its line only; the next line still loads. */
START_TEST(test_nul_byte)
{
	static const char	 body[] = "ssh-ed25519 " ED25519 " com\0ment\nssh-rsa " RSA "\n";
	struct keyfile		*kf;
	char			*path, *cause = NULL, *want;
	FILE			*fp;

	ck_assert_int_ne(asprintf(&path, "%s/keys", tg_tmpdir()), -1);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(body, 1, sizeof body - 1, fp), sizeof body - 1);
	ck_assert_int_eq(fclose(fp), 0);
	kf = keyfile_load(path, &cause);
	ck_assert_ptr_nonnull(kf);
	ck_assert_uint_eq(keyfile_count(kf), 1);
	ck_assert_int_eq(keyfile_get(kf, 0)->line, 2);
	ck_assert_uint_eq(keyfile_nproblems(kf), 1);
	ck_assert_int_ne(asprintf(&want, "%s:1: line holds a NUL byte", path), -1);
	ck_assert_str_eq(keyfile_problem(kf, 0), want);
	free(want);
	keyfile_free(kf);
	free(path);
}
END_TEST

/* A file of garbage lists its first problems and counts the rest. */
START_TEST(test_many_problems)
{
	const char	*dir = tg_tmpdir();
	struct keyfile	*kf;
	char		*body, *path, *cause = NULL, *want;
	size_t		 i, n = 1500;

	body = malloc(n * 6 + 1);
	ck_assert_ptr_nonnull(body);
	for (i = 0; i < n; i++)
		memcpy(body + i * 6, "junk\n\n", 6);
	body[n * 6] = '\0';
	path = tg_write(dir, "keys", body);
	kf = keyfile_load(path, &cause);
	ck_assert_ptr_nonnull(kf);
	ck_assert_uint_eq(keyfile_count(kf), 0);
	ck_assert_uint_eq(keyfile_nproblems(kf), 1001);
	ck_assert_int_ne(asprintf(&want, "%s:1: unknown option 'junk'", path), -1);
	ck_assert_str_eq(keyfile_problem(kf, 0), want);
	free(want);
	ck_assert_int_ne(asprintf(&want, "%s:1999: unknown option 'junk'", path), -1);
	ck_assert_str_eq(keyfile_problem(kf, 999), want);
	free(want);
	ck_assert_int_ne(asprintf(&want, "%s: 500 more problems not listed", path), -1);
	ck_assert_str_eq(keyfile_problem(kf, 1000), want);
	free(want);
	keyfile_free(kf);
	free(body);
	free(path);
}
END_TEST

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec	 ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 5,000 generated keys load quickly, each is found, and a stranger is not. */
START_TEST(test_many_keys)
{
	enum { NKEYS = 5000 };
	const char		*dir = tg_tmpdir();
	const struct keyent	*ke;
	struct keyfile		*kf;
	ssh_key			*keys, other;
	char			*path, *line, *cause = NULL, opts[64], comment[32];
	FILE			*fp;
	double			 start, took;
	size_t			 i;

	keys = calloc(NKEYS, sizeof *keys);
	ck_assert_ptr_nonnull(keys);
	ck_assert_int_ne(asprintf(&path, "%s/keys", dir), -1);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	for (i = 0; i < NKEYS; i++) {
		keys[i] = generate();
		snprintf(opts, sizeof opts, "account=\"user%zu\",max-tunnels=%zu", i, i % 10);
		snprintf(comment, sizeof comment, "key %zu", i);
		line = key_line(keys[i], opts, comment);
		ck_assert_int_ne(fputs(line, fp), EOF);
		free(line);
	}
	ck_assert_int_eq(fclose(fp), 0);

	start = now();
	kf = keyfile_load(path, &cause);
	ck_assert_msg(kf != NULL, "%s", cause);
	ck_assert_uint_eq(keyfile_count(kf), NKEYS);
	ck_assert_uint_eq(keyfile_nproblems(kf), 0);
	for (i = 0; i < NKEYS; i++) {
		ke = keyfile_find(kf, keys[i]);
		ck_assert_ptr_nonnull(ke);
		ck_assert_int_eq(ke->line, (int)i + 1);
		ck_assert_int_eq(ke->opts.max_tunnels, (int)(i % 10));
		ck_assert_int_eq(strncmp(ke->account, "user", 4), 0);
		ck_assert_int_eq(atoi(ke->account + 4), (int)i);
	}
	took = now() - start;
	ck_assert_msg(took < 2.0, "loading and finding %d keys took %.2f s", NKEYS, took);

	other = generate();
	ck_assert_ptr_null(keyfile_find(kf, other));
	ssh_key_free(other);
	for (i = 0; i < NKEYS; i++)
		ssh_key_free(keys[i]);
	free(keys);
	keyfile_free(kf);
	free(path);
}
END_TEST

/* The keys suite. */
static Suite *
keys_suite(void)
{
	Suite	*s = suite_create("keys");
	TCase	*tc = tcase_create("line");
	TCase	*tf = tcase_create("file");

	tcase_add_loop_test(tc, test_key_types, 0, (int)(sizeof types / sizeof types[0]));
	tcase_add_test(tc, test_no_comment);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_option_case);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_restrictions);
	tcase_add_test(tc, test_blank_and_comment);
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, test_long_line);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, NULL, tg_cleanup);
	tcase_add_test(tf, test_file);
	tcase_add_test(tf, test_find);
	tcase_add_test(tf, test_empty_file);
	tcase_add_test(tf, test_missing_file);
	tcase_add_test(tf, test_folder_as_file);
	tcase_add_test(tf, test_nul_byte);
	tcase_add_test(tf, test_many_problems);
	tcase_add_test(tf, test_many_keys);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	return tg_run(keys_suite());
}
