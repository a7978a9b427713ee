// Package promserver starts a real Prometheus server for glidepath's
// integration tests and examples: Debian's prometheus binary on a free
// loopback port, scraping the given targets every second, with its
// configuration and storage in a temporary directory that Stop removes.
package promserver
