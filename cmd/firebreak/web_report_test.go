package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// reportStatement is the reply published in the report's incident.
const reportStatement = "Route 42 runs again from Monday; the bus company apologised to the residents."

// TestReportPrintsToPDF: the handling report of an incident handled
// through the real router, printed by Chromium as a person would print it:
// A4, a page per section, the incident's ID and its published reply on the
// first page, the facts on the second. With FIREBREAK_SCREENSHOTS=1 it also
// writes docs/report.png, the first page as the screen shows it.
func TestReportPrintsToPDF(t *testing.T) {
	w := startWeb(t, Config{}, true, nil)
	clock := w.a.clock.(*workflow.ManualClock)
	say := func(after time.Duration, as, text string) {
		t.Helper()
		clock.Advance(after)
		r := w.a.router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformWeb, Actor: as, Conversation: "playground", Text: text})
		if r.Failed {
			t.Fatalf("%s: %s: %s", as, text, r.Text)
		}
	}
	say(0, "li", "open Bus route 42 complaint level:major category:inquiry found:20m")
	say(2*time.Minute, "wang", "receive YQ-1")
	say(time.Minute, "zhao", "receive YQ-1")
	say(time.Minute, "li", "ack YQ-1")
	say(5*time.Minute, "li", "update YQ-1 posts:24 views:3000 heat:35 Reposted in the parents' group")
	say(10*time.Minute, "li", "draft YQ-1 We are looking into it.")
	say(5*time.Minute, "zhao", "reject YQ-1 Say when the route runs again")
	say(5*time.Minute, "li", "draft YQ-1 "+reportStatement)
	say(5*time.Minute, "wang", "approve YQ-1")
	say(2*time.Minute, "zhao", "approve YQ-1")
	say(3*time.Minute, "sun", "publish YQ-1")
	say(20*time.Minute, "li", "update YQ-1 posts:30 views:9500 heat:28 Calmer since the statement")
	say(30*time.Minute, "li", "report-up YQ-1 Phoned the county office")
	say(2*time.Hour, "li", "resolve YQ-1 Route restored; residents informed")

	rec, err := http.Get(w.URL + "/incidents/YQ-1/report.md")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(rec.Body)
	rec.Body.Close()
	if rec.StatusCode != http.StatusOK || !strings.Contains(string(md), reportStatement) {
		t.Fatalf("GET report.md: %d %s", rec.StatusCode, md)
	}

	b := newBrowser(t)
	tab := b.tab()
	do(t, tab, "open the report", chromedp.EmulateViewport(1000, 1200), chromedp.Navigate(w.URL+"/incidents/YQ-1/report"))
	waitFor(t, tab, "the report and its chart", `document.querySelector("#section-timeline") !== null && document.querySelectorAll("svg .figure-series").length === 3`)
	preferCSS := true
	res, err := chromedp.Call(tab, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &preferCSS})
	if err != nil {
		t.Fatalf("print to PDF: %v", err)
	}
	pages := pdfPageTexts(t, res.Data)
	sections := eval[int](t, tab, `document.querySelectorAll(".report-section").length`)
	if len(pages) < sections {
		t.Fatalf("the PDF has %d pages for %d sections, want a page at least for each", len(pages), sections)
	}
	for _, want := range []string{"YQ-1", "Handling report", reportStatement} {
		if !strings.Contains(squeeze(pages[0]), squeeze(want)) {
			t.Errorf("page 1 of the PDF lacks %q; it reads:\n%s", want, pages[0])
		}
	}
	if p2 := squeeze(pages[1]); !strings.HasPrefix(p2, squeeze("Facts and grading")) {
		t.Errorf("page 2 does not start with the facts (a page per section); it reads:\n%s", pages[1])
	}
	if w, h := pdfPageSize(t, res.Data); w < 594 || w > 596 || h < 841 || h > 843 {
		t.Errorf("the page is %.1f × %.1f pt, want A4 (595 × 842)", w, h)
	}

	if os.Getenv("FIREBREAK_SCREENSHOTS") != "" {
		path := filepath.Join("..", "..", "docs", "report.png")
		// The first page as the screen shows it: the sheet from its top
		// to where the second section (the second printed page) starts.
		clip := eval[[]float64](t, tab, `(() => { const a = document.querySelector(".report").getBoundingClientRect();
			const f = document.querySelector("#section-facts").getBoundingClientRect();
			return [a.left + scrollX, a.top + scrollY, a.width, f.top - a.top]; })()`)
		captureBeyond := true
		png, err := chromedp.Call(tab, page.CaptureScreenshot, page.CaptureScreenshotParams{CaptureBeyondViewport: &captureBeyond,
			Clip: &page.Viewport{X: clip[0], Y: clip[1], Width: clip[2], Height: clip[3], Scale: 1}})
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(path, png.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote docs/report.png (%d KiB)", len(png.Data)/1024)
	}
}

