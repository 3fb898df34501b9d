package main

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// redisProxy is a TCP proxy between Firebreak and one Redis that reads the
// clients' side of the protocol (RESP) to count what they ask:
//
//   - a command is one request frame (an array of bulk strings, or an
//     inline command), whether sent alone or in a pipeline or a
//     MULTI/EXEC block; a script (EVALSHA) is one command, whatever it
//     calls inside Redis;
//   - a round trip is a burst of the client's writes on one connection
//     that follows a reply: it is counted when the client sends on a
//     connection for the first time, or again after Redis sent anything
//     on it since the client last sent. A pipeline of 16 commands is one
//     round trip and 16 commands; a blocking read that waits is one round
//     trip however long it waits.
//
// The server's side is forwarded unread (RESP2 or RESP3 alike): only that
// it sent something matters.
//
// Each round trip is logged with the commands it carried, each labelled by
// its name and its first key with the digits left out ("EVALSHA
// fb:{s#}:inc:YQ-#"), so that a window's round trips can be told apart by
// what they did: a request's own, or a dispatcher's that the request woke.
type redisProxy struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	counts proxyCounts
	trips  []*roundTrip // every round trip so far, in the order they began
}

// roundTrip is one round trip: the labels of its commands, as sent.
type roundTrip struct {
	labels []string
}

// shape describes the round trip's commands: "EXISTS fb:{s#}:inc:YQ-# +
// EVALSHA fb:{s#}:inc:YQ-#", a run of one label as "label ×n", a pipeline
// that repeats a sequence as "(A + B) ×n".
func (t *roundTrip) shape() string {
	labels := t.labels
	if len(labels) == 0 {
		return "(no complete command)"
	}
	for period := 2; period <= len(labels)/2; period++ {
		if len(labels)%period != 0 || !slices.Equal(labels[:len(labels)-period], labels[period:]) {
			continue
		}
		if n := slices.IndexFunc(labels[1:period], func(l string) bool { return l != labels[0] }); n < 0 {
			break // one label throughout: a run, below
		}
		return "(" + runs(labels[:period]) + ") ×" + strconv.Itoa(len(labels)/period)
	}
	return runs(labels)
}

// runs joins labels with " + ", a run of one label as "label ×n".
func runs(labels []string) string {
	var parts []string
	for i := 0; i < len(labels); {
		j := i
		for j < len(labels) && labels[j] == labels[i] {
			j++
		}
		part := labels[i]
		if j-i > 1 {
			part += " ×" + strconv.Itoa(j-i)
		}
		parts = append(parts, part)
		i = j
	}
	return strings.Join(parts, " + ")
}

// proxyCounts are the proxy's counters since it started.
type proxyCounts struct {
	Commands   int64
	RoundTrips int64
	Dials      int64
	ByName     map[string]int64
	// Logged is how many round trips were logged (an index of the log).
	Logged int
}

// minus returns what was counted between b and c.
func (c proxyCounts) minus(b proxyCounts) proxyCounts {
	d := proxyCounts{Commands: c.Commands - b.Commands, RoundTrips: c.RoundTrips - b.RoundTrips,
		Dials: c.Dials - b.Dials, ByName: map[string]int64{}}
	for name, n := range c.ByName {
		if n -= b.ByName[name]; n != 0 {
			d.ByName[name] = n
		}
	}
	return d
}

// add adds d to c.
func (c *proxyCounts) add(d proxyCounts) {
	c.Commands += d.Commands
	c.RoundTrips += d.RoundTrips
	c.Dials += d.Dials
	if c.ByName == nil {
		c.ByName = map[string]int64{}
	}
	for name, n := range d.ByName {
		c.ByName[name] += n
	}
}

// startProxy listens on a free loopback port and forwards every connection
// to upstream (host:port).
func startProxy(upstream string) (*redisProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &redisProxy{ln: ln, upstream: upstream, counts: proxyCounts{ByName: map[string]int64{}}}
	go p.accept()
	return p, nil
}

// Addr is where Firebreak connects instead of Redis.
func (p *redisProxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting; open connections end with their clients.
func (p *redisProxy) Close() { _ = p.ln.Close() }

// snapshot returns the counters as they are now.
func (p *redisProxy) snapshot() proxyCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	c.ByName = maps.Clone(p.counts.ByName)
	c.Logged = len(p.trips)
	return c
}

// shapesBetween returns the shapes of the round trips that began between
// snapshots a and b (as they are now: a pipeline still being read shows
// what has arrived).
func (p *redisProxy) shapesBetween(a, b proxyCounts) []tripShape {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []tripShape
	for _, t := range p.trips[a.Logged:b.Logged] {
		out = append(out, tripShape{shape: t.shape(), labels: slices.Clone(t.labels)})
	}
	return out
}

// tripShape is a round trip's shape and the labels of its commands.
type tripShape struct {
	shape  string
	labels []string
}

func (p *redisProxy) accept() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(conn)
	}
}

func (p *redisProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	p.mu.Lock()
	p.counts.Dials++
	p.mu.Unlock()

	// replied is true when Redis sent something since the client last
	// sent: the client's next write starts a round trip. It is set before
	// the reply is passed on, so the client cannot answer it first.
	var replied atomic.Bool
	replied.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				replied.Store(true)
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = client.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()

	var frames respFrames
	var trip *roundTrip
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			labels := frames.feed(buf[:n])
			trip = p.count(trip, replied.Swap(false), labels)
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = server.(*net.TCPConn).CloseWrite()
	<-done
}

