package pull

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Progress is one event in the pull of a blob, in the terms of Docker's
// progress stream.
type Progress struct {
	// ID is the short digest (12 hex digits) of the blob.
	ID string
	// Status is one of the Status* constants.
	Status string
	// Current is the bytes downloaded so far, resumed bytes included;
	// Total is the blob's size.
	Current, Total int64
}

// Statuses reported in Progress, as Docker words them.
const (
	StatusPullingFsLayer    = "Pulling fs layer"
	StatusDownloading       = "Downloading"
	StatusVerifyingChecksum = "Verifying Checksum"
	StatusDownloadComplete  = "Download complete"
	StatusAlreadyExists     = "Already exists"
)

// Opt configures Pull and Push.
type Opt func(*options)

type options struct {
	platform    string
	keychain    authn.Keychain
	auth        authn.Authenticator
	insecure    []string
	progress    func(Progress)
	concurrency int
	transport   http.RoundTripper
	userAgent   string
}

func newOptions(opts []Opt) *options {
	o := &options{keychain: authn.DefaultKeychain, concurrency: 3}
	for _, opt := range opts {
		opt(o)
	}
	if o.concurrency < 1 {
		o.concurrency = 1
	}
	return o
}

// WithPlatform picks the manifest for platform ("os/arch[/variant]") from
// an index instead of the host's.
func WithPlatform(platform string) Opt {
	return func(o *options) { o.platform = platform }
}

// WithAuth logs in with a user name and password (or an identity token as
// the password with user "<token>"), instead of the keychain.
func WithAuth(username, password string) Opt {
	return func(o *options) {
		o.auth = &authn.Basic{Username: username, Password: password}
		o.keychain = nil
	}
}

// WithKeychain looks credentials up in kc instead of authn.DefaultKeychain
// (~/.docker/config.json and its credential helpers).
func WithKeychain(kc authn.Keychain) Opt {
	return func(o *options) {
		o.keychain = kc
		o.auth = nil
	}
}

// WithInsecureRegistries allows plain HTTP, and HTTPS without certificate
// verification, for the registries named "host" or "host:port" (Docker's
// insecure-registries). Loopback registries are always allowed HTTP.
func WithInsecureRegistries(registries []string) Opt {
	return func(o *options) { o.insecure = append(o.insecure, registries...) }
}

// WithProgress reports progress to fn, one call at a time.
func WithProgress(fn func(Progress)) Opt {
	return func(o *options) { o.progress = fn }
}

// WithConcurrency sets how many layers are downloaded at once (default 3).
func WithConcurrency(n int) Opt {
	return func(o *options) { o.concurrency = n }
}

// WithTransport sets the HTTP transport under the plain-HTTP policy and
// authentication (default: a clone of http.DefaultTransport).
func WithTransport(rt http.RoundTripper) Opt {
	return func(o *options) { o.transport = rt }
}

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) Opt {
	return func(o *options) { o.userAgent = ua }
}
