// Package client is a small Docker Engine API client: what the shoal CLI
// needs to drive a daemon (Shoal's or dockerd) and nothing more. It speaks
// HTTP/1.1 over a unix socket or plain TCP, always under the version prefix
// /v1.50.
//
// # Errors
//
// A daemon answers a failed request with a status and {"message": "..."}.
// Such an answer becomes an *Error whose text is Docker's ("Error response
// from daemon: <message>") and which unwraps to the errdefs class of the
// status (404 is errdefs.ErrNotFound, 409 errdefs.ErrConflict, ...), so
// callers test errdefs.IsNotFound(err) and never the text. A daemon that
// cannot be reached at all is a *ConnectError.
//
// # Streams
//
// Attach and exec take over the connection (Upgrade: tcp): Hijack returns
// it as a *Conn, whose reads come first from what the HTTP reader had
// already buffered. Without a terminal the daemon multiplexes stdout and
// stderr on one stream in frames of an 8-byte header and a payload:
//
//	+--------+-------+-------+-------+-------------------------------+
//	| stream |   0   |   0   |   0   | size (uint32, big endian)      |
//	+--------+-------+-------+-------+-------------------------------+
//	| size bytes of payload ...                                       |
//
// where stream is 0 (stdin), 1 (stdout), 2 (stderr) or 3 (systemerr: a
// message from the daemon, returned as an error). Demux splits such a
// stream; logs use the same frames.
//
// The wire types are moby's (github.com/moby/moby/api/types/...), so the
// same structs decode Shoal's and dockerd's answers.
package client
