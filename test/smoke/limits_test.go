package smoke

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// bodyReadDeadline is the binary's ReadTimeout: a request, body included,
// must arrive within it.
const bodyReadDeadline = 10 * time.Second

// TestSlowBodyClientsAreCutOff is the attack of issue 11: 50 connections
// each sending a slash command's body at one byte a second. Each is cut off
// once the read deadline passes (they stayed open for a whole minute
// before), and the server answers others meanwhile.
func TestSlowBodyClientsAreCutOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1})
	p := w.start("a")
	const clients = 50
	allowed := bodyReadDeadline + 3*time.Second
	results := make(chan error, clients)
	for i := range clients {
		go func() {
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				results <- err
				return
			}
			defer conn.Close()
			start := time.Now()
			body := "token=x&team_id=T0SMOKE&user_id=U0CHEN&command=%2Fincident&text=help" + strings.Repeat("&pad=x", 20)
			fmt.Fprintf(conn, "POST /slack/commands HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
				"Content-Length: %d\r\nX-Slack-Request-Timestamp: %d\r\nX-Slack-Signature: v0=00\r\n\r\n", p.addr, len(body), start.Unix())
			go func() {
				for j := range len(body) {
					if _, err := conn.Write([]byte{body[j]}); err != nil {
						return
					}
					time.Sleep(time.Second)
				}
			}()
			_ = conn.SetReadDeadline(start.Add(allowed))
			_, err = io.Copy(io.Discard, conn)
			took := time.Since(start)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				results <- fmt.Errorf("client %d: still connected after %s, want cut off within %s", i, took.Round(time.Millisecond), allowed)
				return
			}
			results <- nil
		}()
	}
	time.Sleep(2 * time.Second)
	resp, err := httpClient.Get("http://" + p.addr + "/readyz")
	if err != nil {
		t.Fatalf("readyz while %d clients trickle: %v", clients, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz while %d clients trickle: got %d, want 200", clients, resp.StatusCode)
	}
	for range clients {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
}
