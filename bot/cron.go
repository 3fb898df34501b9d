package bot

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Locker takes locks that expire on their own, shared by every replica.
type Locker interface {
	// TryLock takes the lock key for ttl and reports whether it got it.
	TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// CronJob is a job run on a cron schedule (digests).
type CronJob struct {
	// Name identifies the job in locks, logs and metrics ("daily-digest").
	Name string
	// Spec is a standard 5-field cron spec, read in the Cron's location.
	Spec string
	// Run does the job for the fire time at.
	Run func(ctx context.Context, at time.Time) error
}

// Cron runs jobs on cron schedules on every replica, and makes sure each
// fire runs once: before running, a replica takes a per-fire lock
// ("cron:<job>:<fire minute>") that the others then fail to take.
type Cron struct {
	Locker   Locker
	Location *time.Location
	Log      *slog.Logger
	Metrics  *Metrics
	// LockTTL is how long a fire's lock lives (default 1h): longer than any
	// clock skew between replicas, shorter than the gap between fires.
	LockTTL time.Duration

	jobs []CronJob
}

// Add registers a job. The spec is checked at once.
func (c *Cron) Add(job CronJob) error {
	if _, err := cron.ParseStandard(job.Spec); err != nil {
		return fmt.Errorf("cron job %s: spec %q: %w", job.Name, job.Spec, err)
	}
	c.jobs = append(c.jobs, job)
	return nil
}

// Start schedules the jobs in the background until ctx is cancelled. The
// returned function stops the schedule and waits for running jobs.
func (c *Cron) Start(ctx context.Context) (stop func()) {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	runner := cron.New(cron.WithLocation(loc))
	for _, job := range c.jobs {
		_, _ = runner.AddFunc(job.Spec, func() {
			at := time.Now().In(loc).Truncate(time.Minute)
			if _, err := c.Fire(ctx, job, at); err != nil {
				c.log().ErrorContext(ctx, "cron job failed", "job", job.Name, "at", at, "err", err)
			}
		})
	}
	runner.Start()
	return func() { <-runner.Stop().Done() }
}

// Fire runs job for the fire time at unless another replica already has:
// it reports whether this call ran it.
func (c *Cron) Fire(ctx context.Context, job CronJob, at time.Time) (bool, error) {
	ttl := c.LockTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	key := fmt.Sprintf("cron:%s:%s", job.Name, at.UTC().Format("2006-01-02T15:04"))
	got, err := c.Locker.TryLock(ctx, key, ttl)
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", key, err)
	}
	if !got {
		return false, nil
	}
	if err := job.Run(ctx, at); err != nil {
		return true, err
	}
	if c.Metrics != nil {
		c.Metrics.CronRun(job.Name)
	}
	c.log().InfoContext(ctx, "cron job ran", "job", job.Name, "at", at)
	return true, nil
}

func (c *Cron) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}
