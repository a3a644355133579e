package dashboard

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// chart is an inline SVG chart computed on the server.
type chart struct {
	Width, Height int
	Bars          []bar
	Labels        []label
	Lines         []line
	Legend        []legendItem
	Empty         bool
	EmptyText     string
	Title         string
}

type bar struct {
	X, Y, W, H float64
	Fill       string
	Tip        string
}

type label struct {
	X, Y   float64
	Text   string
	Anchor string
}

type line struct{ X1, Y1, X2, Y2 float64 }

type legendItem struct {
	Fill, Text string
}

// palette is colour-blind friendly (Okabe-Ito), then grey for "other".
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#999999"}

// niceMax rounds a maximum up to 1, 2 or 5 × 10^n.
func niceMax(v int) int {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(v))))
	for _, m := range []float64{1, 2, 5, 10} {
		if float64(v) <= m*p {
			return int(m * p)
		}
	}
	return v
}

// topTypes returns the types by total count, the first n-1 kept and the
// rest folded into "other".
func topTypes(days []readmodel.DayCount, n int) (order []trace.AnomalyCode, colour map[trace.AnomalyCode]string) {
	sum := map[trace.AnomalyCode]int{}
	for _, d := range days {
		sum[d.Code] += d.Count
	}
	for k := range sum {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool {
		if sum[order[i]] != sum[order[j]] {
			return sum[order[i]] > sum[order[j]]
		}
		return order[i] < order[j]
	})
	colour = map[trace.AnomalyCode]string{}
	for i, k := range order {
		if i < n-1 || len(order) == n {
			colour[k] = palette[i%len(palette)]
		} else {
			colour[k] = palette[len(palette)-1]
		}
	}
	return order, colour
}

// perDayChart stacks the anomalies of each day by type.
func perDayChart(days []readmodel.DayCount, from, to time.Time) chart {
	const w, h, left, bottom, top = 720, 220, 36, 28, 10
	c := chart{Width: w, Height: h, Title: "Anomalies per day"}
	n := int(to.Sub(from).Hours()/24 + 0.5)
	if n < 1 {
		n = 1
	}
	if n > 92 {
		from = to.Add(-92 * 24 * time.Hour)
		n = 92
	}
	index := map[string]int{}
	for i := 0; i < n; i++ {
		index[from.Add(time.Duration(i)*24*time.Hour).Format(time.DateOnly)] = i
	}
	order, colour := topTypes(days, len(palette))
	rank := map[trace.AnomalyCode]int{}
	for i, k := range order {
		rank[k] = i
	}
	sorted := append([]readmodel.DayCount(nil), days...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank[sorted[i].Code] < rank[sorted[j].Code] })
	totals := make([]int, n)
	for _, d := range sorted {
		if i, ok := index[d.Day]; ok {
			totals[i] += d.Count
		}
	}
	max := 0
	for _, t := range totals {
		max = int(math.Max(float64(max), float64(t)))
	}
	if max == 0 {
		c.Empty = true
	}
	ymax := niceMax(max)
	plotH := float64(h - bottom - top)
	slot := float64(w-left-4) / float64(n)
	bw := math.Max(1, slot*0.75)
	acc := make([]int, n)
	for _, d := range sorted {
		i, ok := index[d.Day]
		if !ok {
			continue
		}
		y0 := float64(h-bottom) - float64(acc[i])/float64(ymax)*plotH
		bh := float64(d.Count) / float64(ymax) * plotH
		acc[i] += d.Count
		c.Bars = append(c.Bars, bar{X: float64(left) + float64(i)*slot + (slot-bw)/2, Y: y0 - bh, W: bw, H: bh, Fill: colour[d.Code],
			Tip: fmt.Sprintf("%s: %d %s", d.Day, d.Count, d.Code)})
	}
	// Axes: y ticks at 0, half, max; x labels about every week.
	for _, v := range []int{0, ymax / 2, ymax} {
		y := float64(h-bottom) - float64(v)/float64(ymax)*plotH
		c.Lines = append(c.Lines, line{X1: left, Y1: y, X2: w - 4, Y2: y})
		c.Labels = append(c.Labels, label{X: left - 6, Y: y + 4, Text: fmt.Sprint(v), Anchor: "end"})
	}
	step := int(math.Max(1, math.Ceil(float64(n)/8)))
	for i := 0; i < n; i += step {
		day := from.Add(time.Duration(i) * 24 * time.Hour)
		c.Labels = append(c.Labels, label{X: float64(left) + float64(i)*slot + slot/2, Y: h - 10, Text: day.Format("Jan 2"), Anchor: "middle"})
	}
	for i, k := range order {
		if i == len(palette)-1 && len(order) > len(palette) {
			c.Legend = append(c.Legend, legendItem{Fill: palette[len(palette)-1], Text: "other types"})
			break
		}
		c.Legend = append(c.Legend, legendItem{Fill: colour[k], Text: string(k)})
	}
	return c
}

