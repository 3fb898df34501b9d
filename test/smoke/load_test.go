package smoke

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvLoad turns on TestLoadFiringDelay; EnvLoadIncidents changes how many
// incidents it opens (1,000), EnvLoadRate how many it opens a second (100,
// so that their reminders fall due at that rate; 0: as fast as it can, so
// that a thousand fall due within a second).
const (
	EnvLoad          = "FIREBREAK_SMOKE_LOAD"
	EnvLoadIncidents = "FIREBREAK_SMOKE_LOAD_INCIDENTS"
	EnvLoadRate      = "FIREBREAK_SMOKE_LOAD_RATE"
)

// loadScale is the time scale of the benchmark: the first reminders fall
// due 12 s after their incident is opened, after all of them are open.
const loadScale = 300

// desk opens the incidents of the benchmark.
var desk = person{"duty", "Duty Officer", "U0DUTY", 1100}

// staffer is the i-th member of the office in the benchmark's roster.
func staffer(i int) person {
	return person{fmt.Sprintf("s%04d", i), fmt.Sprintf("Staff %04d", i), fmt.Sprintf("U1%05d", i), int64(2_000_000 + i)}
}

// loadChannels are the chats of loadRoster's channels, on both platforms.
var loadChannels = map[string]bool{
	"slack:C0INCIDENTS": true, "telegram:-100111": true, "slack:C0STATEMENTS": true, "telegram:-100333": true,
}

// loadRoster has n staff in the office, who receive the incidents in turn,
// so each reminder goes to a direct message of its own: no chat gets two
// messages within the platforms' pacing. The channels and the leaders'
// direct chats are there because a roster without them is refused (nothing
// would reach the platforms' channels, nobody could receive a report); the
// copies of the overdue notices queue there, on chats of their own, paced,
// and are not measured.
func loadRoster(n int) string {
	var b strings.Builder
	b.WriteString("timezone: Asia/Shanghai\nlocale: en\norganisation: {name: Riverside Office}\npeople:\n")
	fmt.Fprintf(&b, "  - {id: %s, name: %s, roles: [staff], departments: [desk], slack: %s, telegram: %d}\n",
		desk.id, desk.name, desk.slack, desk.telegram)
	b.WriteString("  - {id: wang, name: Wang Fang, roles: [leader, principal], slack: U0WANG, telegram: 1004}\n" +
		"  - {id: zhao, name: Zhao Lei, roles: [leader], slack: U0ZHAO, telegram: 1005}\n")
	for i := 1; i <= n; i++ {
		p := staffer(i)
		fmt.Fprintf(&b, "  - {id: %s, name: %s, roles: [staff], departments: [office], slack: %s, telegram: %d}\n",
			p.id, p.name, p.slack, p.telegram)
	}
	b.WriteString("departments:\n  - {id: desk, name: Duty Desk, categories: [hype]}\n" +
		"  - {id: office, name: Public Opinion Office, categories: [other, rumor, inquiry]}\n" +
		"channels:\n  incidents:  {slack: C0INCIDENTS, telegram: -100111}\n" +
		"  statements: {slack: C0STATEMENTS, telegram: -100333}\n")
	return b.String()
}

