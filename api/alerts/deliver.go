package alerts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
)

// due is a delivery to send now.
type due struct {
	id, sub, body, url, secret string
	attempts                   int
}

// Run sends the queued deliveries until ctx ends, each from its own
// goroutine (at most Config.Senders at once, one per subscription). It
// returns nil when ctx ends, after the sends in flight finished.
func (s *Service) Run(ctx context.Context) error {
	sem := make(chan struct{}, s.cfg.Senders)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
		list, next, err := s.due(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("alerts: cannot read the delivery queue", "err", err)
		}
		for _, d := range list {
			s.mu.Lock()
			busy := s.inflight[d.sub]
			if !busy {
				s.inflight[d.sub] = true
			}
			s.mu.Unlock()
			if busy {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				s.mu.Lock()
				delete(s.inflight, d.sub)
				s.mu.Unlock()
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.deliver(ctx, d)
				<-sem
				s.mu.Lock()
				delete(s.inflight, d.sub)
				s.mu.Unlock()
				s.poke()
			}()
		}
		wait := s.cfg.Poll
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// due lists the deliveries to send now — each subscription's oldest due
// one, so that a subscription's backlog never hides another's — and when
// the next later one is due.
func (s *Service) due(ctx context.Context) ([]due, time.Time, error) {
	now := db.FormatTime(s.now())
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, d.subscription_id, d.body, d.attempts, s.url, s.secret FROM api_alert_subscriptions s
		JOIN api_alert_deliveries d ON d.id = (SELECT d2.id FROM api_alert_deliveries d2 WHERE d2.subscription_id = s.id AND d2.status = ? AND d2.next_at <= ?
			ORDER BY d2.next_at, d2.created_at LIMIT 1)
		WHERE s.deleted = 0 ORDER BY d.next_at`, DeliveryPending, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	var out []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.sub, &d.body, &d.attempts, &d.url, &d.secret); err != nil {
			rows.Close()
			return nil, time.Time{}, err
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, err
	}
	var next string
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(MIN(d.next_at), '') FROM api_alert_deliveries d JOIN api_alert_subscriptions s ON s.id = d.subscription_id
		WHERE d.status = ? AND s.deleted = 0 AND d.next_at > ?`, DeliveryPending, now).Scan(&next)
	if err != nil {
		return out, time.Time{}, err
	}
	t, _ := db.ParseTime(next)
	return out, t, nil
}

// backoff is the wait after the n-th failed attempt.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.FirstRetry
	for i := 1; i < n && d < s.cfg.MaxRetry; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxRetry)
}

// deliver makes one attempt and records it.
func (s *Service) deliver(ctx context.Context, d due) {
	body := []byte(d.body)
	start := s.now()
	code, msg := s.post(ctx, d, body)
	if ctx.Err() != nil {
		return // shutting down: the attempt does not count
	}
	n := d.attempts + 1
	end := s.now()
	ok := code >= 200 && code < 300
	status, next := DeliveryPending, end.Add(s.backoff(n))
	switch {
	case ok:
		status = DeliveryDelivered
	case n >= s.cfg.MaxAttempts:
		status = DeliveryFailed
	}
	delivered := ""
	if ok {
		delivered = db.FormatTime(end)
	}
	err := s.db.InTx(context.Background(), func(tx *db.Tx) error {
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO api_alert_attempts (delivery_id, n, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (delivery_id, n) DO NOTHING`, d.id, n, db.FormatTime(start), code, msg, end.Sub(start).Milliseconds()); err != nil {
			return err
		}
		_, err := tx.ExecContext(context.Background(), `UPDATE api_alert_deliveries SET status = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?, delivered_at = ?
			WHERE id = ?`, status, n, db.FormatTime(next), code, msg, delivered, d.id)
		return err
	})
	if err != nil {
		s.log.Error("alerts: cannot record a delivery attempt", "delivery", d.id, "err", err)
		return
	}
	if !ok {
		s.log.Warn("alerts: delivery failed", "delivery", d.id, "subscription", d.sub, "attempt", n, "status", status, "err", msg)
	}
}

// post sends the delivery and returns the endpoint's status (0: none) and
// what went wrong ("" for a 2xx).
func (s *Service) post(ctx context.Context, d due, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PharmaTrace-Webhooks/1")
	req.Header.Set(SignatureHeader, Sign(d.secret, body))
	req.Header.Set("X-PharmaTrace-Delivery", d.id)
	req.Header.Set("X-PharmaTrace-Event", EventAnomalyCreated)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}
