package slack

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestWorkersKeepGoroutines: work handed over one piece after another runs
// on one goroutine while it waits; work at once gets goroutines of its
// own; a goroutine idle for workerIdle ends; Wait waits for all of it.
func TestWorkersKeepGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorkers(workerIdle)
		var ran atomic.Int64
		for range 5 {
			w.Go(func() { ran.Add(1) })
			synctest.Wait() // done, and waiting for more
		}
		if got := w.started.Load(); got != 1 {
			t.Errorf("five pieces of work one after another: %d goroutines, want 1", got)
		}

		release := make(chan struct{})
		for range 3 {
			w.Go(func() { <-release; ran.Add(1) })
		}
		if got := w.started.Load(); got != 3 {
			t.Errorf("three pieces at once: %d goroutines in all, want 3 (the waiting one and two more)", got)
		}
		waited := make(chan struct{})
		go func() { w.Wait(); close(waited) }()
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("Wait returned while work was running")
		default:
		}
		close(release)
		<-waited
		if got := ran.Load(); got != 8 {
			t.Errorf("ran %d pieces of work, want 8", got)
		}

		time.Sleep(workerIdle - time.Millisecond)
		synctest.Wait()
		w.Go(func() {})
		if got := w.started.Load(); got != 3 {
			t.Errorf("work just before the idle time: %d goroutines in all, want still 3", got)
		}
		time.Sleep(workerIdle + time.Millisecond)
		synctest.Wait() // every goroutine idle that long has ended
		w.Go(func() {})
		if got := w.started.Load(); got != 4 {
			t.Errorf("work after the idle time: %d goroutines in all, want 4 (a new one)", got)
		}
		w.Wait()
		time.Sleep(workerIdle + time.Millisecond) // and the last one ends
	})
}
