package command

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Version says what this binary is, from the Go build info: the module version (a pseudo-version naming the
// commit when built from a git checkout), the commit and its time, whether the tree had uncommitted changes,
// and the Go version. Go records no build time, and a link-time stamp would make every build differ (the image
// builder relies on reproducible binaries), so "built" is the executable's modification time: when `go build`
// wrote it.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module support)"
	}
	return describe(bi, builtAt())
}

func describe(bi *debug.BuildInfo, built time.Time) string {
	setting := map[string]string{}
	for _, s := range bi.Settings {
		setting[s.Key] = s.Value
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var parts []string
	if rev := setting["vcs.revision"]; rev != "" {
		commit := "commit " + rev
		if setting["vcs.modified"] == "true" {
			commit += " with uncommitted changes"
		}
		parts = append(parts, commit)
	} else {
		parts = append(parts, "commit unknown")
	}
	if t := setting["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	if !built.IsZero() {
		parts = append(parts, "built "+built.UTC().Format(time.RFC3339))
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	parts = append(parts, fmt.Sprintf("%s %s/%s", goVersion, runtime.GOOS, runtime.GOARCH))
	return version + " (" + strings.Join(parts, ", ") + ")"
}

func builtAt() time.Time {
	exe, err := os.Executable()
	if err != nil {
		return time.Time{}
	}
	st, err := os.Stat(exe)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
