package workflow

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Figures are the attention figures of an incident at one moment, as a
// follow-up report records them (关注度、跟帖人数、热点指数): the number of
// posts (replies, reposts), of views, and the monitoring platform's heat
// index. A figure not given is nil.
type Figures struct {
	At    time.Time `json:"at"`
	Posts *int64    `json:"posts,omitempty"`
	Views *int64    `json:"views,omitempty"`
	Heat  *int64    `json:"heat,omitempty"`
}

// IsZero reports whether no figure is given.
func (f Figures) IsZero() bool { return f.Posts == nil && f.Views == nil && f.Heat == nil }

// Figure names one of the attention figures.
type Figure string

// The attention figures.
const (
	FigurePosts Figure = "posts"
	FigureViews Figure = "views"
	FigureHeat  Figure = "heat"
)

// FigureList lists the figures in the order they are shown.
var FigureList = []Figure{FigurePosts, FigureViews, FigureHeat}

// Text names the figure in both languages.
func (k Figure) Text() Text {
	switch k {
	case FigurePosts:
		return Text{EN: "posts", ZH: "跟帖"}
	case FigureViews:
		return Text{EN: "views", ZH: "浏览"}
	case FigureHeat:
		return Text{EN: "heat", ZH: "热度"}
	}
	return Text{EN: string(k), ZH: string(k)}
}

