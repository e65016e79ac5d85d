//go:build tools

// Package tools names the command scripts/build-go-tools builds from this
// module (see tools/go/tools.conf); the blank import keeps `go mod tidy`
// from dropping its requirements. Nothing here is compiled into it.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
