// Package scenarios ships loadgen's ready-made scenario files inside the binary, so a run can name one
// without a checkout beside it.
package scenarios

import "embed"

// FS holds every shipped scenario as NAME.yaml at its root.
//
//go:embed *.yaml
var FS embed.FS
