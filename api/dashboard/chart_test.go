package dashboard

import (
	"net/url"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestNiceMax(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 3: 5, 7: 10, 11: 20, 180: 200, 501: 1000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestPerDayChartStacksByDay(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	days := []readmodel.DayCount{
		{Day: "2026-03-02", Code: trace.AnomalyClone, Count: 2},
		{Day: "2026-03-02", Code: trace.AnomalyDiversion, Count: 3},
		{Day: "2026-03-05", Code: trace.AnomalyClone, Count: 1},
		{Day: "2026-04-30", Code: trace.AnomalyClone, Count: 9}, // outside the range
	}
	c := perDayChart(days, from, from.Add(7*24*time.Hour))
	if len(c.Bars) != 3 || c.Empty {
		t.Fatalf("bars %d", len(c.Bars))
	}
	// Day 2 stacks two bars at the same x; their heights add up to the
	// full plot height (5 of a y axis of 5).
	var stack []bar
	for _, x := range c.Bars {
		if x.Tip[:10] == "2026-03-02" {
			stack = append(stack, x)
		}
	}
	if len(stack) != 2 {
		t.Fatalf("day 2 has %d bars", len(stack))
	}
	a, b := stack[0], stack[1]
	if a.X != b.X || a.H+b.H < 181 || a.H+b.H > 183 || a.Fill == b.Fill {
		t.Errorf("stack: %+v %+v", a, b)
	}
	if len(c.Legend) != 2 || c.Legend[0].Text != string(trace.AnomalyClone) {
		t.Errorf("legend %+v (most frequent first)", c.Legend)
	}
	if e := perDayChart(nil, from, from.Add(24*time.Hour)); !e.Empty {
		t.Error("empty chart not marked empty")
	}
	bt := byTypeChart(days)
	if len(bt.Bars) != 2 || bt.Bars[0].W <= bt.Bars[1].W {
		t.Errorf("by type: %+v", bt.Bars)
	}
}

func TestFilterFrom(t *testing.T) {
	q := url.Values{"type": {"CLONE,DIVERSION"}, "status": {"new"}, "from": {"2026-03-01"}, "to": {"2026-03-02"}, "sort": {"-severity"}}
	_, f, o, err := filterFrom(q)
	if err != nil || len(f.Codes) != 2 || f.To.Sub(f.From) != 48*time.Hour || o.Field != readmodel.SortSeverity || !o.Desc {
		t.Errorf("%+v %+v %v", f, o, err)
	}
	for _, bad := range []url.Values{{"from": {"March"}}, {"type": {"NOPE"}}, {"sort": {"colour"}}} {
		if _, _, _, err := filterFrom(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if safeNext("//evil.example/x") != "/dashboard/anomalies" || safeNext("/dashboard/anomalies/x") != "/dashboard/anomalies/x" || safeNext("https://x/dashboard/") != "/dashboard/anomalies" {
		t.Error("safeNext lets a redirect leave the dashboard")
	}
}