// byTypeChart is a horizontal bar per type.
func byTypeChart(days []readmodel.DayCount) chart {
	order, colour := topTypes(days, len(palette))
	sum := map[trace.AnomalyCode]int{}
	for _, d := range days {
		sum[d.Code] += d.Count
	}
	const w, left, rowH = 420, 200, 22
	c := chart{Width: w, Height: rowH*len(order) + 8, Title: "Anomalies by type"}
	if len(order) == 0 {
		c.Empty, c.Height = true, 40
		return c
	}
	max := niceMax(sum[order[0]])
	for i, k := range order {
		y := float64(4 + i*rowH)
		bw := float64(sum[k]) / float64(max) * float64(w-left-40)
		c.Bars = append(c.Bars, bar{X: left, Y: y + 3, W: math.Max(bw, 1), H: rowH - 6, Fill: colour[k], Tip: fmt.Sprintf("%s: %d", k, sum[k])})
		c.Labels = append(c.Labels, label{X: left - 6, Y: y + 15, Text: string(k), Anchor: "end"},
			label{X: left + bw + 4, Y: y + 15, Text: fmt.Sprint(sum[k]), Anchor: "start"})
	}
	return c
}

// stateLabel names a state and reason as the chart shows it.
func stateLabel(s readmodel.StateCount) string {
	l := strings.ReplaceAll(string(s.State), "_", " ")
	if s.Reason != "" {
		l += " (" + strings.ReplaceAll(string(s.Reason), "_", " ") + ")"
	}
	return l
}

// stateColour gives each state its colour: active blue, in transit sky,
// dispensed green, locked and stolen vermillion, other inactive reasons grey.
func stateColour(s readmodel.StateCount) string {
	switch {
	case s.State == trace.StateActive:
		return palette[0]
	case s.State == trace.StateInTransit:
		return palette[5]
	case s.Reason == trace.ReasonDispensed:
		return palette[2]
	case s.Reason == trace.ReasonLocked || s.Reason == trace.ReasonStolen:
		return palette[1]
	}
	return palette[len(palette)-1]
}

// stateChart is a horizontal bar per state and reason, largest first.
func stateChart(states []readmodel.StateCount) chart {
	rows := append([]readmodel.StateCount(nil), states...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Count > rows[j].Count })
	const w, left, rowH = 560, 200, 24
	c := chart{Width: w, Height: rowH*len(rows) + 8, Title: "Packs by state", EmptyText: "no packs"}
	if len(rows) == 0 {
		c.Empty, c.Height = true, 40
		return c
	}
	max := niceMax(rows[0].Count)
	for i, s := range rows {
		y := float64(4 + i*rowH)
		bw := float64(s.Count) / float64(max) * float64(w-left-60)
		c.Bars = append(c.Bars, bar{X: left, Y: y + 3, W: math.Max(bw, 1), H: rowH - 6, Fill: stateColour(s), Tip: fmt.Sprintf("%s: %d", stateLabel(s), s.Count)})
		c.Labels = append(c.Labels, label{X: left - 6, Y: y + 16, Text: stateLabel(s), Anchor: "end"},
			label{X: left + bw + 4, Y: y + 16, Text: fmt.Sprint(s.Count), Anchor: "start"})
	}
	return c
}
