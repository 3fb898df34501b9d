package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// roundTripCommands are the commands measured by -roundtrips, in order.
var roundTripCommands = []string{"open", "status", "update", "list"}

// background is what the proxy counted over a window with no request.
type background struct {
	span   time.Duration
	counts proxyCounts
	shapes map[string]int // the round trips seen, by shape (roundTrip.shape)
}

// perSecond returns n per second of b's window.
func (b background) perSecond(n int64) float64 { return float64(n) / b.span.Seconds() }

// measureBackground counts what Firebreak sends Redis over span with no
// request at all: timers, delivery, wake-ups, the store check.
func measureBackground(ctx context.Context, p *redisProxy, span time.Duration) (background, error) {
	before := p.snapshot()
	select {
	case <-ctx.Done():
		return background{}, ctx.Err()
	case <-time.After(span):
	}
	after := p.snapshot()
	b := background{span: span, counts: after.minus(before), shapes: map[string]int{}}
	for _, t := range p.shapesBetween(before, after) {
		b.shapes[t.shape]++
	}
	return b, nil
}

func (b background) describe(out io.Writer, what string) {
	fmt.Fprintf(out, "background, %s, over %s: %.1f round trips/s, %.1f commands/s, %d new connections\n",
		what, b.span, b.perSecond(b.counts.RoundTrips), b.perSecond(b.counts.Commands), b.counts.Dials)
	fmt.Fprintf(out, "  commands: %s\n", byName(b.counts.ByName, func(n int64) string { return fmt.Sprintf("%.1f/s", b.perSecond(n)) }))
	for _, e := range mostFirst(b.shapes) {
		fmt.Fprintf(out, "  %6.2f/s  %s\n", float64(e.n)/b.span.Seconds(), e.name)
	}
}

// Kinds of round trip, as measureRoundTrips tells them apart.
const (
	// kindOwn is a round trip on the request's own path.
	kindOwn = "own"
	// kindDelivery is a round trip of the outbox's delivery: a dispatcher
	// reading, claiming or acknowledging notices (woken by the notices the
	// request appended, or delivering earlier ones), a sender's dedupe and
	// thread memos. Every command of it is one of deliveryCommand.
	kindDelivery = "delivery"
	// kindPeriodic is a round trip of a shape seen in the background before
	// any incident was stored (the store check, pub/sub pings, the timer
	// loop) that is not a delivery.
	kindPeriodic = "periodic"
	// kindMemo is the Slack adapter's memo of a command's answer
	// (<prefix>:slack:slack:cmd:<hash>:answer), written after the answer
	// was flushed to the client, for the copies of the command that may
	// follow: not on the request's path, but timed by the client's read
	// of the answer it often falls inside the request's window.
	kindMemo = "memo"
)

// deliveryCommand reports whether a command, by its label, belongs to the
// outbox's delivery: stream reads and acknowledgements, and the keys of
// the outbox (adapters/redis/outbox.go: <prefix>:{sNN}:outbox, reader:,
// owner:, sent:) and of the senders' thread memos (thread:).
func deliveryCommand(label string) bool {
	name, key, _ := strings.Cut(label, " ")
	switch name {
	case "XREADGROUP", "XAUTOCLAIM", "XCLAIM", "XACK", "XPENDING":
		return true
	}
	for _, part := range []string{":outbox", ":reader:", ":owner:", ":sent:", ":thread:"} {
		if strings.Contains(key, part) {
			return true
		}
	}
	return false
}

// kindOf tells what a round trip is (kindOwn, kindDelivery, kindPeriodic);
// periodic holds the shapes of the background with no incident stored.
func kindOf(t tripShape, periodic map[string]int) string {
	if !slices.ContainsFunc(t.labels, func(l string) bool { return !deliveryCommand(l) }) {
		return kindDelivery
	}
	if periodic[t.shape] > 0 {
		return kindPeriodic
	}
	if len(t.labels) == 1 && strings.HasPrefix(t.labels[0], "SET ") && strings.Contains(t.labels[0], ":cmd:") &&
		strings.HasSuffix(t.labels[0], ":answer") {
		return kindMemo
	}
	return kindOwn
}

// commandCost is what n requests of one command cost Redis.
type commandCost struct {
	name      string
	n         int
	in, after proxyCounts   // raw counts: between sending and the answer; in the gap after it
	inSpan    time.Duration // summed over the requests
	// inShapes and afterShapes count the round trips by kind and shape
	// ("own\x00shape"): between sending and the answer, and in the gap.
	inShapes, afterShapes map[string]int
	own                   []int // each request's own round trips
	ownCmds               int   // their commands
	memo                  int   // answer memos, in the request's window or after it
}