// TestLoadFiringDelay is the black-box firing-delay benchmark of
// docs/benchmarks.md: with 1,000 open general incidents it measures, for
// the half-time and 15-minute warnings and the overdue notice of "department
// takes it on" (6,000 messages over both platforms), the delay from the due
// time to the fake platform receiving the message. Every message goes to a
// chat of its own, so the figure leaves platform pacing out.
//
//	FIREBREAK_SMOKE_LOAD=1 go test ./test/smoke/ -run Load -v
func TestLoadFiringDelay(t *testing.T) {
	if os.Getenv(EnvLoad) == "" {
		t.Skipf("set %s=1 to run the firing-delay benchmark (1,000 open incidents, about a minute)", EnvLoad)
	}
	n, rate := 1000, 100.0
	if s := os.Getenv(EnvLoadIncidents); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", EnvLoadIncidents, s)
		}
	}
	if s := os.Getenv(EnvLoadRate); s != "" {
		var err error
		if rate, err = strconv.ParseFloat(s, 64); err != nil || rate < 0 {
			t.Fatalf("%s=%q: want a number of incidents a second, or 0", EnvLoadRate, s)
		}
	}
	w := newWorld(t, worldOptions{scale: loadScale, roster: loadRoster(n)})
	a := w.start("a")

	// Open them all at the rate asked for, eight requests at a time at most.
	start := time.Now()
	incs := a.openMany(desk, n, rate, "Load incident")
	opening := time.Since(start)
	byID := map[string]incident{}
	var openLatency []time.Duration
	for _, inc := range incs {
		byID[inc.ID] = inc
		openLatency = append(openLatency, inc.opened.done.Sub(inc.opened.sent))
	}
	t.Logf("opened %d incidents in %s (%.0f/s, asked for %g/s; 0 = at once); open request p50 %s, p99 %s",
		n, opening.Round(time.Millisecond), float64(n)/opening.Seconds(), rate,
		percentile(openLatency, 50), percentile(openLatency, 99))

	lp := policy["general"]
	after := map[string]time.Duration{"half": lp.assign / 2, "warn": lp.assign - warnBefore, "overdue": lp.assign}
	expected := len(after) * 2 * n
	lastDue := incs[0].opened.done
	for _, inc := range incs {
		lastDue = maxTime(lastDue, inc.opened.done)
	}
	lastDue = lastDue.Add(time.Duration(float64(lp.assign) / loadScale))
	type sample struct {
		platform string
		delay    time.Duration // from the latest possible due time
		upper    time.Duration // from the earliest possible due time
	}
	collect := func() ([]sample, int) {
		var out []sample
		unplanned := 0
		seenKey := map[string]bool{}
		for _, m := range w.messages() {
			s, ok := parseReminder(m)
			if !ok || loadChannels[m.Chat] {
				continue // the channels' copies are paced, and not measured
			}
			inc, known := byID[s.incident]
			d, planned := after[s.kind]
			if !known || !planned || s.arg != "assign" || seenKey[m.Chat+" "+s.key()] {
				unplanned++
				continue
			}
			seenKey[m.Chat+" "+s.key()] = true
			wt := want{base: inc.opened, after: d}
			early, latest := wt.dueWall(loadScale)
			out = append(out, sample{platform: strings.SplitN(m.Chat, ":", 2)[0], delay: m.At.Sub(latest), upper: m.At.Sub(early)})
		}
		return out, unplanned
	}
	waitUntil(lastDue.Add(60*time.Second), func() bool { s, _ := collect(); return len(s) >= expected })
	samples, unplanned := collect()
	if len(samples) < expected {
		t.Errorf("got %d of the %d reminders by %s, want all", len(samples), expected, clock(time.Now()))
	}
	if unplanned > 0 {
		t.Errorf("got %d reminders that were not planned or came twice, want none", unplanned)
	}
	report := func(platform string) (p50, p99 time.Duration) {
		var lower, upper []time.Duration
		early := 0
		for _, s := range samples {
			if platform == "" || s.platform == platform {
				lower, upper = append(lower, s.delay), append(upper, s.upper)
				if s.upper < -earlyEpsilon {
					early++
				}
			}
		}
		name := platform
		if name == "" {
			name = "both"
		}
		t.Logf("%-8s n=%d  delay p50 %s  p99 %s  max %s  (from the earliest possible due time: p50 %s  p99 %s)  early %d",
			name, len(upper), percentile(lower, 50), percentile(lower, 99), percentile(lower, 100),
			percentile(upper, 50), percentile(upper, 99), early)
		if early > 0 {
			t.Errorf("%s: %d reminders arrived before they were due, want none", name, early)
		}
		return percentile(upper, 50), percentile(upper, 99)
	}
	_, p99 := report("")
	report("slack")
	report("telegram")
	t.Logf("machine: %d CPUs (GOMAXPROCS %d), %s/%s; time scale %d; firebreak %s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, loadScale, binary)
	if h := delayHistogram(a.metrics(), loadScale); h != "" {
		t.Logf("the binary's own firebreak_timer_delay_seconds (due → tick handled), bounds converted to wall time: %s", h)
	}
	const target = 100 * time.Millisecond
	if p99 >= target {
		t.Errorf("firing delay p99: got %s, want under %s (pacing excluded)", p99, target)
	}
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)].Round(time.Millisecond / 10)
}

var histogramLine = regexp.MustCompile(`(?m)^firebreak_timer_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$`)

// delayHistogram summarises the binary's timer delay histogram, if it has
// one: how many timers were handled within each bucket's bound, the bound
// (plan time) divided by the time scale.
func delayHistogram(metrics string, scale float64) string {
	var parts []string
	for _, m := range histogramLine.FindAllStringSubmatch(metrics, -1) {
		bound := m[1]
		if v, err := strconv.ParseFloat(m[1], 64); err == nil && !math.IsInf(v, 0) {
			bound = time.Duration(v / scale * float64(time.Second)).Round(time.Microsecond).String()
		}
		parts = append(parts, "≤"+bound+" "+m[2])
	}
	return strings.Join(parts, ", ")
}
