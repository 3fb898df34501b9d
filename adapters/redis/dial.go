package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// Mode is how Redis is deployed, which decides how its URL reads and which
// client talks to it.
type Mode string

// Modes of deployment.
const (
	// ModeSingle is one Redis (perhaps with replicas nobody fails over to):
	// redis://[user:secret@]host:port/db, go-redis's ParseURL.
	ModeSingle Mode = "single"
	// ModeCluster is a Redis Cluster: redis://[user:secret@]host1:port1?addr=host2:port2&addr=...,
	// go-redis's ParseClusterURL. Any reachable node is enough; the client
	// learns the others.
	ModeCluster Mode = "cluster"
	// ModeSentinel is a master with replicas watched by Redis Sentinel:
	// redis://[user:secret@]sentinel1:port1?master_name=NAME&addr=sentinel2:port2&password=...,
	// go-redis's ParseFailoverURL. The user information before the host is
	// the Sentinels'; the master's comes from the username and password
	// query parameters.
	ModeSentinel Mode = "sentinel"
)

// DialOptions says which Redis to connect to, and how.
type DialOptions struct {
	// URL is the Redis URL, in the form of Mode; rediss:// for TLS.
	URL string
	// Mode is how Redis is deployed (ModeSingle when empty).
	Mode Mode
	// TLSCA is a PEM file of the certificate authorities that sign the
	// servers' certificates (a private CA); empty: the system's.
	TLSCA string
	// TLSCert and TLSKey are the PEM files of a client certificate and its
	// private key, for servers that ask for one (tls-auth-clients); both or
	// neither.
	TLSCert, TLSKey string
}

// Names of the DialOptions, as a SettingError tells them.
const (
	SettingURL     = "URL"
	SettingMode    = "Mode"
	SettingTLSCA   = "TLSCA"
	SettingTLSCert = "TLSCert"
	SettingTLSKey  = "TLSKey"
)

// SettingError is a DialOptions field that cannot be used: which one
// (Setting*), and why. Callers that read the options from the environment
// or flags name the variable or flag instead of the field.
type SettingError struct {
	Setting string
	Err     error
}

// Error names the setting and says what is wrong with it.
func (e *SettingError) Error() string { return "redis " + e.Setting + ": " + e.Err.Error() }

// Unwrap returns why the setting cannot be used.
func (e *SettingError) Unwrap() error { return e.Err }

func settingError(setting, format string, args ...any) error {
	return &SettingError{Setting: setting, Err: fmt.Errorf(format, args...)}
}

// Dial connects to the single Redis at rawURL ("redis://[user:secret@]host:port/db",
// or "rediss://" for TLS) and checks that it answers: DialWith in ModeSingle.
func Dial(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	return DialWith(ctx, DialOptions{URL: rawURL})
}

// DialWith connects to Redis as o says and checks that it answers. The
// client honours the deadlines of the contexts it is called with, in every
// mode. An option that cannot be used is a *SettingError; a Redis that does
// not answer is workflow.CodeUnavailable. No error shows the secrets of the
// URL, not even in part, however the URL is written.
func DialWith(ctx context.Context, o DialOptions) (goredis.UniversalClient, error) {
	client, err := dial(ctx, o)
	if err != nil {
		return nil, hideSecrets(err, o.URL)
	}
	return client, nil
}

func dial(ctx context.Context, o DialOptions) (goredis.UniversalClient, error) {
	mode := o.Mode
	if mode == "" {
		mode = ModeSingle
	}
	switch mode {
	case ModeSingle, ModeCluster, ModeSentinel:
	default:
		shown := "(not shown)"
		if modeWord.MatchString(string(mode)) {
			shown = fmt.Sprintf("%q", mode)
		}
		return nil, settingError(SettingMode, "unknown mode %s: single, cluster or sentinel", shown)
	}
	u, ok := readable(o.URL)
	if !ok {
		return nil, settingError(SettingURL, "%s does not read as one URL: percent-encode / ? # @ %% & "+
			"in the user name and secret (%%2F %%3F %%23 %%40 %%25 %%26)", Redact(o.URL))
	}
	if u.Scheme != "rediss" {
		for _, s := range []struct{ name, value string }{
			{SettingTLSCA, o.TLSCA}, {SettingTLSCert, o.TLSCert}, {SettingTLSKey, o.TLSKey},
		} {
			if s.value != "" {
				return nil, settingError(s.name, "is set, but the URL starts with %s://: TLS needs rediss://", u.Scheme)
			}
		}
	}
	files, err := loadTLSFiles(o)
	if err != nil {
		return nil, err
	}

	shown := Redact(o.URL)
	var client goredis.UniversalClient
	switch mode {
	case ModeSingle:
		opts, err := goredis.ParseURL(o.URL)
		if err != nil {
			return nil, settingError(SettingURL, "%s is not a single-Redis URL (redis://[user:secret@]host:port/db): %w", shown, err)
		}
		opts.TLSConfig = files.apply(opts.TLSConfig, false)
		opts.ContextTimeoutEnabled = true
		client = goredis.NewClient(opts)
	case ModeCluster:
		opts, err := goredis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, settingError(SettingURL, "%s is not a cluster URL (redis://[user:secret@]host1:port1?addr=host2:port2&addr=...): %w", shown, err)
		}
		opts.TLSConfig = files.apply(opts.TLSConfig, true)
		opts.ContextTimeoutEnabled = true
		cluster := goredis.NewClusterClient(opts)
		cluster.AddHook(reloadOnFailure{cluster})
		client = cluster
	case ModeSentinel:
		opts, err := goredis.ParseFailoverURL(o.URL)
		if err != nil {
			return nil, settingError(SettingURL, "%s is not a Sentinel URL (redis://sentinel1:port1?master_name=NAME&addr=sentinel2:port2): %w", shown, err)
		}
		if opts.MasterName == "" {
			return nil, settingError(SettingURL, "%s names no master: add master_name=<the name Sentinel monitors>", shown)
		}
		opts.TLSConfig = files.apply(opts.TLSConfig, true)
		opts.ContextTimeoutEnabled = true
		client = goredis.NewFailoverClient(opts)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, failOn("connect to redis", shown, err)
	}
	return client, nil
}

