// Package promqlcheck holds tests only: it checks glidepath's query
// templates against the real PromQL parser. It is a module of its own so
// that the library's go.mod does not depend on the Prometheus server
// module.
package promqlcheck
