package bot

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// A Plugin is a chat platform's adapter as the composition root runs it:
// the rules of its accounts and addresses in the roster, the settings it
// reads from the environment and how it starts. Each adapter exports one;
// the list of them in cmd/firebreak is all the wiring a platform needs.
type Plugin struct {
	// Platform names the platform and checks its IDs in the roster.
	Platform workflow.Platform
	// Settings returns the adapter's settings, not yet read: a pointer to
	// a struct whose envconfig tags name its environment variables (under
	// the FIREBREAK_ prefix, so that `firebreak config` lists them with
	// the rest) and whose desc tags say what they are.
	Settings func() PluginSettings
}

// PluginSettings are one platform's settings, read from the environment.
type PluginSettings interface {
	// Enabled reports whether they ask for the platform (one of its
	// variables is set): Firebreak then runs it instead of the
	// playground, and the roster must give it its channels.
	Enabled() bool
	// Start builds the adapter from the settings and host, registers its
	// endpoints on host.Mux, starts what it runs in the background and
	// returns its outbox sender. stop ends what Start started and waits
	// for it; it is called before the store closes. Settings that cannot
	// work are an error naming their variables, never their values.
	Start(ctx context.Context, host Host) (sender Sender, stop func(), err error)
}

// Host is what the application gives a platform adapter.
type Host struct {
	Router *Router
	Roster *workflow.Roster
	// Locale is the language of the adapter's own texts (en or zh-CN).
	Locale string
	Log    *slog.Logger
	// Clock is the application's clock (demo time when scaled). Checks
	// against real time, such as request signatures, keep their own.
	Clock   workflow.Clock
	Metrics *Metrics
	// Mux serves the adapter's endpoints (webhooks, slash commands).
	Mux *http.ServeMux
	// Locker lets a request sent twice (a platform's retry, a replay)
	// take effect once across replicas.
	Locker OnceLocker
	// State returns the adapter's keeping in the store, shared by
	// replicas, under keys of its platform's name.
	State func(platform string) PlatformState
	// StoreSince is when the store came to be (initialised empty): a
	// request a platform signed before it was meant for a store that was
	// lost, and the record that it was handled went with it, so an adapter
	// refuses it rather than run it again. Zero: no such check.
	StoreSince time.Time
}

// OnceLocker takes expiring locks and guards requests (see Once).
type OnceLocker interface {
	Locker
	// Once guards the request that runs with the returned context by key
	// for ttl.
	Once(ctx context.Context, key string, ttl time.Duration) (context.Context, Once)
}

// PlatformState is what a platform adapter keeps in the store.
type PlatformState interface {
	Memo
	Lease
	UpdateLog
}

// Lease lets one replica at a time hold a role (polling, since Telegram
// allows one getUpdates caller per bot). Owners are random tokens.
type Lease interface {
	// AcquireLease makes owner the holder of name for ttl unless another
	// owner holds it (renewing it when owner does) and reports whether owner
	// holds it after the call.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// RenewLease extends name to ttl from now while owner holds it and
	// reports whether it does.
	RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives name up if owner holds it.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// UpdateLog remembers which numbered updates of a platform (Telegram's
// update_id) were handled, so that the platform's retries of a webhook
// delivery and a new poller's re-reads are handled once, and an update
// whose handling failed half-way resumes where it stopped.
type UpdateLog interface {
	// ClaimUpdate claims update id for lease for the try named try (a
	// token unique to one try). claimed=false means it was handled
	// (done=true) or another try holds it (done=false); the same try
	// claiming again (the claim sent again after its reply timed out) is
	// claimed. When claimed, saved is the outcome an earlier try stored,
	// or nil.
	ClaimUpdate(ctx context.Context, id int64, try string, lease time.Duration) (claimed, done bool, saved []byte, err error)
	// SaveUpdate stores what remains to be done for a claimed update.
	SaveUpdate(ctx context.Context, id int64, outcome []byte) error
	// FinishUpdate marks update id handled.
	FinishUpdate(ctx context.Context, id int64) error
	// AbandonUpdate drops try's claim so the next try may claim it at once;
	// a claim held by another try is left alone.
	AbandonUpdate(ctx context.Context, id int64, try string) error
}

// Memo is a small shared key-value memo: message references per thread,
// the text and buttons of sent messages, reply prompts and migrated chats.
// A zero ttl means no expiry.
type Memo interface {
	// SetMemo stores value under key.
	SetMemo(ctx context.Context, key, value string, ttl time.Duration) error
	// GetMemo returns the value under key and whether there is one.
	GetMemo(ctx context.Context, key string) (string, bool, error)
	// SetMemoFields sets fields of the hash under key and its expiry.
	SetMemoFields(ctx context.Context, key string, fields map[string]string, ttl time.Duration) error
	// MemoFields returns every field of the hash under key.
	MemoFields(ctx context.Context, key string) (map[string]string, error)
	// DeleteMemoFields deletes fields of the hash under key.
	DeleteMemoFields(ctx context.Context, key string, fields ...string) error
}