// reloadOnFailure makes a cluster client read the cluster's slots again as
// soon as a node cannot be reached. go-redis does so on MOVED and ASK, and
// otherwise once a minute: a master that died answers neither, so after
// its replica took over, every command for its slots would still go to the
// dead address for up to a minute. Reloads are coalesced by go-redis.
type reloadOnFailure struct{ c *goredis.ClusterClient }

func (h reloadOnFailure) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.after(ctx, err)
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.after(ctx, err)
		return err
	}
}

func (h reloadOnFailure) after(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil && unreachable(err) {
		h.c.ReloadState(ctx)
	}
}

// tlsFiles is what the TLS files of DialOptions hold.
type tlsFiles struct {
	roots *x509.CertPool
	certs []tls.Certificate
}

// loadTLSFiles reads the CA and the client certificate of o.
func loadTLSFiles(o DialOptions) (tlsFiles, error) {
	var f tlsFiles
	if o.TLSCA != "" {
		pemCA, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return f, settingError(SettingTLSCA, "read the CA file: %w", err)
		}
		f.roots = x509.NewCertPool()
		if !f.roots.AppendCertsFromPEM(pemCA) {
			return f, settingError(SettingTLSCA, "%s holds no PEM certificate", o.TLSCA)
		}
	}
	switch {
	case o.TLSCert != "" && o.TLSKey == "":
		return f, settingError(SettingTLSCert, "a client certificate needs its private key too")
	case o.TLSKey != "" && o.TLSCert == "":
		return f, settingError(SettingTLSKey, "a private key needs its client certificate too")
	case o.TLSCert != "":
		pemCert, err := os.ReadFile(o.TLSCert)
		if err != nil {
			return f, settingError(SettingTLSCert, "read the client certificate: %w", err)
		}
		if block, _ := pem.Decode(pemCert); block == nil || block.Type != "CERTIFICATE" {
			return f, settingError(SettingTLSCert, "%s does not start with a PEM certificate", o.TLSCert)
		}
		pemKey, err := os.ReadFile(o.TLSKey)
		if err != nil {
			return f, settingError(SettingTLSKey, "read the private key: %w", err)
		}
		pair, err := tls.X509KeyPair(pemCert, pemKey)
		if err != nil {
			return f, settingError(SettingTLSKey, "%s is not the private key of %s: %w", o.TLSKey, o.TLSCert, err)
		}
		f.certs = []tls.Certificate{pair}
	}
	return f, nil
}

// apply completes the TLS configuration that go-redis made of the URL (nil
// for redis://, which takes no files) with the files. Several servers share
// one configuration in a cluster and behind Sentinel: each is then checked
// against the address it is reached at, not the first host of the URL.
func (f tlsFiles) apply(c *tls.Config, manyServers bool) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	if f.roots != nil {
		c.RootCAs = f.roots
	}
	c.Certificates = f.certs
	if manyServers {
		c.ServerName = ""
	}
	return c
}

// mask replaces a secret.
const mask = "xxxxx"

