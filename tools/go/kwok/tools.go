//go:build tools

// Package tools names the commands scripts/build-go-tools builds from this
// module (see tools/go/tools.conf); the blank imports keep `go mod tidy`
// from dropping their requirements. Nothing here is compiled into them.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
