//go:build tools

package deps

import (
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/expr-lang/expr"
	_ "github.com/open-feature/go-sdk/openfeature"
	_ "github.com/prometheus/client_golang/api/prometheus/v1"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/common/config"
	_ "github.com/prometheus/common/model"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sync/errgroup"
	_ "pgregory.net/rapid"
)