// measureRoundTrips sends c.roundTrips requests of each command one at a
// time, each followed by c.gap with no request, and counts what the proxy
// saw between a request's sending and its answer ("in the request") and
// in the gap after it. The round trips in the request are told apart by
// kindOf: the request's own, the outbox's delivery (which the request's
// notices wake at once, in parallel with the rest of the request), and the
// periodic background (shapes of idle). Subtracting a background rate
// instead does not work: delivering the seeded incidents' notices is a
// background that changes by the second.
func measureRoundTrips(ctx context.Context, client *http.Client, target string, c config, ids []string,
	p *redisProxy, responseURL string, idle background, out io.Writer) error {
	text := func(name string, i int) string {
		id := ids[(i*7919)%len(ids)]
		switch name {
		case "open":
			return fmt.Sprintf("open Round trip %d category:other", i)
		case "status":
			return "status " + id
		case "update":
			return fmt.Sprintf("update %s posts:%d round trip follow-up %d", id, i, i)
		}
		return "list"
	}
	// Warm up: scripts loaded, the connection pool grown, nothing counted.
	for _, name := range roundTripCommands {
		for i := range 10 {
			if _, err := send(ctx, client, target, c, text(name, 1_000_000+i), responseURL); err != nil {
				return fmt.Errorf("warm-up %s: %w", name, err)
			}
		}
	}
	time.Sleep(c.gap)

	var costs []commandCost
	for _, name := range roundTripCommands {
		cost := commandCost{name: name, n: c.roundTrips, inShapes: map[string]int{}, afterShapes: map[string]int{}}
		for i := range c.roundTrips {
			s0, t0 := p.snapshot(), time.Now()
			answer, err := send(ctx, client, target, c, text(name, i), responseURL)
			s1, t1 := p.snapshot(), time.Now()
			if err != nil {
				return fmt.Errorf("%s: %w (answer %q)", name, err, answer)
			}
			time.Sleep(c.gap)
			s2 := p.snapshot()
			cost.in.add(s1.minus(s0))
			cost.after.add(s2.minus(s1))
			cost.inSpan += t1.Sub(t0)
			own := 0
			for _, t := range p.shapesBetween(s0, s1) {
				kind := kindOf(t, idle.shapes)
				cost.inShapes[kind+"\x00"+t.shape]++
				switch kind {
				case kindOwn:
					own++
					cost.ownCmds += len(t.labels)
				case kindMemo:
					cost.memo++
				}
			}
			for _, t := range p.shapesBetween(s1, s2) {
				kind := kindOf(t, idle.shapes)
				cost.afterShapes[kind+"\x00"+t.shape]++
				if kind == kindMemo {
					cost.memo++
				}
			}
			cost.own = append(cost.own, own)
		}
		costs = append(costs, cost)
	}

	fmt.Fprintf(out, "\nper request (%d of each, one at a time, %s apart):\n", c.roundTrips, c.gap)
	for _, k := range costs {
		n := float64(k.n)
		ownTotal := 0
		for _, o := range k.own {
			ownTotal += o
		}
		slices.Sort(k.own)
		fmt.Fprintf(out, "%s: %.2f round trips of its own (median %d, max %d), %.2f commands; mean time in the request %s; "+
			"%.2f answer memos, written after the answer\n",
			k.name, float64(ownTotal)/n, k.own[len(k.own)/2], k.own[len(k.own)-1], float64(k.ownCmds)/n,
			(k.inSpan / time.Duration(k.n)).Round(10*time.Microsecond), float64(k.memo)/n)
		fmt.Fprintf(out, "  all kinds: %.2f round trips, %.2f commands in the request; %.2f and %.2f in the %s after the answer\n",
			float64(k.in.RoundTrips)/n, float64(k.in.Commands)/n, float64(k.after.RoundTrips)/n, float64(k.after.Commands)/n, c.gap)
		for _, what := range []struct {
			title  string
			shapes map[string]int
			after  bool
		}{{"in the request", k.inShapes, false}, {"after the answer", k.afterShapes, true}} {
			fmt.Fprintf(out, "  round trips %s, by kind and shape, per request:\n", what.title)
			for _, e := range mostFirst(what.shapes) {
				kind, shape, _ := strings.Cut(e.name, "\x00")
				if kind == kindOwn && what.after {
					kind = "other" // the answer is out: not on the request's path
				}
				fmt.Fprintf(out, "    %-8s %5.2f  %s\n", kind, float64(e.n)/n, shape)
			}
		}
	}
	return nil
}

type counted struct {
	name string
	n    int
}

// mostFirst returns m's entries, the most counted first.
func mostFirst(m map[string]int) []counted {
	var all []counted
	for name, n := range m {
		all = append(all, counted{name, n})
	}
	slices.SortFunc(all, func(a, b counted) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
	return all
}

// byName lists counts by command name, most first, each shown by show.
func byName(m map[string]int64, show func(int64) string) string {
	type kv struct {
		name string
		n    int64
	}
	var all []kv
	for name, n := range m {
		all = append(all, kv{name, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
	var parts []string
	for _, e := range all {
		parts = append(parts, e.name+" "+show(e.n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
