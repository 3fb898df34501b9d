package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The tests of deployments — a replica, a Cluster, Sentinel — start their
// own redis-server processes on free ports of 127.0.0.1, each in a
// directory of its own (config, log, cluster state), and stop them when the
// test ends. A shell guards each: when the test process dies, whatever the
// way, the shell reads EOF on its stdin and stops the server. Without
// redis-server and redis-cli on PATH these tests skip, saying so; with CI
// set they fail instead.

// RequireServers fails tb (with CI set) or skips it (without) when
// redis-server or redis-cli is not on PATH.
func RequireServers(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if ci := os.Getenv(EnvCI); ci != "" {
				tb.Fatalf("redistest: %s=%s and %s is not on PATH (%v): this test starts its own Redis servers "+
					"(apt-get install redis-server, which brings redis-cli; .ci/run does it)", EnvCI, ci, bin, err)
			}
			tb.Skipf("redistest: %s is not on PATH (%v): this test starts its own Redis servers; it runs in CI", bin, err)
		}
	}
}

// Server is a redis-server (or Sentinel) started by a test.
type Server struct {
	// Port is the port it listens on, of 127.0.0.1.
	Port int
	// Dir is its working directory: redis.conf, redis.log, nodes.conf.
	Dir string

	pid    int
	stdin  io.WriteCloser
	exited chan struct{}
}

// Addr returns "127.0.0.1:<port>".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns "redis://127.0.0.1:<port>/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a client of this server alone, closed when tb ends. It
// gives up on a dead server at once rather than retrying.
func (s *Server) Client(tb testing.TB) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Log returns what the server logged.
func (s *Server) Log() string { return readLog(filepath.Join(s.Dir, "redis.log")) }

// Kill stops the server at once with SIGKILL, as a crash or a lost machine
// does, and returns once it is gone.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	if err := syscall.Kill(s.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		tb.Fatalf("redistest: kill redis-server %d on port %d: %v", s.pid, s.Port, err)
	}
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		tb.Fatalf("redistest: redis-server on port %d still runs 5s after SIGKILL", s.Port)
	}
}

// stopWith stops s when tb ends, and removes its directory unless tb
// failed (its log tells what the server saw).
func (s *Server) stopWith(tb testing.TB) {
	tb.Cleanup(func() {
		s.stop()
		if !tb.Failed() {
			_ = os.RemoveAll(s.Dir)
		}
	})
}

// stop ends the server (SIGTERM from its guard) and waits for it.
func (s *Server) stop() {
	_ = s.stdin.Close()
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(s.pid, syscall.SIGKILL)
	}
}

// StartServer starts a redis-server configured with the lines of conf on top
// of a free port, 127.0.0.1 only, no persistence; it returns once the server
// answers PING and stops it when tb ends.
func StartServer(tb testing.TB, conf ...string) *Server {
	tb.Helper()
	s, err := startConfigured(serverSpec{conf: conf})
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	s.stopWith(tb)
	return s
}

// StartTLSServer starts a redis-server that speaks TLS only, on Port, with
// the lines of conf (its tls-cert-file, tls-key-file, tls-ca-cert-file ...);
// it returns once a client with the TLS configuration client gets an
// answer to PING.
func StartTLSServer(tb testing.TB, client *tls.Config, conf ...string) *Server {
	tb.Helper()
	s, err := startConfigured(serverSpec{conf: conf, tls: client})
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	s.stopWith(tb)
	return s
}

// StartReplica starts a redis-server replicating master and returns once it
// holds master's data (master_link_status:up).
func StartReplica(tb testing.TB, master *Server, conf ...string) *Server {
	tb.Helper()
	r := StartServer(tb, append([]string{"replicaof 127.0.0.1 " + strconv.Itoa(master.Port)}, conf...)...)
	c := r.Client(tb)
	Eventually(tb, 10*time.Second, "replica on port "+strconv.Itoa(r.Port)+" in sync", func() error {
		return infoField(c, "replication", "master_link_status", "up")
	})
	return r
}

// serverSpec says how to start a server.
type serverSpec struct {
	sentinel bool     // a Sentinel
	conf     []string // lines of its config
	// extraPorts names further settings that need a free port of their
	// own ("cluster-port").
	extraPorts []string
	// tls, when set, makes Port its TLS port (and closes the plain one);
	// the configuration is the client's, for the readiness check.
	tls *tls.Config
}

// startConfigured writes redis.conf and starts redis-server on it,
// retrying on other ports when a free port was taken in between.
func startConfigured(spec serverSpec) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		lines := []string{"port " + strconv.Itoa(port)}
		if spec.tls != nil {
			lines = []string{"port 0", "tls-port " + strconv.Itoa(port)}
		}
		for _, name := range spec.extraPorts {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			lines = append(lines, name+" "+strconv.Itoa(p))
		}
		s, err := runConfigured(bin, spec, port, append(lines, spec.conf...))
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func runConfigured(bin string, spec serverSpec, port int, conf []string) (*Server, error) {
	sentinel := spec.sentinel
	dir, err := os.MkdirTemp("", "redistest-"+strconv.Itoa(port)+"-*")
	if err != nil {
		return nil, err
	}
	lines := []string{"bind 127.0.0.1", "daemonize no", "dir " + dir, "logfile " + filepath.Join(dir, "redis.log")}
	if !sentinel {
		// Replicas sync at once, not after the default 5s wait for others.
		lines = append(lines, `save ""`, "appendonly no", "repl-diskless-sync-delay 0")
	}
	confFile := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confFile, []byte(strings.Join(append(lines, conf...), "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	args := []string{confFile}
	if sentinel {
		args = append(args, "--sentinel")
	}
	// The guard prints the server's PID and ends with the server; a reader
	// in the background stops the server at EOF on the guard's stdin.
	const guard = `exec 3<&0; "$0" "$@" </dev/null >/dev/null 2>&1 & pid=$!; echo "$pid"; ` +
		`{ read -r _ <&3; kill "$pid"; } </dev/null >/dev/null 2>&1 & wait "$pid"`
	cmd := exec.Command("sh", append([]string{"-c", guard, bin}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Port: port, Dir: dir, stdin: stdin, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if s.pid, _ = strconv.Atoi(strings.TrimSpace(line)); err != nil || s.pid == 0 {
		s.stop()
		return nil, fmt.Errorf("start redis-server on port %d: no PID from its guard (%v)", port, err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.ping(spec.tls) == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("redis-server on port %d exited: %s", port, s.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer within 10s: %s", port, s.Log())
		}
	}
}

// ping checks that s answers, over TLS with config when it is set; a
// refusal counts as an answer.
func (s *Server) ping(config *tls.Config) error {
	// A bare connection first: go-redis logs every failed dial.
	conn, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
	if err != nil {
		return err
	}
	_ = conn.Close()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), TLSConfig: config, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = c.Ping(ctx).Err()
	var refused goredis.Error // NOAUTH from a server that wants a password: it answers
	if errors.As(err, &refused) {
		return nil
	}
	return err
}

// Eventually calls check until it returns nil, every 20ms, and fails tb
// with what and check's last error when within does not see that.
func Eventually(tb testing.TB, within time.Duration, what string, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: %s: not within %s: %v", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// infoField returns nil when INFO section of c has field: want.
func infoField(c *goredis.Client, section, field, want string) error {
	got, err := Info(c, section, field)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s:%s, want %s", field, got, want)
	}
	return nil
}

// Info returns one field of an INFO section of c ("replication", "role").
func Info(c *goredis.Client, section, field string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	text, err := c.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no %s in INFO %s", field, section)
}
