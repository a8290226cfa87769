/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the table through which a tunnel's bridges drive their forwarded-tcpip channels
 * (struct bridge_channel_ops over sshgw_channel_*), so that src/bridge.c needs no SSH layer.
 */
#include "config.h"

#include "bridge.h"
#include "sshgw.h"
#include "tunnel.h"

/* Open a forwarded-tcpip channel of session owner; see sshgw_channel_open(). */
static void *
tunnel_channel_open(void *owner, const char *address, int port, const char *orig_ip,
    int orig_port, const struct sshgw_channel_events *ev, void *arg)
{
	return sshgw_channel_open(owner, address, port, orig_ip, orig_port, ev, arg);
}

/* Send data to the client; see sshgw_channel_write(). */
static ssize_t
tunnel_channel_write(void *ch, const void *buf, size_t len)
{
	return sshgw_channel_write(ch, buf, len);
}

/* Return how much the client's window takes now; see sshgw_channel_window(). */
static size_t
tunnel_channel_window(void *ch)
{
	return sshgw_channel_window(ch);
}

/* Take bytes libssh holds for the bridge; see sshgw_channel_read(). */
static ssize_t
tunnel_channel_read(void *ch, void *buf, size_t len)
{
	return sshgw_channel_read(ch, buf, len);
}

/* Return how many bytes libssh holds for the bridge. */
static size_t
tunnel_channel_pending(void *ch)
{
	return sshgw_channel_pending(ch);
}

/* Tell the channel how many of its bytes the bridge holds. */
static void
tunnel_channel_backlog(void *ch, size_t len)
{
	sshgw_channel_backlog(ch, len);
}

/* Tell the client the public side sends no more. */
static void
tunnel_channel_eof(void *ch)
{
	sshgw_channel_eof(ch);
}

/* Close and free the channel. */
static void
tunnel_channel_free(void *ch)
{
	sshgw_channel_free(ch);
}

/* Is the session's command, whose options may ask for a PROXY header, still to come. */
static int
tunnel_channel_command_pending(void *ch)
{
	return sshgw_channel_command_pending(ch);
}

const struct bridge_channel_ops tunnel_channel_ops = {
	.open = tunnel_channel_open,
	.write = tunnel_channel_write,
	.window = tunnel_channel_window,
	.read = tunnel_channel_read,
	.pending = tunnel_channel_pending,
	.backlog = tunnel_channel_backlog,
	.eof = tunnel_channel_eof,
	.free = tunnel_channel_free,
	.command_pending = tunnel_channel_command_pending,
};
