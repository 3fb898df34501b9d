package web

import (
	"sync"
	"time"
)

// Login attempts are limited per client, so the board token cannot be
// guessed at the speed of the network: a client has loginFree attempts,
// then every further attempt is allowed only after a lockout that doubles
// each time (loginLockout, 2×, 4×, … up to loginLockoutMax). A successful
// login forgets the client's failures; so does loginForget without an
// attempt. The limiter is in process: each replica counts on its own, which
// multiplies the rate by the number of replicas and no more.
const (
	loginFree       = 5
	loginLockout    = 10 * time.Second
	loginLockoutMax = 15 * time.Minute
	loginForget     = time.Hour
	// loginClients bounds the memory the limiter holds; past it, new
	// clients share one entry (so flooding it with addresses locks the
	// newcomers out together instead of resetting anyone's count).
	loginClients = 10000
	loginShared  = "(others)"
)

// loginLimiter counts login attempts per client.
type loginLimiter struct {
	now     func() time.Time // the wall clock; tests set it
	mu      sync.Mutex
	clients map[string]*loginCount
}

type loginCount struct {
	attempts int       // since the last success
	until    time.Time // no attempt before then
	last     time.Time // the last attempt
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{now: time.Now, clients: map[string]*loginCount{}}
}

// attempt counts an attempt of client and reports whether it may go on;
// when not, it returns how long the client must wait.
func (l *loginLimiter) attempt(client string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.clients[client]
	if c == nil {
		if len(l.clients) >= loginClients {
			l.prune(now)
		}
		if len(l.clients) >= loginClients {
			client = loginShared
			c = l.clients[client]
		}
	}
	if c == nil {
		c = &loginCount{}
		l.clients[client] = c
	}
	if now.Before(c.until) {
		return c.until.Sub(now), false
	}
	if now.Sub(c.last) >= loginForget {
		c.attempts = 0
	}
	c.attempts++
	c.last = now
	if c.attempts >= loginFree {
		lock := loginLockout << min(c.attempts-loginFree, 10)
		c.until = now.Add(min(lock, loginLockoutMax))
	}
	return 0, true
}

// locked reports whether client must wait before its next attempt, and
// how long, without counting one: the intake counts only the wrong tokens
// (failed), so that a platform sending many deliveries at once with the
// right one is never locked out.
func (l *loginLimiter) locked(client string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[client]
	if c == nil && len(l.clients) >= loginClients {
		c = l.clients[loginShared]
	}
	if c == nil {
		return 0, false
	}
	now := l.now()
	if now.Before(c.until) {
		return c.until.Sub(now), true
	}
	return 0, false
}

// failed counts a wrong token from client (see attempt).
func (l *loginLimiter) failed(client string) { l.attempt(client) }

// succeeded forgets client's attempts: it knew the token.
func (l *loginLimiter) succeeded(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
}

// prune forgets the clients that are not locked out and made no attempt
// for loginForget.
func (l *loginLimiter) prune(now time.Time) {
	for k, c := range l.clients {
		if !now.Before(c.until) && now.Sub(c.last) >= loginForget {
			delete(l.clients, k)
		}
	}
}
