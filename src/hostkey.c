/* SPDX-License-Identifier: ISC */
/* tunnelgw: SSH host keys: created on first start, checked before every use. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "hostkey.h"
#include "log.h"
#include "xmalloc.h"

/* Check that path is a private key file only its owner can read, and that it loads. */
static int
hostkey_verify(const char *path, ssh_key *out, char **cause)
{
	struct stat	 sb;
	ssh_key		 key = NULL;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "host key %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		xasprintf(cause, "host key %s: not a regular file", path);
		close(fd);
		return -1;
	}
	close(fd);
	if ((sb.st_mode & 077) != 0) {
		xasprintf(cause, "host key %s: permissions %04o are too open; it must be readable "
		    "by its owner only (chmod 600)", path, (unsigned int)(sb.st_mode & 07777));
		return -1;
	}
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
		xasprintf(cause, "host key %s: not an unencrypted private key in a format "
		    "libssh reads (OpenSSH or PEM)", path);
		return -1;
	}
	if (out != NULL)
		*out = key;
	else
		ssh_key_free(key);
	return 0;
}

/* Check a host key for `tunnelgw -t`: present and usable, or absent in a writable folder. */
int
hostkey_check(const char *path, char **cause)
{
	char	*dir, *slash;
	int	 rc;

	if (access(path, F_OK) == 0 || errno != ENOENT)
		return hostkey_verify(path, NULL, cause);
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	rc = access(dir, W_OK | X_OK);
	if (rc == -1)
		xasprintf(cause, "host key %s is missing and cannot be created in %s: %s", path,
		    dir, strerror(errno));
	free(dir);
	return rc == -1 ? -1 : 0;
}

/* The key types a missing host key file may be created as, told apart by its file name. */
static const struct hostkey_type {
	const char		*word;		/* in the file name, as in ssh_host_rsa_key */
	const char		*name;
	enum ssh_keytypes_e	 type;
	int			 bits;
} hostkey_types[] = {
	{ "ecdsa", "ecdsa", SSH_KEYTYPE_ECDSA_P256, 256 },
	{ "rsa", "rsa", SSH_KEYTYPE_RSA, 3072 },
	{ "", "ed25519", SSH_KEYTYPE_ED25519, 0 },	/* anything else */
};

/*
 * Return the type a missing host key at path is created as: ECDSA (P-256) or RSA (3072 bits)
 * when the file's name says so, as sshd's ssh_host_ecdsa_key and ssh_host_rsa_key do, else
 * ed25519.
 */
static const struct hostkey_type *
hostkey_type_of(const char *path)
{
	const char	*base = strrchr(path, '/');
	size_t		 i;

	base = base != NULL ? base + 1 : path;
	for (i = 0; i < sizeof hostkey_types / sizeof hostkey_types[0] - 1; i++) {
		if (strstr(base, hostkey_types[i].word) != NULL)
			return &hostkey_types[i];
	}
	return &hostkey_types[i];
}

/* Write a new private key of type t to path, which must not exist, with mode 0600. */
static int
hostkey_create(const char *path, const struct hostkey_type *t, char **cause)
{
	ssh_key	 key = NULL;
	char	*b64 = NULL;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd = -1, rc = -1;

	if (ssh_pki_generate(t->type, t->bits, &key) != SSH_OK ||
	    ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
		xasprintf(cause, "host key %s: cannot generate an %s key", path, t->name);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		xasprintf(cause, "host key %s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	len = strlen(b64);
	while (off < len) {
		n = write(fd, b64 + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			xasprintf(cause, "host key %s: cannot write: %s", path, strerror(errno));
			unlink(path);
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		xasprintf(cause, "host key %s: cannot write: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	strfreezero(b64);
	ssh_key_free(key);
	return rc;
}

/*
 * Make sure the host key at path exists and loads, creating it when it is missing (of the
 * type its name says, see hostkey_type_of()); *fingerprint gets its SHA256 fingerprint.
 */
int
hostkey_ensure(const char *path, char **fingerprint, char **cause)
{
	const struct hostkey_type	*t = hostkey_type_of(path);
	ssh_key				 key = NULL;

	if (access(path, F_OK) == -1 && errno == ENOENT) {
		if (hostkey_create(path, t, cause) != 0)
			return -1;
		log_info("created host key %s (%s)", path, t->name);
	}
	if (hostkey_verify(path, &key, cause) != 0)
		return -1;
	if ((*fingerprint = keys_fingerprint(key)) == NULL)
		*fingerprint = xstrdup("?");
	ssh_key_free(key);
	return 0;
}