// squeeze drops the white space of s (a PDF places words, it need not
// write the spaces between them) and undoes the ligatures fonts set.
func squeeze(s string) string {
	s = strings.NewReplacer("\ufb01", "fi", "\ufb02", "fl", "\ufb00", "ff").Replace(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

var (
	pdfObject   = regexp.MustCompile(`(?s)(\d+) 0 obj(.*?)endobj`)
	pdfRef      = func(key string) *regexp.Regexp { return regexp.MustCompile(key + `\s+(\d+) 0 R`) }
	pdfKids     = regexp.MustCompile(`/Kids\s*\[([^\]]*)\]`)
	pdfRefs     = regexp.MustCompile(`(\d+) 0 R`)
	pdfFonts    = regexp.MustCompile(`(?s)/Font\s*<<(.*?)>>`)
	pdfFontRef  = regexp.MustCompile(`/(\w+)\s+(\d+) 0 R`)
	pdfMediaBox = regexp.MustCompile(`/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]`)
	// The text operators of a content stream: a font chosen (Tf), a string
	// of glyph codes in hex, the end of a text object (ET).
	pdfText     = regexp.MustCompile(`/(\w+)\s+[-\d.]+\s+Tf|<([0-9A-Fa-f]+)>|\bET\b`)
	bfChar      = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	bfRange     = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	bfChars     = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	bfRanges    = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	pdfContents = regexp.MustCompile(`/Contents\s*\[([^\]]*)\]`)
)

// pdfObjects indexes the objects of a PDF as Chromium writes it (each at
// the top level, none in object streams).
func pdfObjects(pdf []byte) map[string][]byte {
	objs := map[string][]byte{}
	for _, m := range pdfObject.FindAllSubmatch(pdf, -1) {
		objs[string(m[1])] = m[2]
	}
	return objs
}

// pdfPageOrder lists the page objects in order, from the page tree.
func pdfPageOrder(tb testing.TB, objs map[string][]byte) []string {
	tb.Helper()
	var root string
	for n, o := range objs {
		if bytes.Contains(o, []byte("/Type /Pages")) && !bytes.Contains(o, []byte("/Parent")) {
			root = n
		}
	}
	var walk func(n string) []string
	walk = func(n string) []string {
		o := objs[n]
		if !bytes.Contains(o, []byte("/Type /Pages")) {
			return []string{n}
		}
		var out []string
		if k := pdfKids.FindSubmatch(o); k != nil {
			for _, r := range pdfRefs.FindAllSubmatch(k[1], -1) {
				out = append(out, walk(string(r[1]))...)
			}
		}
		return out
	}
	if root == "" {
		tb.Fatal("the PDF has no page tree")
	}
	return walk(root)
}

// pdfStream is the decoded data of a stream object.
func pdfStream(tb testing.TB, obj []byte) []byte {
	tb.Helper()
	i, j := bytes.Index(obj, []byte("stream")), bytes.LastIndex(obj, []byte("endstream"))
	if i < 0 || j < i {
		return nil
	}
	data := bytes.TrimLeft(obj[i+len("stream"):j], "\r\n")
	if !bytes.Contains(obj[:i], []byte("/FlateDecode")) {
		return data
	}
	r, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("inflate a PDF stream: %v", err)
	}
	out, _ := io.ReadAll(r) // a stream may end without a clean zlib trailer
	return out
}

// toUnicode reads a ToUnicode CMap: glyph code → text, and the code
// length in bytes.
func toUnicode(cmap []byte) (map[string]string, int) {
	utf := func(h string) string {
		b, _ := hex.DecodeString(h)
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	m, width := map[string]string{}, 2
	if i := bytes.Index(cmap, []byte("begincodespacerange")); i >= 0 {
		if c := bfChar.FindSubmatch(cmap[i:]); c != nil {
			width = len(c[1]) / 2
		}
	}
	for _, sec := range bfChars.FindAllSubmatch(cmap, -1) {
		for _, c := range bfChar.FindAllSubmatch(sec[1], -1) {
			m[strings.ToUpper(string(c[1]))] = utf(string(c[2]))
		}
	}
	for _, sec := range bfRanges.FindAllSubmatch(cmap, -1) {
		for _, c := range bfRange.FindAllSubmatch(sec[1], -1) {
			lo, hi, dst := hexInt(string(c[1])), hexInt(string(c[2])), []rune(utf(string(c[3])))
			for code := lo; code <= hi && len(dst) > 0; code++ {
				text := string(dst[:len(dst)-1]) + string(dst[len(dst)-1]+rune(code-lo))
				m[strings.ToUpper(hexOf(code, len(c[1])))] = text
			}
		}
	}
	return m, width
}

func hexInt(h string) int {
	n := 0
	for _, c := range h {
		n = n*16 + strings.IndexRune("0123456789abcdef", unicode.ToLower(c))
	}
	return n
}

func hexOf(n, digits int) string {
	const x = "0123456789ABCDEF"
	b := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		b[i] = x[n%16]
		n /= 16
	}
	return string(b)
}

// pdfPageTexts extracts the text of each page of a PDF that Chromium
// printed: its content streams' strings decoded through the ToUnicode maps
// of the fonts they are set in, a line for each text object. It reads only
// what Chromium writes, which is all these tests need.
func pdfPageTexts(tb testing.TB, pdf []byte) []string {
	tb.Helper()
	objs := pdfObjects(pdf)
	var out []string
	for _, p := range pdfPageOrder(tb, objs) {
		po := objs[p]
		fonts := map[string]string{} // resource name → font object
		if f := pdfFonts.FindSubmatch(po); f != nil {
			for _, r := range pdfFontRef.FindAllSubmatch(f[1], -1) {
				fonts[string(r[1])] = string(r[2])
			}
		}
		var contents []string
		if c := pdfContents.FindSubmatch(po); c != nil {
			for _, r := range pdfRefs.FindAllSubmatch(c[1], -1) {
				contents = append(contents, string(r[1]))
			}
		} else if c := pdfRef("/Contents").FindSubmatch(po); c != nil {
			contents = append(contents, string(c[1]))
		}
		var text strings.Builder
		var cmap map[string]string
		width := 2
		for _, c := range contents {
			for _, m := range pdfText.FindAllSubmatch(pdfStream(tb, objs[c]), -1) {
				switch {
				case m[1] != nil:
					cmap, width = nil, 2
					if f := pdfRef("/ToUnicode").FindSubmatch(objs[fonts[string(m[1])]]); f != nil {
						cmap, width = toUnicode(pdfStream(tb, objs[string(f[1])]))
					}
				case m[2] != nil && cmap != nil:
					h := strings.ToUpper(string(m[2]))
					for i := 0; i+2*width <= len(h); i += 2 * width {
						text.WriteString(cmap[h[i:i+2*width]])
					}
				case m[0] != nil && string(m[0]) == "ET":
					text.WriteString("\n")
				}
			}
		}
		out = append(out, text.String())
	}
	return out
}

// pdfPageSize is the size of the first page, in points.
func pdfPageSize(tb testing.TB, pdf []byte) (w, h float64) {
	tb.Helper()
	objs := pdfObjects(pdf)
	m := pdfMediaBox.FindSubmatch(objs[pdfPageOrder(tb, objs)[0]])
	if m == nil {
		tb.Fatal("the first page has no MediaBox")
	}
	var v [4]float64
	for i := range v {
		v[i] = parseFloat(string(m[i+1]))
	}
	return v[2] - v[0], v[3] - v[1]
}

func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
