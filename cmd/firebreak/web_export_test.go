package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// TestExportOnRedis exports the incidents of the real router and store: open
// ones from the open index and resolved ones from the resolved index, by
// the day they were found, with the board's token rules.
func TestExportOnRedis(t *testing.T) {
	start := transcriptStart.Add(irregularStart - 40*24*time.Hour)
	clock := workflow.NewManualClock(start)
	const token = "export-test-token"
	pg := startWeb(t, Config{}, true, clock)
	run := func(actor, text string) {
		t.Helper()
		body := fmt.Sprintf(`{"actor":%s,"text":%s}`, js(actor), js(text))
		if r := postPlayground(t, pg.URL+"/api/v1/playground/command", body); r == nil || r.Failed {
			t.Fatalf("%s: %s: got %+v", actor, text, r)
		}
	}
	run("chen", `/incident open "Old, resolved"`) // YQ-1, found 40 days ago
	run("chen", "/incident resolve YQ-1 override answered in person")
	run("chen", `/incident open "Old, open"`) // YQ-2
	clock.Set(transcriptStart.Add(irregularStart))
	run("chen", `/incident open "食堂投诉, 第二次" level:major`) // YQ-3
	run("chen", `/incident open "=1+1 resolved"`)         // YQ-4
	run("chen", "/incident resolve YQ-4 override answered by phone")

	get := func(path string) (int, []byte) {
		t.Helper()
		res, err := http.Get(pg.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	rows := func(path string) [][]string {
		t.Helper()
		code, b := get(path)
		if code != http.StatusOK || !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			t.Fatalf("GET %s: got %d %q, want 200 and a CSV with a BOM", path, code, b)
		}
		recs, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
		if err != nil {
			t.Fatalf("read %q: %v", b, err)
		}
		return recs[1:]
	}
	col := func(recs [][]string, i int) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r[i])
		}
		return out
	}

	// The resolved first, in the order resolved, then the open by discovery.
	recent := rows("/api/v1/incidents.csv")
	if got, want := col(recent, 0), []string{"YQ-4", "YQ-3"}; !slices.Equal(got, want) {
		t.Errorf("the last 30 days: got %q, want %q", got, want)
	}
	if got, want := col(recent, 1), []string{"'=1+1 resolved", "食堂投诉, 第二次"}; !slices.Equal(got, want) {
		t.Errorf("titles: got %q, want %q", got, want)
	}
	if got := col(recent, 6); len(got) != 2 || got[0] != "resolved" || got[1] == "resolved" {
		t.Errorf("statuses: got %q, want YQ-4 resolved and YQ-3 open", got)
	}
	from := start.In(pg.a.roster.Location()).Format(time.DateOnly)
	all := rows("/api/v1/incidents.csv?from=" + from)
	if got, want := col(all, 0), []string{"YQ-1", "YQ-4", "YQ-2", "YQ-3"}; !slices.Equal(got, want) {
		t.Errorf("from %s: got %q, want %q", from, got, want)
	}
	if code, b := get("/api/v1/incidents.json?from=" + from + "&to=" + from); code != http.StatusOK ||
		!bytes.Contains(b, []byte(`"count":2`)) || !bytes.Contains(b, []byte(`"id":"YQ-1"`)) {
		t.Errorf("JSON of %s: got %d %.300s, want YQ-1 and YQ-2", from, code, b)
	}

	// In production the same export, on the same app, needs the token.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	mux := http.NewServeMux()
	if _, err := setupWeb(ctx, pg.a, Config{BoardToken: token}, mux, false); err != nil {
		t.Fatal(err)
	}
	prod := httptest.NewServer(mux)
	t.Cleanup(prod.Close)
	for _, path := range []string{"/api/v1/incidents.csv", "/api/v1/incidents.json"} {
		res, err := http.Get(prod.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("production GET %s without the token: got %d, want 401", path, res.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodGet, prod.URL+path+"?from="+from, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("YQ-1")) || !bytes.Contains(b, []byte("YQ-4")) {
			t.Errorf("production GET %s with the token: got %d %.200q, want 200 with YQ-1 to YQ-4", path, res.StatusCode, b)
		}
	}
}
