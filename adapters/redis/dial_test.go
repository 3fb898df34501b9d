package redis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
)

// leaked returns the first piece of three or more characters in a row of
// any of secrets (as written or decoded) that text shows, or "".
func leaked(text string, secrets ...string) string {
	for _, s := range secrets {
		r := []rune(s)
		for i := 0; i+3 <= len(r); i++ {
			if piece := string(r[i : i+3]); strings.Contains(text, piece) {
				return piece
			}
		}
	}
	return ""
}

// closedAddr is an address of 127.0.0.1 where nothing listens.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// secretURLs are URLs whose secrets hold the characters that move parts
// of a URL: HOST stands for an address where nothing listens.
var secretURLs = []struct {
	name    string
	url     string
	secrets []string
	want    string // what Redact shows ("" when only its shape is checked)
}{
	{"plain", "redis://:Zq8vK2xw@HOST/0", []string{"Zq8vK2xw"}, "redis://:xxxxx@HOST/0"},
	{"user and secret", "redis://fb:Zq8vK2xw@HOST/0", []string{"Zq8vK2xw"}, "redis://fb:xxxxx@HOST/0"},
	{"secret without colon", "redis://Zq8vK2xw@HOST", []string{"Zq8vK2xw"}, "redis://xxxxx@HOST"},
	{"unencoded slash", "redis://:xx/word@HOST", []string{"xx/word"}, "redis://(the rest cannot be shown)"},
	{"unencoded slash after digits", "redis://:6380/wXrd9@HOST", []string{"6380/wXrd9"}, "redis://(the rest cannot be shown)"},
	{"unencoded at", "redis://:p@ss@HOST", []string{"p@ss"}, "redis://:xxxxx@HOST"},
	{"unencoded at and slash", "redis://:xx@ss/word@HOST", []string{"xx@ss/word"}, "redis://(the rest cannot be shown)"},
	{"unencoded question mark", "redis://:pv?Qz1@HOST", []string{"pv?Qz1"}, "redis://(the rest cannot be shown)"},
	{"unencoded hash", "redis://:pv#Qz1@HOST", []string{"pv#Qz1"}, "redis://(the rest cannot be shown)"},
	{"unencoded space", "redis://:pv Qz1@HOST", []string{"pv Qz1"}, "redis://(the rest cannot be shown)"},
	{"percent-encoded", "redis://:xx%2Fw%40rd@HOST", []string{"xx/w@rd", "xx%2Fw%40rd"}, "redis://:xxxxx@HOST"},
	{"bad escape", "redis://:xx%zzword@HOST", []string{"xx%zzword"}, "redis://(the rest cannot be shown)"},
	{"secret in a single-Redis query", "redis://HOST/0?password=Qy3r&Kp1", []string{"Qy3r&Kp1"}, "redis://HOST/0?password=xxxxx&…"},
	{"no scheme", ":Zq8vK2xw@HOST", []string{"Zq8vK2xw"}, "(a URL that cannot be shown)"},
	{"cluster", "redis://:Hj4kQ9zv@HOST?addr=127.0.0.1:1&addr=127.0.0.1:2", []string{"Hj4kQ9zv"},
		"redis://:xxxxx@HOST?addr=127.0.0.1:1&addr=127.0.0.1:2"},
	{"cluster, unencoded slash", "redis://:Hj/4kQ9zv@HOST?addr=127.0.0.1:1", []string{"Hj/4kQ9zv"}, "redis://(the rest cannot be shown)"},
	{"cluster, secret in the query", "redis://HOST?addr=127.0.0.1:1&password=Hj4kQ9zv", []string{"Hj4kQ9zv"},
		"redis://HOST?addr=127.0.0.1:1&password=xxxxx"},
	{"sentinel", "redis://HOST?master_name=mymaster&password=Wq7zPv4k&addr=127.0.0.1:1", []string{"Wq7zPv4k"},
		"redis://HOST?master_name=mymaster&password=xxxxx&addr=127.0.0.1:1"},
	{"sentinel, both secrets", "redis://:Ty6nBq2j@HOST?master_name=mymaster&username=fb&password=Wq7zPv4k",
		[]string{"Ty6nBq2j", "Wq7zPv4k"}, "redis://:xxxxx@HOST?master_name=mymaster&username=fb&password=xxxxx"},
	{"sentinel, unencoded ampersand", "redis://HOST?master_name=mymaster&password=Wq7&zPv4k&addr=127.0.0.1:1",
		[]string{"Wq7&zPv4k"}, "redis://HOST?master_name=mymaster&password=xxxxx&…&addr=127.0.0.1:1"},
	{"sentinel, unencoded at", "redis://HOST?master_name=mymaster&password=Wq7@zPv4k", []string{"Wq7@zPv4k"},
		"redis://(the rest cannot be shown)"},
	{"sentinel, unencoded hash", "redis://HOST?master_name=mymaster&password=Wq7#zPv4k", []string{"Wq7#zPv4k"},
		"redis://(the rest cannot be shown)"},
	{"sentinel, percent-encoded", "redis://HOST?master_name=mymaster&password=Wq7%26z%40Pv4k", []string{"Wq7&z@Pv4k", "Wq7%26z%40Pv4k"},
		"redis://HOST?master_name=mymaster&password=xxxxx"},
}

