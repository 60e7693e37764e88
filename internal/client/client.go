package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// APIVersion is the version prefix of every request.
const APIVersion = "1.50"

// DefaultHost is the daemon's address when none is given.
const DefaultHost = "unix:///run/shoal/shoal.sock"

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	host  string // as given: for messages
	proto string // "unix" or "tcp"
	addr  string // socket path or host:port
	http  *http.Client
	// version is the API version requests use: APIVersion, or an older
	// daemon's maximum once it has said so.
	version atomic.Pointer[string]
}

// New returns a client of the daemon at host: unix:///path or
// tcp://host:port. Nothing is dialled until the first request.
func New(host string) (*Client, error) {
	if host == "" {
		host = DefaultHost
	}
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		return nil, fmt.Errorf("invalid daemon address %q: want unix:///path or tcp://host:port", host)
	}
	switch proto {
	case "unix":
		if addr == "" {
			return nil, fmt.Errorf("invalid daemon address %q: no socket path", host)
		}
	case "tcp", "http":
		proto = "tcp"
		addr = strings.TrimSuffix(addr, "/")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("invalid daemon address %q: %w", host, err)
		}
	default:
		return nil, fmt.Errorf("invalid daemon address %q: protocol %q is not supported (want unix:// or tcp://)", host, proto)
	}
	c := &Client{host: host, proto: proto, addr: addr}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.dial(ctx)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// Host is the daemon's address as given to New.
func (c *Client) Host() string { return c.host }

// Close drops idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.proto, c.addr)
	if err != nil {
		return nil, &ConnectError{Host: c.host, Err: err}
	}
	return conn, nil
}

// url is the request URL of path (which starts with "/") under the
// version prefix.
func (c *Client) url(path string, q url.Values) string {
	host := "shoal"
	if c.proto == "tcp" {
		host = c.addr
	}
	u := url.URL{Scheme: "http", Host: host, Path: "/v" + c.apiVersion() + path}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// apiVersion is the version prefix requests use.
func (c *Client) apiVersion() string {
	if v := c.version.Load(); v != nil {
		return *v
	}
	return APIVersion
}

// tooNew matches an older daemon's refusal of the client's API version
// (dockerd: "client version 1.50 is too new. Maximum supported API
// version is 1.41").
var tooNew = regexp.MustCompile(`^client version \S+ is too new\. Maximum supported API version is (1\.[0-9]+)$`)

// downgrade makes later requests use the older daemon's version, if err
// is its refusal of ours, and says whether it did.
func (c *Client) downgrade(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest {
		return false
	}
	m := tooNew.FindStringSubmatch(strings.TrimSpace(e.Message))
	if m == nil || m[1] == c.apiVersion() {
		return false
	}
	v := m[1]
	c.version.Store(&v)
	return true
}

// Request is one API call.
type Request struct {
	Method string
	// Path is the endpoint without the version prefix: "/containers/json".
	Path   string
	Query  url.Values
	Header http.Header
	// Body is sent as it is; JSON, if set, is encoded as the body instead.
	Body io.Reader
	JSON any
}

// Do sends r and returns the response of a successful request (status
// below 400), whose body the caller closes. A failed request is an *Error;
// an unreachable daemon a *ConnectError.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ce *ConnectError
		if errors.As(err, &ce) {
			return nil, ce
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	if resp.StatusCode >= 400 {
		err := errorFromResponse(resp)
		resp.Body.Close()
		// An older daemon: speak its version, as the docker CLI
		// negotiates, and send again when the body can be sent again.
		if c.downgrade(err) && r.Body == nil {
			return c.Do(ctx, r)
		}
		return nil, err
	}
	return resp, nil
}

func (c *Client) newRequest(ctx context.Context, r Request) (*http.Request, error) {
	body := r.Body
	if r.JSON != nil {
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, fmt.Errorf("encode %s request: %w", r.Path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.url(r.Path, r.Query), body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if r.JSON != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "shoal-cli")
	return req, nil
}

// errorFromResponse reads the daemon's {"message"} (or, from a proxy or an
// old daemon, a text body).
func errorFromResponse(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	msg := ""
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		msg = e.Message
	} else {
		msg = strings.TrimSpace(string(b))
	}
	if msg == "" {
		msg = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return &Error{StatusCode: resp.StatusCode, Message: msg}
}

// get decodes the JSON answer of GET path into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, Request{Method: http.MethodGet, Path: path, Query: q}, out)
}

// call sends r and decodes a JSON answer into out, if out is not nil.
func (c *Client) call(ctx context.Context, r Request, out any) error {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", r.Method, r.Path, err)
	}
	return nil
}

// getRaw returns the body of GET path and decodes it into out too.
func (c *Client) getRaw(ctx context.Context, path string, out any) ([]byte, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer of GET %s: %w", path, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("decode answer of GET %s: %w", path, err)
	}
	return b, nil
}

// Ping checks the daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, Request{Method: http.MethodGet, Path: "/_ping"}, nil)
}

// Conn is a connection taken over for an attach or exec stream.
type Conn struct {
	net.Conn
	// Reader reads the stream: what the HTTP reader had buffered first.
	Reader *bufio.Reader
	// Tty says the stream is raw (a terminal), not multiplexed.
	Tty bool
}

// Read reads the stream.
func (c *Conn) Read(p []byte) (int, error) { return c.Reader.Read(p) }

// CloseWrite half-closes the connection: the daemon sees the end of stdin.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Hijack sends r asking for the connection to be upgraded to a raw stream
// and returns the connection once the daemon has agreed (101, or 200 from
// older daemons).
func (c *Client) Hijack(ctx context.Context, r Request) (*Conn, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	// The request is written by hand: the HTTP client would not give the
	// connection back.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: read answer: %w", r.Method, r.Path, err)
	}
	if resp.StatusCode >= 400 {
		err := errorFromResponse(resp)
		resp.Body.Close()
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		conn.Close()
		return nil, fmt.Errorf("%s %s: unexpected answer %s to an upgrade", r.Method, r.Path, resp.Status)
	}
	tty := resp.Header.Get("Content-Type") == "application/vnd.docker.raw-stream"
	return &Conn{Conn: conn, Reader: br, Tty: tty}, nil
}
