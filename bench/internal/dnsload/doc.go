// Package dnsload is the interface between bench/network and its DNS load
// generator, bench/network/dnsload, which runs inside a container and
// prints one Result as a JSON line on stdout.
package dnsload
