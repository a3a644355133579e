package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// SubscribeBody creates a webhook subscription.
type SubscribeBody struct {
	// URL receives a POST per new anomaly the caller may see (https, or
	// http to a loopback address).
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// SubscriptionList is the caller's subscriptions.
type SubscriptionList struct {
	Items []alerts.Subscription `json:"items"`
}

// DeliveryList is a subscription's delivery log, newest first.
type DeliveryList struct {
	Items []alerts.Delivery `json:"items"`
}

func subscriber(id Identity) alerts.Subscriber {
	return alerts.Subscriber{Owner: id.Key(), MSP: id.MSP, Role: id.Role, GLN: id.GLN, GCPs: id.GCP}
}

func (s *Server) subscribe(c echo.Context) error {
	var body SubscribeBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	sub, err := s.deps.Alerts.Subscribe(c.Request().Context(), subscriber(identity(c)), body.URL, body.Description)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/subscriptions/"+sub.ID)
	return writeJSON(c, http.StatusCreated, sub)
}

func (s *Server) listSubscriptions(c echo.Context) error {
	list, err := s.deps.Alerts.Subscriptions(c.Request().Context(), identity(c).Key())
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, SubscriptionList{Items: list})
}

func (s *Server) getSubscription(c echo.Context) error {
	sub, err := s.deps.Alerts.Subscription(c.Request().Context(), identity(c).Key(), c.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, sub)
}

func (s *Server) deleteSubscription(c echo.Context) error {
	if err := s.deps.Alerts.Unsubscribe(c.Request().Context(), identity(c).Key(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDeliveries(c echo.Context) error {
	if err := checkQuery(c, []string{"limit", "status"}); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	st := c.QueryParam("status")
	switch st {
	case "", alerts.DeliveryPending, alerts.DeliveryDelivered, alerts.DeliveryFailed:
	default:
		return fieldProblem("status", "%q is not pending, delivered or failed", st)
	}
	list, err := s.deps.Alerts.Deliveries(c.Request().Context(), identity(c).Key(), c.Param("id"), st, limit)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, DeliveryList{Items: list})
}

// maxReplay bounds the anomalies a reconnecting stream is sent first.
const maxReplay = 5000

// streamAnomalies serves the live stream of new anomalies the caller may
// see as Server-Sent Events ("anomaly" events whose ID is the anomaly's,
// data the anomaly as JSON; a comment every 15 s keeps proxies from
// closing it). With Last-Event-ID (or lastEventId) it first sends the
// anomalies created after that one; timeout closes it after so many
// seconds (0: right after that catch-up, for polling clients).
func (s *Server) streamAnomalies(c echo.Context) error {
	if err := checkQuery(c, []string{"timeout", "lastEventId"}); err != nil {
		return err
	}
	limit := int(s.cfg.UploadTimeout / time.Second)
	timeout, err := queryInt(c, "timeout", limit, 0, limit)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	id := identity(c)
	scope := readmodel.ScopeOf(id.MSP, id.Role, id.GLN, id.GCP)
	live, stop := s.deps.Alerts.Stream(scope)
	defer stop()

	last := c.Request().Header.Get("Last-Event-ID")
	if q := c.QueryParam("lastEventId"); q != "" {
		last = q
	}
	var replay []trace.Anomaly
	if last != "" {
		from, err := s.deps.Read.GetAnomalyIn(ctx, last, scope)
		if errors.Is(err, readmodel.ErrNotFound) {
			return fieldProblem("lastEventId", "%q is not an anomaly you can see", last)
		}
		if err != nil {
			return err
		}
		f := readmodel.AnomalyFilter{Scope: scope, From: from.CreatedAt}
		cursor := ""
		for len(replay) < maxReplay {
			p, err := s.deps.Read.ListAnomalies(ctx, f, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: readmodel.MaxLimit, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, a := range p.Anomalies {
				if a.CreatedAt.After(from.CreatedAt) || a.ID > from.ID {
					replay = append(replay, a)
				}
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
	}

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": PharmaTrace anomalies for %s (%s)\nretry: 2000\n\n", id.Key(), id.Role)
	sent := make(map[string]bool, len(replay))
	send := func(a trace.Anomaly) error {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "id: %s\nevent: anomaly\ndata: %s\n\n", a.ID, b); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	for _, a := range replay {
		sent[a.ID] = true
		if err := send(a); err != nil {
			return nil
		}
	}
	w.Flush()
	if timeout == 0 {
		return nil
	}
	end := time.NewTimer(time.Duration(timeout) * time.Second)
	defer end.Stop()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-end.C:
			return nil
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case a, ok := <-live:
			if !ok {
				return nil // dropped for lagging: the client reconnects with Last-Event-ID
			}
			if sent[a.ID] {
				continue
			}
			if err := send(a); err != nil {
				return nil
			}
		}
	}
}
