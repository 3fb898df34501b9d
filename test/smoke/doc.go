// Package smoke is Firebreak's black-box smoke suite. It builds
// ./cmd/firebreak once, runs `firebreak serve` as a separate process on the
// real clock at a high FIREBREAK_TIME_SCALE against a Redis of its own and
// fake Slack and Telegram servers that speak the platforms' wire formats,
// drives it with signed Slack slash commands and Telegram webhook updates,
// and checks only what reaches the fake platforms (and /metrics): the
// warnings, overdue notices, follow-up requests, approval nudge, escalation
// and digest, none early, none late beyond pacing, none doubled or lost,
// also across a crash, a graceful restart and two replicas.
//
//	go test ./test/smoke/                                         # about a minute when it passes
//	FIREBREAK_SMOKE_BIN=/path/to/firebreak go test ./test/smoke/  # a binary built elsewhere (another commit)
//	FIREBREAK_SMOKE_VERBOSE=1 go test ./test/smoke/ -v            # also print what reached the fakes
//	FIREBREAK_SMOKE_LOAD=1 go test ./test/smoke/ -run Load -v     # the firing-delay benchmark (docs/benchmarks.md)
//
// The tests spend their time waiting on the wall clock, each with processes
// of its own, so they run side by side: -parallel defaults to 8 here.
//
// Redis: with CI=true a redis-server on PATH is required (the suite fails
// when it is missing); otherwise redis-server is used when it is on PATH,
// else an in-process miniredis, with one notice. Every test gets a server
// of its own on a free port: the binary has no key prefix, so the machine's
// own Redis (6379) is never touched.
//
// When a test fails, the tail of each process's stderr is logged and the
// whole of it is kept in a directory the run names at the end.
package smoke
