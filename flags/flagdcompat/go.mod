module github.com/glidepath/glidepath/flags/flagdcompat

go 1.26.0

replace github.com/glidepath/glidepath => ../..

require (
	github.com/diegoholiveira/jsonlogic/v3 v3.9.1
	github.com/glidepath/glidepath v0.0.0-00010101000000-000000000000
	github.com/open-feature/go-sdk v1.20.0
	golang.org/x/mod v0.41.0
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	go.uber.org/mock v0.6.0 // indirect
)
