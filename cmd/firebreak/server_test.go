package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shortLimits are serverLimits scaled down so the tests wait seconds.
var shortLimits = httpLimits{ReadHeader: 500 * time.Millisecond, Read: time.Second, Write: time.Second,
	Idle: 2 * time.Second, MaxHeaderBytes: 4 << 10}

// serveLimited serves h with limits l on a free port of 127.0.0.1 until
// the test ends, and returns the address.
func serveLimited(tb testing.TB, h http.Handler, l httpLimits) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := newHTTPServer(h, l)
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// closedWithin reports how long the server took to end conn (reading
// whatever it answered), or false when it kept it open past limit.
func closedWithin(conn net.Conn, limit time.Duration, start time.Time) (time.Duration, bool) {
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	took := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return took, false
	}
	return took, true
}

// TestSlowClientsAreCutOff: a client trickling its body a byte at a time,
// or its headers, is disconnected once the read deadline passes, however
// many there are.
func TestSlowClientsAreCutOff(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body read: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	addr := serveLimited(t, handler, shortLimits)
	tests := []struct {
		name  string
		head  string // sent at once
		drip  string // then a byte every 100 ms
		limit time.Duration
	}{
		{"slow body", "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n",
			strings.Repeat("a", 500), shortLimits.Read},
		{"slow headers", "GET /readyz HTTP/1.1\r\n", strings.Repeat("X-Slow: 1\r\n", 100), shortLimits.ReadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const clients = 20
			errs := make(chan error, clients)
			for range clients {
				go func() {
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						errs <- err
						return
					}
					defer conn.Close()
					start := time.Now()
					if _, err := io.WriteString(conn, tt.head); err != nil {
						errs <- err
						return
					}
					go func() {
						for i := range len(tt.drip) {
							if _, err := conn.Write([]byte{tt.drip[i]}); err != nil {
								return
							}
							time.Sleep(100 * time.Millisecond)
						}
					}()
					allowed := tt.limit + 750*time.Millisecond
					if took, ok := closedWithin(conn, allowed, start); !ok {
						errs <- fmt.Errorf("connection still open after %s, want it closed within %s", took.Round(time.Millisecond), allowed)
						return
					}
					errs <- nil
				}()
			}
			for range clients {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	addr := serveLimited(t, http.NotFoundHandler(), shortLimits)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("b", 8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("got HTTP %d, want 431", resp.StatusCode)
	}
}

// TestEventStreamOutlivesWriteTimeout: the board's event stream lifts the
// write deadline for itself, so an event after the server's WriteTimeout
// still arrives on the open stream.
func TestEventStreamOutlivesWriteTimeout(t *testing.T) {
	a := mustApp(t, Config{TimeScale: 1})
	mux := http.NewServeMux()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := setupWeb(ctx, a, Config{}, mux, true); err != nil {
		t.Fatal(err)
	}
	addr := serveLimited(t, mux, shortLimits)

	resp, err := http.Get("http://" + addr + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/events: got HTTP %d, want 200", resp.StatusCode)
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
		close(events)
	}()
	wait := func(name string, within time.Duration) {
		t.Helper()
		timeout := time.After(within)
		for {
			select {
			case got, ok := <-events:
				if !ok {
					t.Fatalf("the event stream ended before %q", name)
				}
				if got == name {
					return
				}
			case <-timeout:
				t.Fatalf("no %q event within %s", name, within)
			}
		}
	}
	wait("ready", 2*time.Second)
	time.Sleep(shortLimits.Write + 500*time.Millisecond)
	cmd, err := http.Post("http://"+addr+"/api/v1/playground/command", "application/json",
		strings.NewReader(`{"actor": "chen", "text": "/incident help"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Body.Close()
	if cmd.StatusCode != http.StatusOK {
		t.Fatalf("playground command: got HTTP %d, want 200", cmd.StatusCode)
	}
	wait("changed", 2*time.Second)
}

// TestNoWebSenderWithoutAPage: with neither the playground nor a board
// token no page can show a notice, and no web dispatcher delivers them
// (each would cost Redis four round trips); with either, one does.
func TestNoWebSenderWithoutAPage(t *testing.T) {
	a := mustApp(t, Config{TimeScale: 1})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, tt := range []struct {
		name       string
		cfg        Config
		playground bool
		want       bool
	}{
		{"neither", Config{}, false, false},
		{"board", Config{BoardToken: "s3cret-board-token"}, false, true},
		{"playground", Config{}, true, true},
	} {
		sender, err := setupWeb(ctx, a, tt.cfg, http.NewServeMux(), tt.playground)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := sender != nil; got != tt.want {
			t.Errorf("%s: web sender %v, want %v", tt.name, got, tt.want)
		}
	}
}
