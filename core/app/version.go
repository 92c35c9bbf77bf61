package app

import "runtime/debug"

// version is set at link time:
//
//	go build -ldflags "-X github.com/hookd/hookd/core/app.version=v1.2.3" ./cmd/hookd
var version = ""

// Version returns hookd's version: the link-time value, else the module
// version of the build, else "dev". It goes into the User-Agent of
// deliveries (hookd/<version>) and /healthz.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