func TestRedactHidesEverySecret(t *testing.T) {
	for _, tt := range secretURLs {
		t.Run(tt.name, func(t *testing.T) {
			got := redis.Redact(tt.url)
			if piece := leaked(got, tt.secrets...); piece != "" {
				t.Errorf("Redact(%s) = %s: shows %q of the secret", tt.url, got, piece)
			}
			if got != tt.want {
				t.Errorf("Redact(%s):\ngot  %s\nwant %s", tt.url, got, tt.want)
			}
		})
	}
}

// TestDialErrorsHideEverySecret dials each URL, in each mode, where
// nothing listens: whether go-redis refuses the URL or the connection
// fails, the error shows no part of the secret. (The dials run at once:
// most wait for their deadline.)
func TestDialErrorsHideEverySecret(t *testing.T) {
	host := closedAddr(t)
	modes := []redis.Mode{redis.ModeSingle, redis.ModeCluster, redis.ModeSentinel}
	errs := make([][]error, len(secretURLs))
	var wg sync.WaitGroup
	for i, tt := range secretURLs {
		errs[i] = make([]error, len(modes))
		for j, mode := range modes {
			wg.Go(func() {
				dialCtx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				c, err := redis.DialWith(dialCtx, redis.DialOptions{URL: strings.ReplaceAll(tt.url, "HOST", host), Mode: mode})
				if err == nil {
					_ = c.Close()
				}
				errs[i][j] = err
			})
		}
	}
	wg.Wait()
	for i, tt := range secretURLs {
		for j, mode := range modes {
			t.Run(tt.name+"/"+string(mode), func(t *testing.T) {
				err := errs[i][j]
				if err == nil {
					t.Fatalf("DialWith(%s, %s): got a client, want an error (nothing listens)", tt.url, mode)
				}
				if piece := leaked(err.Error(), tt.secrets...); piece != "" {
					t.Errorf("DialWith(%s, %s): %v\nshows %q of the secret", tt.url, mode, err, piece)
				}
			})
		}
	}
}

// TestDialRefusedSecretHidden dials a Redis that requires a password with
// wrong ones: Redis's refusal shows no part of them.
func TestDialRefusedSecretHidden(t *testing.T) {
	redistest.RequireServers(t)
	srv := redistest.StartServer(t, "requirepass right-one-1")
	for _, secret := range []string{"xx/word", "wrongpass", "p@ss:w0rd"} {
		url := "redis://:" + strings.NewReplacer("/", "%2F", "@", "%40").Replace(secret) + "@" + srv.Addr() + "/0"
		_, err := redis.DialWith(ctx, redis.DialOptions{URL: url})
		if err == nil {
			t.Fatalf("DialWith with secret %q: got a client, want WRONGPASS", secret)
		}
		if piece := leaked(err.Error(), secret, "right-one-1"); piece != "" {
			t.Errorf("DialWith with secret %q: %v\nshows %q of it", secret, err, piece)
		}
	}
	c, err := redis.DialWith(ctx, redis.DialOptions{URL: "redis://:right-one-1@" + srv.Addr() + "/0"})
	if err != nil {
		t.Fatalf("DialWith the right secret: %v", err)
	}
	_ = c.Close()
}

func TestDialSettingErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	for _, tt := range []struct {
		name    string
		opts    redis.DialOptions
		setting string
		phrase  string
	}{
		{"unknown mode", redis.DialOptions{URL: "redis://127.0.0.1:1", Mode: "clustre"}, redis.SettingMode, `unknown mode "clustre"`},
		{"a secret for a mode", redis.DialOptions{URL: "redis://127.0.0.1:1", Mode: "redis://:Zq8vK2xw@h"}, redis.SettingMode, "unknown mode (not shown)"},
		{"not a URL", redis.DialOptions{URL: "127.0.0.1:6379"}, redis.SettingURL, "does not read as one URL"},
		{"wrong scheme", redis.DialOptions{URL: "http://127.0.0.1:6379"}, redis.SettingURL, "not a single-Redis URL"},
		{"unknown option", redis.DialOptions{URL: "redis://127.0.0.1:1?dial_timout=1s", Mode: redis.ModeCluster}, redis.SettingURL, "dial_timout"},
		{"sentinel without master", redis.DialOptions{URL: "redis://127.0.0.1:1?addr=127.0.0.1:2", Mode: redis.ModeSentinel}, redis.SettingURL, "master_name"},
		{"CA with redis://", redis.DialOptions{URL: "redis://127.0.0.1:1", TLSCA: pki.ca}, redis.SettingTLSCA, "rediss://"},
		{"client certificate with redis://", redis.DialOptions{URL: "redis://127.0.0.1:1", Mode: redis.ModeCluster, TLSCert: pki.clientCert, TLSKey: pki.clientKey},
			redis.SettingTLSCert, "rediss://"},
		{"CA unreadable", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSCA: missing}, redis.SettingTLSCA, "missing.pem"},
		{"CA not PEM", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSCA: garbage}, redis.SettingTLSCA, "no PEM certificate"},
		{"certificate without key", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSCert: pki.clientCert}, redis.SettingTLSCert, "private key"},
		{"key without certificate", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSKey: pki.clientKey}, redis.SettingTLSKey, "certificate"},
		{"certificate not PEM", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSCert: garbage, TLSKey: pki.clientKey}, redis.SettingTLSCert, "PEM certificate"},
		{"key unreadable", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSCert: pki.clientCert, TLSKey: missing}, redis.SettingTLSKey, "missing.pem"},
		{"key of another certificate", redis.DialOptions{URL: "rediss://127.0.0.1:1", TLSCert: pki.clientCert, TLSKey: pki.serverKey},
			redis.SettingTLSKey, "not the private key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redis.DialWith(ctx, tt.opts)
			var se *redis.SettingError
			if !errors.As(err, &se) || se.Setting != tt.setting {
				t.Fatalf("got %v, want a SettingError of %s", err, tt.setting)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("got %q, want it to say %q", err, tt.phrase)
			}
			if piece := leaked(err.Error(), "Zq8vK2xw"); piece != "" {
				t.Errorf("got %q: shows %q of the secret", err, piece)
			}
		})
	}
}

// TestDialTLS connects to a Redis that speaks TLS only and asks for a
// client certificate, both signed by a private CA.
func TestDialTLS(t *testing.T) {
	redistest.RequireServers(t)
	pki := newPKI(t, t.TempDir())
	srv := redistest.StartTLSServer(t, pki.clientConfig(t),
		"tls-cert-file "+pki.serverCert, "tls-key-file "+pki.serverKey, "tls-ca-cert-file "+pki.ca, "tls-auth-clients yes")
	url := "rediss://" + srv.Addr() + "/0?max_retries=-1"
	full := redis.DialOptions{URL: url, TLSCA: pki.ca, TLSCert: pki.clientCert, TLSKey: pki.clientKey}

	c, err := redis.DialWith(ctx, full)
	if err != nil {
		t.Fatalf("DialWith(TLS with CA and client certificate): %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if opts := c.(*goredis.Client).Options(); !opts.ContextTimeoutEnabled || opts.TLSConfig.MinVersion < tls.VersionTLS12 {
		t.Errorf("options: ContextTimeoutEnabled %v, TLS MinVersion %x; want true, at least TLS 1.2",
			opts.ContextTimeoutEnabled, opts.TLSConfig.MinVersion)
	}
	store := redis.New(c, redis.Options{Prefix: randomPrefix()})
	if err := store.Ping(ctx); err != nil {
		t.Errorf("Ping over TLS: %v", err)
	}
	if id, _, err := store.NextID(ctx, ""); err != nil || id != "YQ-1" {
		t.Errorf("NextID over TLS: got %q, %v; want YQ-1", id, err)
	}

	for _, tt := range []struct {
		name string
		opts redis.DialOptions
	}{
		{"without the private CA", redis.DialOptions{URL: url, TLSCert: pki.clientCert, TLSKey: pki.clientKey}},
		{"without a client certificate", redis.DialOptions{URL: url, TLSCA: pki.ca}},
		{"over plain TCP", redis.DialOptions{URL: "redis://" + srv.Addr() + "/0?max_retries=-1&read_timeout=300ms"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dialCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			c, err := redis.DialWith(dialCtx, tt.opts)
			if err == nil {
				_ = c.Close()
				t.Fatal("got a client, want an error")
			}
		})
	}
}

// pki is a private CA with a server certificate for 127.0.0.1 and a
// client certificate, as PEM files.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func (p pki) clientConfig(tb testing.TB) *tls.Config {
	tb.Helper()
	pair, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	pemCA, err := os.ReadFile(p.ca)
	if err != nil || !roots.AppendCertsFromPEM(pemCA) {
		tb.Fatalf("CA %s: %v", p.ca, err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

func newPKI(tb testing.TB, dir string) pki {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Firebreak test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			tb.Fatal(err)
		}
		return path
	}
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			tb.Fatal(err)
		}
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", keyDER)
	}
	p := pki{ca: write("ca.crt", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}
