package feed

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/firebreak/firebreak/workflow"
)

// maxID is the longest item ID the intake takes, in bytes.
const maxID = 200

// entry is one item of a fetched feed.
type entry struct {
	item workflow.Item
	// key identifies the item between fetches: a hash of its ID, or of
	// its text when it has none.
	key string
	// dated says FoundAt is the item's own date (not now, not clamped).
	dated bool
	// skip: not to be delivered (too old, or nothing to show).
	skip bool
}

// entries turns the items of doc into intake items of f, in the feed's
// order, each item once; now is the intake's clock.
func entries(doc *gofeed.Feed, f workflow.Feed, now time.Time) []entry {
	source := sourceOf(f)
	base, _ := url.Parse(f.URL)
	if base != nil {
		// Links are resolved against the feed's address without its
		// credentials.
		base.User, base.RawQuery, base.ForceQuery = nil, "", false
	}
	var out []entry
	keys := map[string]bool{}
	for _, fi := range doc.Items {
		if fi == nil {
			continue
		}
		e := toEntry(fi, source, base, now)
		if keys[e.key] {
			continue
		}
		keys[e.key] = true
		out = append(out, e)
	}
	return out
}

func toEntry(fi *gofeed.Item, source string, base *url.URL, now time.Time) entry {
	it := workflow.Item{
		Source: source,
		URL:    link(fi, base),
		Title:  cut(strings.Join(strings.Fields(plainText(fi.Title)), " "), workflow.MaxTitle),
	}
	desc := fi.Description
	if strings.TrimSpace(desc) == "" {
		desc = fi.Content
	}
	it.Excerpt = cut(plainText(desc), workflow.MaxExcerpt)
	for _, a := range fi.Authors {
		if a != nil && a.Name != "" {
			it.Author = cut(strings.Join(strings.Fields(clean(a.Name)), " "), 200)
			break
		}
	}
	if it.Author == "" && fi.Author != nil {
		it.Author = cut(strings.Join(strings.Fields(clean(fi.Author.Name)), " "), 200)
	}

	id := strings.TrimSpace(clean(fi.GUID))
	if id == "" {
		id = it.URL
	}
	if len(id) > maxID {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:20])
	}
	it.ID = id

	e := entry{item: it}
	if id != "" {
		e.key = hash("id\x00" + id)
	} else {
		e.key = hash("text\x00" + it.Title + "\x00" + it.Excerpt)
	}

	switch {
	case fi.PublishedParsed != nil && !fi.PublishedParsed.IsZero():
		e.item.FoundAt, e.dated = *fi.PublishedParsed, true
	case fi.UpdatedParsed != nil && !fi.UpdatedParsed.IsZero():
		e.item.FoundAt, e.dated = *fi.UpdatedParsed, true
	default:
		e.item.FoundAt = now
	}
	switch {
	case e.item.FoundAt.After(now):
		// A date ahead of the intake's clock is a wrong date, not the
		// newest of all: it would also hold back every later item.
		e.item.FoundAt, e.dated = now, false
	case now.Sub(e.item.FoundAt) > MaxAge:
		e.skip = true
	}
	if e.item.Title == "" && e.item.Excerpt == "" {
		e.skip = true
	}
	return e
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// link is the item's address, absolute, without userinfo; "" when it is not
// an http(s) address the intake takes.
func link(fi *gofeed.Item, base *url.URL) string {
	raw := strings.TrimSpace(fi.Link)
	if raw == "" && len(fi.Links) > 0 {
		raw = strings.TrimSpace(fi.Links[0])
	}
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	u.User = nil
	s := u.String()
	if len(s) > 2000 || clean(s) != s || workflow.NormalizeURL(s) == "" {
		return ""
	}
	return s
}

// plainText returns the text of an HTML fragment: tags dropped (and what
// scripts and styles hold), entities decoded, blocks on lines of their own,
// runs of spaces as one, trimmed.
func plainText(s string) string {
	s = clean(s)
	if !strings.ContainsAny(s, "<&") {
		return tidy(s)
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	hidden := 0 // depth inside script, style and the like
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidy(clean(b.String()))
		case html.TextToken:
			if hidden == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch {
			case invisible[a]:
				if tt == html.StartTagToken {
					hidden++
				} else if tt == html.EndTagToken && hidden > 0 {
					hidden--
				}
			case block[a]:
				b.WriteByte('\n')
			case a == atom.Td || a == atom.Th:
				b.WriteByte(' ')
			}
		}
	}
}

// invisible elements hold no text a reader sees.
var invisible = map[atom.Atom]bool{atom.Script: true, atom.Style: true, atom.Template: true, atom.Noscript: true, atom.Head: true}

// block elements break lines.
var block = map[atom.Atom]bool{
	atom.Br: true, atom.P: true, atom.Div: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.Tr: true, atom.Table: true, atom.Blockquote: true, atom.Pre: true, atom.Hr: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true, atom.Figure: true,
	atom.Figcaption: true, atom.Dd: true, atom.Dt: true,
}

// tidy collapses each run of spaces within a line to one, drops blank
// lines and trims.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// clean makes s valid UTF-8 and drops what the intake refuses in text and a
// reader cannot see: control characters but newline (a tab becomes a
// space), direction overrides and isolates, byte-order marks. A feed is not
// a person who can be asked to retype.
func clean(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\r\n", "\n"), "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0),
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0xfeff:
			return -1
		}
		return r
	}, s)
}

// cut shortens s to at most n characters, as the intake would.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:n-1])) + "…"
}