var (
	// modeWord is a Mode worth quoting when it is unknown (not a URL or a
	// secret put in the wrong variable).
	modeWord = regexp.MustCompile(`^[A-Za-z_-]{1,20}$`)
	// schemeWord is a URL scheme.
	schemeWord = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,9}$`)
)

// Redact returns rawURL fit for messages and logs: the secret before the
// host and the values of password parameters replaced by "xxxxx", a lone
// user name (which go-redis sends as one) too. A URL that does not read as
// one URL — an unencoded / ? # or @ in its secret moves the host — shows
// only its scheme: which part is the secret cannot be told.
func Redact(rawURL string) string {
	u, ok := readable(rawURL)
	if !ok {
		scheme, _, found := strings.Cut(rawURL, "://")
		if !found || !schemeWord.MatchString(scheme) {
			return "(a URL that cannot be shown)"
		}
		return scheme + "://(the rest cannot be shown)"
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		if _, has := u.User.Password(); has {
			b.WriteString(url.User(u.User.Username()).String() + ":" + mask + "@")
		} else {
			b.WriteString(mask + "@")
		}
	}
	b.WriteString(u.Host + u.EscapedPath())
	if u.RawQuery != "" {
		b.WriteString("?" + redactQuery(u.RawQuery))
	}
	return b.String()
}

// readable parses rawURL when it reads as one URL the way go-redis reads
// it: no fragment, and '@' only before the host. Otherwise a secret with an
// unencoded / ? or # ends the host early and the rest of it lands in the
// port, path or query, where nothing would hide it.
func readable(rawURL string) (*url.URL, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Opaque != "" || strings.Contains(rawURL, "#") {
		return nil, false
	}
	if strings.Contains(u.Host+u.EscapedPath()+u.RawQuery, "@") {
		return nil, false
	}
	return u, true
}

// redactQuery hides the values of the password parameters. With one of
// them present, an unencoded & in its value would make the rest of the
// secret look like other parameters: only those go-redis knows are shown
// beside it.
func redactQuery(raw string) string {
	secret := hasSecretParam(raw)
	var out []string
	hidden := false
	for _, p := range strings.Split(raw, "&") {
		key, _, _ := strings.Cut(p, "=")
		switch {
		case secretParam(key):
			out = append(out, key+"="+mask)
		case !secret || knownParams[key]:
			out = append(out, p)
		case !hidden:
			hidden = true
			out = append(out, "…")
		}
	}
	return strings.Join(out, "&")
}

// knownParams are the query parameters of go-redis's ParseURL,
// ParseClusterURL and ParseFailoverURL that hold no secret.
var knownParams = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`addr client_name conn_max_idle_time conn_max_lifetime conn_max_lifetime_jitter
		context_timeout_enabled db dial_timeout dialer_retries dialer_retry_timeout disableIdentity failing_timeout_seconds
		identitySuffix idle_timeout master_name max_active_conns max_concurrent_dials max_conn_age max_idle_conns
		max_redirects max_retries max_retry_backoff min_idle_conns min_retry_backoff pipeline_pool_size
		pipeline_read_buffer_size pipeline_write_buffer_size pool_fifo pool_size pool_timeout protocol read_only
		read_timeout replica_only route_by_latency route_by_latency_tolerance route_randomly skip_verify
		unstable_resp3 use_disconnected_replicas username write_timeout`) {
		knownParams[k] = true
	}
}

// secretParam reports whether a query parameter holds a secret.
func secretParam(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "pass") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

func hasSecretParam(rawQuery string) bool {
	for _, p := range strings.Split(rawQuery, "&") {
		if key, _, _ := strings.Cut(p, "="); secretParam(key) {
			return true
		}
	}
	return false
}

// hideSecrets returns err, or an error of the same code without the text
// that go-redis or the network gave it when that text shares three or more
// characters in a row with a secret of rawURL: such text may quote part of
// a secret (the parameter names of a query whose password holds an
// unencoded &, for one).
func hideSecrets(err error, rawURL string) error {
	secrets := urlSecrets(rawURL)
	if !sharesText(err.Error(), secrets) {
		return err
	}
	what := "connect to redis " + Redact(rawURL)
	var se *SettingError
	if errors.As(err, &se) {
		what = Redact(rawURL)
	}
	const why = "the reason is not shown: it has text in common with the secret of the URL"
	if !sharesText(what, secrets) {
		what += ": " + why
	} else {
		what = "redis: " + why
	}
	hidden := errors.New(what)
	switch {
	case se != nil:
		return &SettingError{Setting: se.Setting, Err: hidden}
	case workflow.ErrorCode(err) == workflow.CodeUnavailable:
		return workflow.Unavailable(hidden)
	}
	return hidden
}

// urlSecrets returns the secrets of rawURL as written and decoded: the
// secret of the user information (all of it when it is a lone name), the
// values of password parameters and, beside those, the parameters go-redis
// does not know (an unencoded & splits a value into parameters). Of a URL
// that does not read as one, everything after the scheme.
func urlSecrets(rawURL string) []string {
	u, ok := readable(rawURL)
	if !ok {
		_, rest, _ := strings.Cut(rawURL, "://")
		return []string{rest}
	}
	var out []string
	if u.User != nil {
		written := u.User.String()
		if p, has := u.User.Password(); has {
			_, escaped, _ := strings.Cut(written, ":")
			out = append(out, p, escaped)
		} else {
			out = append(out, u.User.Username(), written)
		}
	}
	if !hasSecretParam(u.RawQuery) {
		return out
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		key, value, _ := strings.Cut(p, "=")
		switch {
		case secretParam(key):
			decoded, _ := url.QueryUnescape(value)
			out = append(out, value, decoded)
		case !knownParams[key]:
			decoded, _ := url.QueryUnescape(p)
			out = append(out, p, decoded)
		}
	}
	return out
}

// sharesText reports whether text holds three or more characters in a row
// of any of secrets.
func sharesText(text string, secrets []string) bool {
	for _, s := range secrets {
		r := []rune(s)
		for i := 0; i+3 <= len(r); i++ {
			if strings.Contains(text, string(r[i:i+3])) {
				return true
			}
		}
	}
	return false
}
