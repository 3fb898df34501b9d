// Package web serves Firebreak's HTTP endpoints that belong to no chat
// platform: health and readiness probes and metrics (Health); the
// playground, a third chat platform in the browser with its outbox Sender;
// the live incident board and incident pages; the JSON API under /api/v1/
// and its Server-Sent Events stream (Server). The pages' scripts and styles
// are embedded; they build the page with textContent only and run under a
// strict Content-Security-Policy.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Pinger checks that a dependency answers and, for Redis, takes writes.
// An error with a method ReadOnly() bool that reports true means Redis
// answers but refuses writes (a replica).
type Pinger interface {
	Ping(ctx context.Context) error
}

// readOnly reports whether err says Redis refuses writes.
func readOnly(err error) bool {
	var ro interface{ ReadOnly() bool }
	return errors.As(err, &ro) && ro.ReadOnly()
}

// readyTimeout is how long /readyz waits for Redis.
var readyTimeout = 2 * time.Second

// Health registers GET /healthz (the process runs), GET /readyz (503 while
// Redis does not answer or does not take writes) and GET /metrics, served by
// metrics (the Prometheus exposition: bot.Metrics.Handler), on mux.
func Health(mux *http.ServeMux, redis Pinger, metrics http.Handler, log *slog.Logger) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// bounded, not only a context deadline: a Pinger on go-redis
		// ignores the deadline, and a probe that hangs is no answer.
		if _, err := bounded(r.Context(), readyTimeout, "ping redis", func(ctx context.Context) (struct{}, error) {
			return struct{}{}, redis.Ping(ctx)
		}); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			if readOnly(err) {
				log.Warn("not ready: redis refuses writes (a read-only replica)", "err", err)
				fmt.Fprintln(w, "redis is read-only (a replica) / Redis 为只读副本，不接受写入")
				return
			}
			log.Warn("not ready: redis does not answer", "err", err)
			fmt.Fprintln(w, "redis unavailable / Redis 不可用")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", metrics)
}
