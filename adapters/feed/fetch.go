package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/mmcdole/gofeed"

	"github.com/firebreak/firebreak/workflow"
)

// accept names the feed formats, then anything: many feeds are served as
// text/html or application/octet-stream.
const accept = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"

// response is what a fetch brought.
type response struct {
	notModified        bool
	body               []byte
	etag, lastModified string
}

// fetch GETs f, conditionally on the validators of the last response. Its
// errors never quote the URL, which may carry credentials.
func (p *Poller) fetch(ctx context.Context, f workflow.Feed, prev feedState) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return response{}, errors.New("the feed URL is not a valid address")
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", accept)
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return response{}, withoutURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return response{notModified: true}, nil
	}
	if resp.StatusCode/100 != 2 {
		// Read a little, so that the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return response{}, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return response{}, fmt.Errorf("read the feed: %w", withoutURL(err))
	}
	if len(body) > MaxBody {
		return response{}, fmt.Errorf("the feed is larger than %d MiB", MaxBody>>20)
	}
	return response{body: body, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}

// withoutURL drops the URL a *url.Error quotes (it may carry credentials in
// its userinfo or query), keeping the operation and the cause.
func withoutURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue.Timeout() {
		return fmt.Errorf("%s: timed out: %w", ue.Op, ue.Err)
	}
	return fmt.Errorf("%s: %w", ue.Op, ue.Err)
}

// parse reads an RSS, Atom or JSON feed document.
func parse(body []byte) (*gofeed.Feed, error) {
	doc, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("not a feed: %w", err)
	}
	return doc, nil
}

// Redact returns raw with its userinfo and the values of its query replaced
// by "REDACTED", for logs: a feed's address may carry its credentials.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an invalid address)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
