package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// releaseTimeout bounds Release when Run stops, so a shutdown never hangs on
// an unreachable Redis.
const releaseTimeout = 5 * time.Second

// Release gives up what this consumer holds, as it stops: it first records
// in the store what finished here but could not be recorded yet (a message
// the platform accepted whose mark failed, so it is not sent again), then
// releases its shard reader leases and targets, and makes every entry it
// read but did not finish claimable at once by the next consumer, which
// sends them before anything newer of their targets. What Release cannot
// reach is taken over as after a crash, when the leases run out. Run calls
// it when its ctx is done; call it after DeliverOnce when driving that
// directly. The Dispatcher forgets what it held: a later pass starts afresh.
func (d *Dispatcher) Release(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started {
		return nil // never read anything, holds nothing
	}
	d.waitWorkers() // their sends finish (sendTimeout at most), as in a pass
	var errs []error
	for _, h := range slices.Sorted(maps.Keys(d.held)) {
		if it := d.held[h]; it.sent || it.settle || it.dead != "" {
			if _, err := d.finish(ctx, it); err != nil {
				errs = append(errs, err)
			} else {
				delete(d.held, h)
			}
		}
	}
	targets := slices.Sorted(maps.Keys(d.targets))
	if err := d.Store.Release(ctx, d.Sender.Platform(), d.Consumer, targets...); err != nil {
		errs = append(errs, fmt.Errorf("release: %w", err))
	} else {
		d.Log.InfoContext(ctx, "outbox released for the next replica", "unsent", len(d.held), "targets", len(targets))
	}
	clear(d.held)
	clear(d.targets)
	d.claimAt, d.sweep, d.wake, d.more = time.Time{}, false, time.Time{}, false
	return errors.Join(errs...)
}

// claimStale claims entries of stopped consumers: one batch, or with sweep
// as many as it may hold.
func (d *Dispatcher) claimStale(ctx context.Context, sweep bool) ([]Delivery, error) {
	var out []Delivery
	for {
		ds, err := d.Store.ClaimStale(ctx, d.Sender.Platform(), d.Consumer, d.MinIdle, d.Batch)
		if err != nil {
			return out, fmt.Errorf("take over stale entries: %w", err)
		}
		if len(ds) > 0 {
			d.Log.InfoContext(ctx, "took over outbox entries of a stopped consumer", "count", len(ds))
		}
		out = append(out, ds...)
		if !sweep || len(ds) < d.Batch || len(d.held)+len(out) >= d.MaxHeld {
			return out, nil
		}
	}
}

// own takes or renews the lease of every target with queued entries whose
// lease runs low. Entries of a target owned by another consumer are handed
// over to it. It reports whether a target was taken that this consumer did
// not own a moment ago; such a target sends nothing in this pass unless the
// pass claims stale entries after taking it.
func (d *Dispatcher) own(ctx context.Context) (fresh bool, err error) {
	group := d.Sender.Platform()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(d.targets)) {
		t := d.targets[name]
		now := d.Clock.Now()
		if t.busy || len(t.queue) == 0 || !d.leaseLow(t, now) {
			continue // a busy target's lease was renewed before its worker began
		}
		owner, left, err := d.Store.OwnTarget(ctx, group, name, d.Consumer, d.leaseLen())
		if err != nil {
			errs = append(errs, fmt.Errorf("own target %s: %w", name, err))
			continue
		}
		if owner == d.Consumer {
			if !now.Before(t.lease) {
				fresh, t.fresh = true, true
			}
			t.lease = now.Add(d.leaseLen())
			continue
		}
		// Another consumer sends to this target: it gets our entries and
		// keeps their order and the target's rate limit. Should it have
		// stopped, they become claimable when its lease runs out.
		ds := make([]Delivery, len(t.queue))
		for i, it := range t.queue {
			ds[i] = it.d
		}
		if err := d.Store.Handover(ctx, group, owner, max(d.MinIdle-left, 0), ds...); err != nil {
			errs = append(errs, fmt.Errorf("hand target %s over to %s: %w", name, owner, err))
			continue
		}
		for _, it := range t.queue {
			delete(d.held, it.d.Handle)
		}
		t.queue, t.lease = nil, time.Time{}
	}
	return fresh, errors.Join(errs...)
}

// defaultMinIdle is MinIdle with a store that is no ReaderLeaser.
const defaultMinIdle = 10 * time.Second

// minIdle is the MinIdle to run with: the one set, or its default, checked
// against the store's reader lease. That lease must last as long as a target
// lease, 1.5×MinIdle: the entries a dead reader read become claimable after
// MinIdle, and a live consumer claims them within MinIdle/4 (the claim
// interval) plus MinIdle/5 (the longest Poll) after that; until then no
// other consumer may read past them, or a newer notice of their shard could
// overtake one of them on its way to the target's owner.
func (d *Dispatcher) minIdle() (time.Duration, error) {
	rl, ok := d.Store.(ReaderLeaser)
	if !ok {
		return cmp.Or(d.MinIdle, defaultMinIdle), nil
	}
	lease := rl.OutboxReaderLease()
	minIdle := d.MinIdle
	if minIdle == 0 {
		minIdle = lease * 2 / 3
	}
	if minIdle <= 0 || minIdle*3/2 > lease {
		return 0, fmt.Errorf("dispatcher: MinIdle %s needs an outbox reader lease of at least 1.5×MinIdle (%s), "+
			"and the store's is %s: set MinIdle to at most %s, or zero to follow the store, or lengthen the store's reader lease",
			minIdle, minIdle*3/2, lease, lease*2/3)
	}
	return minIdle, nil
}

// leaseLow reports whether the target's lease must be taken or renewed. A
// lease lasts 1.5×MinIdle and is renewed when under 1.25×MinIdle; passes
// come at least every MinIdle/5, so at every read of the pending entries the
// lease has MinIdle left: when this consumer stops, its entries become
// claimable no later than its targets free up.
func (d *Dispatcher) leaseLow(t *outTarget, now time.Time) bool {
	return t.lease.Sub(now) < d.MinIdle*5/4
}

// leaseLen is how long a target lease lasts.
func (d *Dispatcher) leaseLen() time.Duration { return d.MinIdle * 3 / 2 }
