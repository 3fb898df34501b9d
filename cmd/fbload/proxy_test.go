package main

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
)

func TestRespFramesAnyCut(t *testing.T) {
	stream := "*2\r\n$3\r\nGET\r\n$5\r\nfb:id\r\n" +
		"*3\r\n$7\r\nevalsha\r\n$40\r\n0123456789012345678901234567890123456789\r\n$1\r\n0\r\n" +
		"PING\r\n" +
		"*1\r\n$4\r\nEXEC\r\n"
	want := []string{"GET fb:id", "EVALSHA", "PING", "EXEC"}
	for cut := range len(stream) + 1 {
		for cut2 := cut; cut2 <= len(stream); cut2 += 7 {
			var f respFrames
			var got []string
			got = append(got, f.feed([]byte(stream[:cut]))...)
			got = append(got, f.feed([]byte(stream[cut:cut2]))...)
			got = append(got, f.feed([]byte(stream[cut2:]))...)
			if !slices.Equal(got, want) {
				t.Fatalf("cut at %d and %d: got %v, want %v", cut, cut2, got, want)
			}
		}
	}
}

func TestRespFramesNotRESP(t *testing.T) {
	var f respFrames
	got := f.feed([]byte("*2\r\n:1\r\n$3\r\nGET\r\n"))
	if !slices.Equal(got, []string{"(unparsed)"}) {
		t.Fatalf("got %v, want [(unparsed)]", got)
	}
	if got := f.feed([]byte("*1\r\n$4\r\nPING\r\n")); got != nil {
		t.Fatalf("after a broken frame: got %v, want nothing counted", got)
	}
}

// TestProxyCounts counts through the proxy in front of the test Redis: a
// command alone, a pipeline and a transaction are one round trip each.
func TestProxyCounts(t *testing.T) {
	u, err := url.Parse(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	opts.PoolSize = 1
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	// Dial first (HELLO and the rest of go-redis's handshake, which it
	// may do again for its first pipeline), so the table counts only its own.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pipelined(ctx, func(pipe goredis.Pipeliner) error { pipe.Ping(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TxPipelined(ctx, func(pipe goredis.Pipeliner) error { pipe.Ping(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		do              func() error
		trips, commands int64
		names           map[string]int64
	}{
		{"one command", func() error { return c.Get(ctx, prefix+":a").Err() }, 1, 1, map[string]int64{"GET": 1}},
		{"pipeline", func() error {
			_, err := c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
				for i := range 5 {
					pipe.Set(ctx, fmt.Sprintf("%s:%d", prefix, i), i, time.Minute)
				}
				return nil
			})
			return err
		}, 1, 5, map[string]int64{"SET": 5}},
		{"transaction", func() error {
			_, err := c.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
				pipe.Incr(ctx, prefix+":n")
				pipe.Incr(ctx, prefix+":n")
				return nil
			})
			return err
		}, 1, 4, map[string]int64{"MULTI": 1, "INCR": 2, "EXEC": 1}},
		{"two in a row", func() error {
			if err := c.Get(ctx, prefix+":a").Err(); err != nil && err != goredis.Nil {
				return err
			}
			return c.Get(ctx, prefix+":a").Err()
		}, 2, 2, map[string]int64{"GET": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := p.snapshot()
			if err := tt.do(); err != nil && err != goredis.Nil {
				t.Fatal(err)
			}
			d := p.snapshot().minus(before)
			if d.RoundTrips != tt.trips || d.Commands != tt.commands || !maps.Equal(d.ByName, tt.names) {
				t.Errorf("got %d round trips, %d commands %v (%d dials); want %d, %d %v",
					d.RoundTrips, d.Commands, d.ByName, d.Dials, tt.trips, tt.commands, tt.names)
			}
		})
	}
}

func TestCommandLabel(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"key", []string{"hget", "fb:{s07}:inc:YQ-1042", "v"}, "HGET fb:{s#}:inc:YQ-#"},
		{"script with keys", []string{"EVALSHA", "abc123", "2", "fb:{s15}:inc:YQ-9", "fb:{s15}:timers"}, "EVALSHA fb:{s#}:inc:YQ-#"},
		{"script without keys", []string{"EVALSHA", "abc123", "0", "x"}, "EVALSHA"},
		{"streams", []string{"XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "STREAMS", "fb:{s03}:outbox", "fb:{s04}:outbox", ">", ">"}, "XREADGROUP fb:{s#}:outbox"},
		{"no key", []string{"client", "setinfo", "lib-name", "go-redis"}, "CLIENT"},
		{"hash", []string{"SET", "fb:lock:slack:cmd:3e9a0cf17ddbe2b4", "1"}, "SET fb:lock:slack:cmd:<hex>"},
		{"long key", []string{"GET", "fb:memo:slack:thread:C0INCIDENTS:incident:YQ-12345:and-more-and-more-and-more"}, "GET fb:memo:slack:thread:C#INCIDENTS:incident:YQ-#:and-more-and-more…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args [][]byte
			for _, a := range tt.args {
				args = append(args, []byte(a))
			}
			if got := commandLabel(args); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	trip := roundTrip{labels: []string{"GET a", "XREADGROUP b", "XREADGROUP b", "GET a"}}
	if got, want := trip.shape(), "GET a + XREADGROUP b ×2 + GET a"; got != want {
		t.Errorf("shape: got %q, want %q", got, want)
	}
	trip = roundTrip{labels: []string{"A", "B", "B", "A", "B", "B", "A", "B", "B"}}
	if got, want := trip.shape(), "(A + B ×2) ×3"; got != want {
		t.Errorf("shape: got %q, want %q", got, want)
	}
	trip = roundTrip{labels: []string{"A", "A", "A", "A"}}
	if got, want := trip.shape(), "A ×4"; got != want {
		t.Errorf("shape: got %q, want %q", got, want)
	}
}

// TestKindOf: the kinds a round trip is told apart by.
func TestKindOf(t *testing.T) {
	periodic := map[string]int{"GET fb:instance + GET fb:seq": 3}
	for _, tt := range []struct {
		labels []string
		want   string
	}{
		{[]string{"SET fb:once:slack:cmd:<hex>", "HGET fb:{s#}:inc:YQ-#"}, kindOwn},
		{[]string{"SET fb:slack:slack:cmd:<hex>:answer"}, kindMemo},
		{[]string{"SET fb:slack:slack:cmd:<hex>:answer", "HGET fb:{s#}:inc:YQ-#"}, kindOwn},
		{[]string{"EXISTS fb:{s#}:sent:web:YQ-###.#>incidents"}, kindDelivery},
		{[]string{"XREADGROUP fb:{s#}:outbox"}, kindDelivery},
		{[]string{"GET fb:instance", "GET fb:seq"}, kindPeriodic},
	} {
		shape := strings.Join(tt.labels, " + ")
		if got := kindOf(tripShape{shape: shape, labels: tt.labels}, periodic); got != tt.want {
			t.Errorf("kindOf(%s): got %s, want %s", shape, got, tt.want)
		}
	}
}
