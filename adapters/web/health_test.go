package web_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/web"
)

func readyz(tb testing.TB, redis web.Pinger) (int, string) {
	tb.Helper()
	mux := http.NewServeMux()
	web.Health(mux, redis, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// TestReadyzRefusesReadOnlyReplica dials a real replica (redis-server
// --replicaof) directly: it answers PING and serves reads, but a Firebreak
// on it could write nothing, so it is not ready; its master is.
func TestReadyzRefusesReadOnlyReplica(t *testing.T) {
	redistest.RequireServers(t)
	master := redistest.StartServer(t)
	replica := redistest.StartReplica(t, master)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		srv      *redistest.Server
		wantCode int
		wantBody string
	}{
		{"master", master, http.StatusOK, "ready"},
		{"replica", replica, http.StatusServiceUnavailable, "redis is read-only (a replica) / Redis 为只读副本，不接受写入"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redis.Dial(ctx, tt.srv.URL())
			if err != nil {
				t.Fatalf("Dial %s: %v", tt.name, err)
			}
			t.Cleanup(func() { _ = c.Close() })
			code, body := readyz(t, redis.New(c, redis.Options{Prefix: "fbt:readyz"}))
			if code != tt.wantCode || strings.TrimSpace(body) != tt.wantBody {
				t.Errorf("GET /readyz: got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

// pinger fails with err.
type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

// readOnlyErr says Redis refused a write as a replica.
type readOnlyErr struct{}

func (readOnlyErr) Error() string  { return "READONLY You can't write against a read only replica." }
func (readOnlyErr) ReadOnly() bool { return true }

func TestReadyzSaysWhy(t *testing.T) {
	for _, tt := range []struct {
		name     string
		err      error
		wantCode int
		wantBody string
	}{
		{"ready", nil, http.StatusOK, "ready"},
		{"does not answer", errors.New("dial tcp: connection refused"), http.StatusServiceUnavailable, "redis unavailable / Redis 不可用"},
		{"read-only", readOnlyErr{}, http.StatusServiceUnavailable, "redis is read-only (a replica) / Redis 为只读副本，不接受写入"},
		{"read-only, wrapped", errors.Join(errors.New("write to redis"), readOnlyErr{}), http.StatusServiceUnavailable, "redis is read-only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := readyz(t, pinger{tt.err})
			if code != tt.wantCode || !strings.HasPrefix(body, tt.wantBody) {
				t.Errorf("GET /readyz: got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}