// count counts the commands labels of a connection's round trip trip, or
// of a new one when begins, and returns the round trip they belong to.
func (p *redisProxy) count(trip *roundTrip, begins bool, labels []string) *roundTrip {
	p.mu.Lock()
	defer p.mu.Unlock()
	if begins || trip == nil {
		p.counts.RoundTrips++
		trip = &roundTrip{}
		p.trips = append(p.trips, trip)
	}
	trip.labels = append(trip.labels, labels...)
	p.counts.Commands += int64(len(labels))
	for _, label := range labels {
		name, _, _ := strings.Cut(label, " ")
		p.counts.ByName[name]++
	}
	return trip
}

// respFrames splits a client's byte stream into request frames, however
// the reads cut it.
type respFrames struct {
	pending []byte
	broken  bool
}

// feed takes the next bytes of the stream and returns the labels of the
// commands that are now complete (see commandLabel).
func (f *respFrames) feed(b []byte) []string {
	if f.broken {
		return nil
	}
	f.pending = append(f.pending, b...)
	var names []string
	for len(f.pending) > 0 {
		name, n, err := parseFrame(f.pending)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			// Not RESP as clients send it: stop counting this connection
			// rather than count garbage (the bytes are still forwarded).
			f.broken, f.pending = true, nil
			names = append(names, "(unparsed)")
			break
		}
		names = append(names, name)
		f.pending = f.pending[n:]
	}
	if len(f.pending) == 0 {
		f.pending = f.pending[:0:0] // let a large pipeline's buffer go
	}
	return names
}

var errNotRESP = errors.New("not a RESP request")

// parseFrame parses one request frame at the start of b and returns the
// command's label (commandLabel) and the frame's length, or
// io.ErrUnexpectedEOF when b holds only its beginning.
func parseFrame(b []byte) (label string, n int, err error) {
	if b[0] != '*' { // an inline command: one line of words
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return "", 0, io.ErrUnexpectedEOF
		}
		return commandLabel(bytes.Fields(b[:i])), i + 2, nil
	}
	count, pos, err := respLength(b, 0)
	if err != nil {
		return "", 0, err
	}
	args := make([][]byte, 0, min(count, 64))
	for range count {
		if pos >= len(b) {
			return "", 0, io.ErrUnexpectedEOF
		}
		if b[pos] != '$' {
			return "", 0, errNotRESP
		}
		size, start, err := respLength(b, pos)
		if err != nil {
			return "", 0, err
		}
		end := start + size + 2
		if end > len(b) {
			return "", 0, io.ErrUnexpectedEOF
		}
		args = append(args, b[start:start+size])
		pos = end
	}
	return commandLabel(args), pos, nil
}

// commandLabel names a command by its name in upper case and, when it has
// one, its first key with every run of digits written "#" ("GET
// fb:{s#}:inc:YQ-#"): what it does, not to which incident.
func commandLabel(args [][]byte) string {
	if len(args) == 0 {
		return "(empty)"
	}
	name := strings.ToUpper(string(args[0]))
	key := -1
	switch name {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		if len(args) > 3 && string(args[2]) != "0" {
			key = 3
		}
	case "XREAD", "XREADGROUP":
		for i, a := range args {
			if strings.EqualFold(string(a), "STREAMS") {
				key = i + 1
				break
			}
		}
	case "PING", "HELLO", "CLIENT", "MULTI", "EXEC", "DISCARD", "INFO", "SCRIPT", "CLUSTER", "SELECT", "AUTH", "QUIT", "READONLY":
	case "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "PUBLISH", "SSUBSCRIBE", "SPUBLISH":
		key = 1 // the channel
	default:
		key = 1
	}
	if key < 0 || key >= len(args) {
		return name
	}
	return name + " " + withoutDigits(args[key])
}

// withoutDigits writes every run of digits of b as "#" and every run of 12
// or more hexadecimal digits (a hash, a random ID) as "<hex>", and cuts it
// at 64 bytes.
func withoutDigits(b []byte) string {
	isHex := func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
	var out strings.Builder
	for i := 0; i < len(b); {
		if out.Len() >= 64 {
			out.WriteString("…")
			break
		}
		j := i
		for j < len(b) && isHex(b[j]) {
			j++
		}
		if j-i >= 12 && bytes.ContainsFunc(b[i:j], func(r rune) bool { return '0' <= r && r <= '9' }) {
			out.WriteString("<hex>")
			i = j
			continue
		}
		if '0' <= b[i] && b[i] <= '9' {
			for i < len(b) && '0' <= b[i] && b[i] <= '9' {
				i++
			}
			out.WriteByte('#')
			continue
		}
		out.WriteByte(b[i])
		i++
	}
	return out.String()
}

// respLength reads the length after the type byte at b[at] ("*3\r\n",
// "$5\r\n") and returns it with the position after its line.
func respLength(b []byte, at int) (int, int, error) {
	i := bytes.Index(b[at:], []byte("\r\n"))
	if i < 0 {
		if len(b)-at > 32 {
			return 0, 0, errNotRESP
		}
		return 0, 0, io.ErrUnexpectedEOF
	}
	n, err := strconv.Atoi(string(b[at+1 : at+i]))
	if err != nil || n < 0 {
		return 0, 0, errNotRESP
	}
	return n, at + i + 2, nil
}
