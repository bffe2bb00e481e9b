package command

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	built := time.Date(2026, 11, 26, 7, 40, 12, 0, time.UTC)
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "4ddab74555af"}, {Key: "vcs.time", Value: "2026-11-26T07:02:30Z"}}
	tests := []struct {
		name  string
		bi    debug.BuildInfo
		built time.Time
		want  string
	}{
		{"from a checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261126070230-4ddab74555af"}, Settings: vcs}, built,
			"v0.0.0-20261126070230-4ddab74555af (commit 4ddab74555af, committed 2026-11-26T07:02:30Z, built 2026-11-26T07:40:12Z, go1.26.8 "},
		{"uncommitted changes", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3+dirty"},
			Settings: append([]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, vcs...)}, built,
			"v1.2.3+dirty (commit 4ddab74555af with uncommitted changes, committed 2026-11-26T07:02:30Z, built "},
		{"without vcs stamping", debug.BuildInfo{GoVersion: "go1.26.8"}, time.Time{}, "(devel) (commit unknown, go1.26.8 "},
	}
	for _, tt := range tests {
		if got := describe(&tt.bi, tt.built); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want it to start with %q", tt.name, got, tt.want)
		}
	}
}
