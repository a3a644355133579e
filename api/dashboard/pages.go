package dashboard

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"lower": func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"label": func(v any) string { return strings.ReplaceAll(strings.ToLower(fmt.Sprint(v)), "_", " ") },
	"has": func(list []string, v any) bool {
		s := fmt.Sprint(v)
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

// filterForm is the filter form's state, echoed back into the form.
type filterForm struct {
	Types, Severities, Classes, Statuses []string
	GTIN, Lot, GLN, Org, From, To, Sort  string
}

// options of the form's selects.
type formOptions struct {
	Types, Severities, Classes, Statuses []string
	CloseReasons                         []string
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

var options = formOptions{Types: strs(trace.AnomalyCodes), Severities: strs(trace.Severities), Classes: strs(trace.Classifications),
	Statuses: strs(trace.AnomalyStatuses), CloseReasons: strs(trace.CloseReasons)}

func values(q url.Values, key string) []string {
	var out []string
	for _, v := range q[key] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func parseDate(field, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %q is not a YYYY-MM-DD date", trace.ErrInvalidRequest, field, s)
	}
	if end {
		t = t.Add(24 * time.Hour) // the "to" day is included
	}
	return t, nil
}

// filterFrom reads the filter form.
func filterFrom(q url.Values) (filterForm, readmodel.AnomalyFilter, readmodel.Sort, error) {
	ff := filterForm{Types: values(q, "type"), Severities: values(q, "severity"), Classes: values(q, "classification"), Statuses: values(q, "status"),
		GTIN: q.Get("gtin"), Lot: q.Get("lot"), GLN: q.Get("gln"), Org: q.Get("org"), From: q.Get("from"), To: q.Get("to"), Sort: q.Get("sort")}
	var f readmodel.AnomalyFilter
	for _, v := range ff.Types {
		f.Codes = append(f.Codes, trace.AnomalyCode(v))
	}
	for _, v := range ff.Severities {
		f.Severities = append(f.Severities, trace.Severity(v))
	}
	for _, v := range ff.Classes {
		f.Classifications = append(f.Classifications, trace.Classification(v))
	}
	for _, v := range ff.Statuses {
		f.Statuses = append(f.Statuses, trace.AnomalyStatus(v))
	}
	f.GTIN, f.Lot, f.GLN, f.Org = ff.GTIN, ff.Lot, ff.GLN, ff.Org
	var err error
	if f.From, err = parseDate("from", ff.From, false); err != nil {
		return ff, f, readmodel.Sort{}, err
	}
	if f.To, err = parseDate("to", ff.To, true); err != nil {
		return ff, f, readmodel.Sort{}, err
	}
	o, err := readmodel.ParseSort(ff.Sort)
	if err != nil {
		return ff, f, o, err
	}
	return ff, f, o, f.Validate()
}

type listData struct {
	Filter   filterForm
	Options  formOptions
	Items    []trace.Anomaly
	Next     string // URL of the next page
	Error    string
	PerDay   chart
	ByType   chart
	Total    int
	Filtered bool
}

// anomalies renders the list page: filter form, charts, one page of rows.
func (h *Handler) anomalies(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.Request().URL.Query()
	ff, f, o, err := filterFrom(q)
	d := listData{Filter: ff, Options: options, Items: []trace.Anomaly{}}
	d.Filtered = len(ff.Types)+len(ff.Severities)+len(ff.Classes)+len(ff.Statuses) > 0 || ff.GTIN != "" || ff.Lot != "" || ff.GLN != "" || ff.Org != "" || ff.From != "" || ff.To != ""
	status := http.StatusOK
	if err != nil {
		d.Error, status = err.Error(), http.StatusUnprocessableEntity
		return h.render(c, status, "anomalies", page{Title: "Anomalies", Data: d})
	}
	p, err := h.read.ListAnomalies(ctx, f, o, readmodel.Page{Limit: 50, Cursor: q.Get("cursor")})
	if err != nil {
		if errors.Is(err, trace.ErrInvalidRequest) {
			d.Error = err.Error()
			return h.render(c, http.StatusUnprocessableEntity, "anomalies", page{Title: "Anomalies", Data: d})
		}
		return err
	}
	d.Items = p.Anomalies
	if p.NextCursor != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", p.NextCursor)
		d.Next = "/dashboard/anomalies?" + nq.Encode()
	}
	// Charts: the filtered anomalies of the last 30 days (or the range).
	cf := f
	if cf.To.IsZero() {
		cf.To = h.cfg.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	if cf.From.IsZero() {
		cf.From = cf.To.Add(-30 * 24 * time.Hour)
	}
	days, err := h.read.AnomaliesPerDay(ctx, cf)
	if err != nil {
		return err
	}
	d.PerDay, d.ByType, d.Total = perDayChart(days, cf.From, cf.To), byTypeChart(days), 0
	for _, x := range days {
		d.Total += x.Count
	}
	return h.render(c, http.StatusOK, "anomalies", page{Title: "Anomalies", Data: d})
}

// timelineItem is one entry of the detail page's timeline: a pack change
// or an anomaly about the pack.
type timelineItem struct {
	At        time.Time
	Kind      string // event | anomaly
	Title     string
	Detail    string
	Actor     string
	State     string
	Highlight bool
	Link      string
}

type detailData struct {
	A           trace.Anomaly
	Timeline    []timelineItem
	Next        []string // workflow steps allowed from the current status
	CanClose    bool
	Options     formOptions
	Lot         *trace.Lot
	LotGTIN     string
	LotNumber   string
	Back        string
	Counterpart string
	PackLink    string // the pack's lookup page
}

func (h *Handler) anomaly(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	a, err := h.read.GetAnomaly(ctx, id)
	if err != nil {
		return err
	}
	d := detailData{A: a, Options: options, Back: "/dashboard/anomalies/" + url.PathEscape(a.ID)}
	switch a.Status {
	case trace.AnomalyNew:
		d.Next = []string{string(trace.AnomalyInvestigating)}
	case trace.AnomalyInvestigating:
		d.Next = []string{string(trace.AnomalyEscalated)}
	}
	d.CanClose = a.Status != trace.AnomalyClosed
	if a.Evidence.Counterpart != nil {
		d.Counterpart = a.Evidence.Counterpart.MSP + " at " + a.Evidence.Counterpart.GLN
	}
	if a.Lot != nil {
		d.LotGTIN, d.LotNumber = a.Lot.GTIN, a.Lot.Lot
	}
	if a.Pack != nil {
		items, events, _, err := h.packTimeline(ctx, a.Pack.GTIN, a.Pack.Serial, a.ID)
		if err != nil {
			return err
		}
		d.Timeline = items
		if d.LotNumber == "" && len(events) > 0 {
			d.LotGTIN, d.LotNumber = a.Pack.GTIN, events[0].Lot
		}
		d.PackLink = "/dashboard/packs?gtin=" + url.QueryEscape(a.Pack.GTIN) + "&serial=" + url.QueryEscape(a.Pack.Serial)
	}
	if d.LotNumber != "" {
		if l, err := h.read.GetLot(ctx, d.LotGTIN, d.LotNumber); err == nil {
			d.Lot = &l
		}
	}
	return h.render(c, http.StatusOK, "anomaly", page{Title: "Anomaly " + a.ID, Data: d})
}
