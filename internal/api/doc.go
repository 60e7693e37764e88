// Package api serves the Docker Engine API over HTTP: routing, request
// decoding, API version negotiation and the mapping of error classes to
// HTTP status codes (in errors.go, and nowhere else).
//
// Handlers call small interfaces declared here (ImageBackend) rather than
// concrete services; cmd/shoal wires the concrete ones in and asserts at
// compile time that they fit.
//
// Glossary: the "API version" is the Docker Engine API version a request
// asks for in its path prefix (/v1.50/...); a request without a prefix
// gets MaxAPIVersion, as with dockerd. A "name" in an image path is
// anything the image service resolves: a reference, a full ID or an ID
// prefix; references may contain slashes, so image routes are matched by
// suffix (see route in api.go).
//
// Caveats: only the image endpoints, /_ping, /version and /info exist so
// far; everything else answers 404 "page not found" as dockerd does for an
// unknown path.
package api
