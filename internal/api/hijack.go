package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
)

// hijackedConn is a connection taken over from the HTTP server for
// attach and exec streams; reads go through the server's buffer first.
type hijackedConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *hijackedConn) reader() io.Reader { return c.br }

// CloseWrite half-closes a unix or TCP connection.
func (c *hijackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hijack takes over the connection and answers as dockerd does: 101
// UPGRADED when the client asked for an upgrade, 200 otherwise.
func hijack(w http.ResponseWriter, r *http.Request, contentType string) (*hijackedConn, error) {
	if sw, ok := w.(*statusWriter); ok {
		sw.status = http.StatusSwitchingProtocols
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack connection: %w", err)
	}
	status := "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n\r\n"
	if r.Header.Get("Upgrade") != "" {
		status = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	}
	if _, err := conn.Write([]byte(status)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hijack connection: %w", err)
	}
	return &hijackedConn{Conn: conn, br: brw.Reader}, nil
}
