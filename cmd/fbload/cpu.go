package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
)

// cpuUse is the processor time the parts of a run used so far: CPU time is
// what a request costs, and holds on a machine whose other work makes
// latency noisy.
type cpuUse struct {
	client, server, redis time.Duration
	serverKnown           bool // the server is a process of its own (-serve)
	// redisCommands is what Redis processed (INFO stats
	// total_commands_processed, which counts the commands that scripts
	// call, and this meter's INFO).
	redisCommands int64
}

// minus returns the time used between b and u.
func (u cpuUse) minus(b cpuUse) cpuUse {
	return cpuUse{client: u.client - b.client, server: u.server - b.server, redis: u.redis - b.redis,
		serverKnown: u.serverKnown, redisCommands: u.redisCommands - b.redisCommands}
}

// cpuMeter reads the CPU time of fbload itself, of the firebreak serve it
// started (if any), and of every Redis master (INFO cpu), and the
// commands Redis processed.
type cpuMeter struct {
	redis goredis.UniversalClient
	pid   int // of firebreak serve; 0: in-process
}

func newCPUMeter(ctx context.Context, c config, child *firebreak) (*cpuMeter, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, err := fbredis.DialWith(dialCtx, fbredis.DialOptions{URL: c.redis, Mode: fbredis.Mode(c.mode)})
	if err != nil {
		return nil, err
	}
	m := &cpuMeter{redis: client}
	if child != nil {
		m.pid = child.cmd.Process.Pid
	}
	return m, nil
}

func (m *cpuMeter) Close() { _ = m.redis.Close() }

// read returns the CPU time used so far; a part that cannot be read counts 0.
func (m *cpuMeter) read(ctx context.Context) cpuUse {
	var u cpuUse
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.pid != 0 {
		u.server, u.serverKnown = processCPU(m.pid), true
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	add := func(ctx context.Context, c *goredis.Client) error {
		info, err := c.Info(ctx, "cpu", "stats").Result()
		if err != nil {
			return err
		}
		for line := range strings.Lines(info) {
			name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			switch {
			case !ok:
			case name == "used_cpu_sys" || name == "used_cpu_user":
				s, _ := strconv.ParseFloat(v, 64)
				u.redis += time.Duration(s * float64(time.Second))
			case name == "total_commands_processed":
				n, _ := strconv.ParseInt(v, 10, 64)
				u.redisCommands += n
			}
		}
		return nil
	}
	switch r := m.redis.(type) {
	case *goredis.ClusterClient:
		_ = r.ForEachMaster(ctx, add)
	case *goredis.Client:
		_ = add(ctx, r)
	}
	return u
}

// processCPU is the user and system time of process pid, from
// /proc/<pid>/stat in clock ticks of 1/100 s (Linux's USER_HZ).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces), from
	// the third: utime and stime are the 14th and 15th of the line.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// describe says what the run used, in all and per request answered.
func (u cpuUse) describe(answered int, span time.Duration) string {
	per := func(d time.Duration) string {
		if answered == 0 {
			return "-"
		}
		return (d / time.Duration(answered)).Round(time.Microsecond).String()
	}
	cores := func(d time.Duration) string { return fmt.Sprintf("%.2f cores", d.Seconds()/span.Seconds()) }
	s := fmt.Sprintf("fbload %s (%s, %s a request)", u.client.Round(10*time.Millisecond), cores(u.client), per(u.client))
	if u.serverKnown {
		s += fmt.Sprintf(", firebreak serve %s (%s, %s a request)", u.server.Round(10*time.Millisecond), cores(u.server), per(u.server))
	} else {
		s += " (the server is in it)"
	}
	s += fmt.Sprintf(", Redis %s (%s, %s a request)", u.redis.Round(10*time.Millisecond), cores(u.redis), per(u.redis))
	if answered > 0 {
		s += fmt.Sprintf("; Redis processed %.1f commands a request (those scripts call included)", float64(u.redisCommands)/float64(answered))
	}
	return s
}
