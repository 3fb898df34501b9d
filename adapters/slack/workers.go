package slack

import (
	"sync"
	"sync/atomic"
	"time"
)

// workers runs the adapter's background work (each command, each button
// press) on goroutines that are kept for the next piece of work for a
// while instead of a new goroutine each. A command's call chain (router,
// middleware, workflow, the Redis client and its hooks, JSON) is deep: a
// new goroutine grew its stack from the smallest size three or four times
// per command, copying it each time, about 6 % of the CPU of a busy
// replica (docs/benchmarks.md). A kept goroutine keeps its grown stack.
//
// How much runs at once is not bounded here; the router's Shed bounds the
// commands in flight, and a kept goroutine is idle only.
type workers struct {
	idle  time.Duration // how long a goroutine waits for more work
	tasks chan func()   // unbuffered: a send succeeds only to a waiting goroutine
	wg    sync.WaitGroup
	// started counts the goroutines started.
	started atomic.Int64
}

// workerIdle is how long a goroutine of workers waits for more work before
// it ends.
const workerIdle = 10 * time.Second

func newWorkers(idle time.Duration) *workers {
	return &workers{idle: idle, tasks: make(chan func())}
}

// Go runs f on a waiting goroutine, or on a new one when none waits.
func (w *workers) Go(f func()) {
	w.wg.Add(1)
	select {
	case w.tasks <- f:
	default:
		w.started.Add(1)
		go w.run(f)
	}
}

// run runs f, then whatever work it is handed, until none comes for idle.
func (w *workers) run(f func()) {
	idle := time.NewTimer(w.idle)
	defer idle.Stop()
	for {
		w.do(f)
		idle.Reset(w.idle)
		select {
		case f = <-w.tasks:
		case <-idle.C:
			return
		}
	}
}

// do runs f and counts it done.
func (w *workers) do(f func()) {
	defer w.wg.Done()
	f()
}

// Wait waits until every f given to Go has returned.
func (w *workers) Wait() { w.wg.Wait() }