// Get returns figure k, if given.
func (f Figures) Get(k Figure) (int64, bool) {
	var p *int64
	switch k {
	case FigurePosts:
		p = f.Posts
	case FigureViews:
		p = f.Views
	case FigureHeat:
		p = f.Heat
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

func (f *Figures) set(k Figure, v int64) {
	switch k {
	case FigurePosts:
		f.Posts = &v
	case FigureViews:
		f.Views = &v
	case FigureHeat:
		f.Heat = &v
	}
}

// figureKeys are the words a figure may be typed with, English and Chinese.
var figureKeys = map[string]Figure{
	"posts": FigurePosts, "跟帖": FigurePosts, "跟帖数": FigurePosts, "跟帖人数": FigurePosts,
	"views": FigureViews, "浏览": FigureViews, "浏览量": FigureViews, "阅读": FigureViews,
	"heat": FigureHeat, "热度": FigureHeat, "热点指数": FigureHeat,
}

// figureLimits bound what a figure may be: beyond them a typing slip is far
// likelier than a real count.
//
// A spreading rule's heat threshold keeps within MaxHeat, or no heat
// update could ever meet it.
var figureLimits = map[Figure]int64{
	FigurePosts: 100_000_000,
	FigureViews: 100_000_000_000,
	FigureHeat:  100_000,
}

// MaxHeat is the highest heat index an update may record.
func MaxHeat() int64 { return figureLimits[FigureHeat] }

// FigureUsage shows how figures are written.
var FigureUsage = Text{
	EN: "write figures as posts:35 views:12000 heat:68 (whole numbers, 0 or more)",
	ZH: "指标写法:跟帖:35 浏览:12000 热度:68(0 或正整数)",
}

// ParseFigures reads the attention figures at the start of the words of a
// follow-up report ("posts:35 views:12000 heat:68", or 跟帖:35 浏览:12000
// 热度:68, with an ASCII or a full-width colon, thousands separated by
// commas) and says how many words they took; the text of the report follows
// them. A word that names a figure but holds no sensible number is an
// error: nothing is taken from a report half-read.
func ParseFigures(words []string) (Figures, int, error) {
	var f Figures
	for i, w := range words {
		key, val, ok := strings.Cut(strings.Replace(w, "：", ":", 1), ":")
		k, isFigure := figureKeys[strings.ToLower(key)]
		if !ok || !isFigure {
			return f, i, nil
		}
		if _, dup := f.Get(k); dup {
			return Figures{}, 0, &Error{Code: CodeInvalid, Msg: Text{
				EN: fmt.Sprintf("%s is given twice; %s", k, FigureUsage.EN),
				ZH: fmt.Sprintf("%s 重复填写;%s", k.Text().ZH, FigureUsage.ZH)}}
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(val, ",", ""), 10, 64)
		if err != nil || n < 0 {
			return Figures{}, 0, &Error{Code: CodeInvalid, Msg: Text{
				EN: fmt.Sprintf("%s:%s is not a whole number of 0 or more; %s", key, val, FigureUsage.EN),
				ZH: fmt.Sprintf("%s:%s 不是 0 或正整数;%s", key, val, FigureUsage.ZH)}}
		}
		if n > figureLimits[k] {
			return Figures{}, 0, &Error{Code: CodeInvalid, Msg: Text{
				EN: fmt.Sprintf("%s:%s is more than %d, which cannot be right; %s", key, val, figureLimits[k], FigureUsage.EN),
				ZH: fmt.Sprintf("%s:%s 超过 %d,不合常理;%s", key, val, figureLimits[k], FigureUsage.ZH)}}
		}
		f.set(k, n)
	}
	return f, len(words), nil
}

// SpreadingRule says which attention figures mark an incident spreading
// (扩大迹象), from the roster's spreading key. A zero field is no rule.
type SpreadingRule struct {
	// PostsGrowth is the growth of the posts, as a fraction (0.5 for 50%),
	// within Within (default an hour) that marks spreading.
	PostsGrowth float64
	Within      time.Duration
	// Heat is the heat index at or above which the incident is spreading.
	Heat int64
}

// MaxPostsGrowth is the largest growth a rule may name (1000%).
const MaxPostsGrowth = 10.0

func (r SpreadingRule) check() error {
	if r.PostsGrowth < 0 || r.PostsGrowth > MaxPostsGrowth {
		return Errorf(CodeInvalid, "spreading: posts_growth must be between 0%% and 1000%%", "spreading:posts_growth 须在 0%% 到 1000%% 之间")
	}
	if r.Within < 0 || r.Heat < 0 {
		return Errorf(CodeInvalid, "spreading: within and heat cannot be negative", "spreading:within 和 heat 不能为负")
	}
	if r.Heat > MaxHeat() {
		return Errorf(CodeInvalid, "spreading: heat must be at most %d, the highest heat an update records", "spreading:heat 至多为 %d(更新可记录的最高热度)", MaxHeat())
	}
	return nil
}

// IsZero reports whether the rule marks nothing.
func (r SpreadingRule) IsZero() bool { return r.PostsGrowth == 0 && r.Heat == 0 }

// Sign is what made figures meet a spreading rule: the figure, its value
// then and now (From is zero for a threshold) and the growth in percent.
type Sign struct {
	Figure Figure        `json:"figure"`
	From   int64         `json:"from,omitempty"`
	To     int64         `json:"to"`
	Growth int64         `json:"growth,omitempty"` // percent
	Within time.Duration `json:"within,omitempty"` // how long the growth took
	// Threshold is the rule's heat threshold the heat met, as the rule was
	// then.
	Threshold int64 `json:"threshold,omitempty"`
}

// Spreads returns the sign that the latest of series meets the rule, and
// whether it does. The heat threshold is checked first; then the growth of
// the posts since the last figures at least Within old (or the oldest,
// when all are younger: growing that much faster still counts).
func (r SpreadingRule) Spreads(series []Figures) (Sign, bool) {
	if len(series) == 0 {
		return Sign{}, false
	}
	cur := series[len(series)-1]
	if h, ok := cur.Get(FigureHeat); ok && r.Heat > 0 && h >= r.Heat {
		return Sign{Figure: FigureHeat, To: h, Threshold: r.Heat}, true
	}
	posts, ok := cur.Get(FigurePosts)
	if !ok || r.PostsGrowth <= 0 {
		return Sign{}, false
	}
	within := r.Within
	if within <= 0 {
		within = time.Hour
	}
	var base *Figures
	for i := len(series) - 2; i >= 0; i-- {
		if _, ok := series[i].Get(FigurePosts); !ok {
			continue
		}
		base = &series[i]
		if cur.At.Sub(series[i].At) >= within {
			break
		}
	}
	if base == nil {
		return Sign{}, false
	}
	from, _ := base.Get(FigurePosts)
	took := cur.At.Sub(base.At)
	if from <= 0 || posts <= from || took <= 0 {
		return Sign{}, false
	}
	growth := float64(posts-from) / float64(from)
	if took > within {
		growth *= float64(within) / float64(took) // the rate over the rule's window
	}
	if growth < r.PostsGrowth {
		return Sign{}, false
	}
	return Sign{Figure: FigurePosts, From: from, To: posts,
		Growth: (posts - from) * 100 / from, Within: took}, true
}

// grewSince reports whether a figure grew after t: one recorded after t is
// higher than the last of its kind recorded at or before t (or than the
// first after t, when none was recorded before).
func grewSince(series []Figures, t time.Time) bool {
	for _, k := range FigureList {
		var base int64
		have := false
		for _, f := range series {
			v, ok := f.Get(k)
			switch {
			case !ok:
			case !f.At.After(t) || !have:
				base, have = v, true
			case v > base:
				return true
			}
		}
	}
	return false
}
