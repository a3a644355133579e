package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/trace"
)

// BulkBody is a list of packs to verify, dispense or decommission in one
// request (package bulk).
type BulkBody struct {
	// RequestID names the request (1-40 of A-Z a-z 0-9 . _ -): sending it
	// again applies nothing twice and answers every pack's outcome. Without
	// one the API picks a new ID (no protection against a retry).
	RequestID string       `json:"requestId,omitempty"`
	Reason    trace.Reason `json:"reason,omitempty"` // decommission only
	Packs     []BulkPack   `json:"packs"`
}

// BulkPack is one pack of a bulk request: the GS1 scan string, or the four
// fields.
type BulkPack struct {
	Scan     string   `json:"scan,omitempty"`
	GTIN     string   `json:"gtin,omitempty"`
	Serial   string   `json:"serial,omitempty"`
	Lot      string   `json:"lot,omitempty"`
	Expiry   string   `json:"expiry,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// bulkPack parses one pack; a pack that cannot be sent to the ledger is
// rejected (with the field and the reason) instead of failing the request.
func bulkPack(i int, p BulkPack) bulk.Pack {
	field := fmt.Sprintf("packs[%d]", i)
	reject := func(sc trace.Scan, err error) bulk.Pack {
		pr := ProblemFor(err)
		f := field
		if pr.Field != "" {
			f += "." + pr.Field
		}
		return bulk.Pack{Scan: sc, Field: f, Problem: pr.Detail}
	}
	sc := trace.Scan{GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Expiry: p.Expiry}
	if p.Scan != "" {
		if p.GTIN != "" || p.Serial != "" || p.Lot != "" || p.Expiry != "" {
			return bulk.Pack{Scan: sc, Field: field + ".scan", Problem: "give either scan or gtin, serial, lot and expiry, not both"}
		}
		parsed, err := parseScan("scan", p.Scan)
		if err != nil {
			return reject(trace.Scan{}, err)
		}
		sc = parsed
	}
	sc.Warnings = mergeWarnings(sc.Warnings, p.Warnings)
	if err := (&trace.VerifyRequest{Scan: sc}).Validate(); err != nil {
		return reject(sc, err)
	}
	return bulk.Pack{Scan: sc}
}

// bulkStart records a bulk request and runs it: lists of up to
// Config.BulkSyncMax packs are answered when every pack is done, longer
// ones at once with 202 and the progress resource in Location (wait
// overrides either way).
func (s *Server) bulkStart(op bulk.Op) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkQuery(c, []string{"wait"}); err != nil {
			return err
		}
		var body BulkBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		if len(body.Packs) == 0 {
			return fieldProblem("packs", "is empty")
		}
		if n := len(body.Packs); n > s.cfg.BulkMaxPacks {
			p := NewProblem(ProbTooLarge, "%d packs exceed the limit of %d per bulk request; split the list", n, s.cfg.BulkMaxPacks)
			p.Field = "packs"
			return p
		}
		wait := len(body.Packs) <= s.cfg.BulkSyncMax
		if w := c.QueryParam("wait"); w != "" {
			var err error
			if wait, err = strconv.ParseBool(w); err != nil {
				return fieldProblem("wait", "%q is not true or false", w)
			}
		}
		id := identity(c)
		spec := bulk.Spec{ID: body.RequestID, MSP: id.MSP, By: id.Key(), Op: op, Reason: body.Reason,
			Report: op == bulk.OpVerify && id.Role.Has(trace.RightScanReport)}
		if spec.ID == "" {
			spec.ID = ensureID("")
		}
		if err := spec.Validate(); err != nil {
			return err
		}
		if op == bulk.OpDecommission && !id.Role.Has(trace.DecommissionRight(body.Reason)) {
			p := NewProblem(ProbForbidden, "role %s may not decommission a pack as %s", id.Role, body.Reason)
			p.Field = "reason"
			return p
		}
		packs := make([]bulk.Pack, len(body.Packs))
		seen := make(map[trace.PackRef]int, len(body.Packs))
		for i, p := range body.Packs {
			packs[i] = bulkPack(i, p)
			if packs[i].Problem != "" {
				continue
			}
			ref := packs[i].Scan.Ref()
			if j, dup := seen[ref]; dup {
				packs[i].Field, packs[i].Problem = fmt.Sprintf("packs[%d]", i), fmt.Sprintf("repeats packs[%d] (%s/%s)", j, ref.GTIN, ref.Serial)
				continue
			}
			seen[ref] = i
		}
		led, err := s.ledger(c)
		if err != nil {
			return err
		}
		job, done, err := s.deps.Bulk.Start(c.Request().Context(), led, spec, packs)
		if err != nil {
			return err
		}
		s.log.Info("api: bulk request", "bulk", spec.ID, "operation", op, "packs", len(packs), "msp", id.MSP, "gln", id.GLN)
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/bulk/requests/"+url.PathEscape(spec.ID))
		if wait && job.Status == bulk.JobRunning {
			select {
			case <-done:
			case <-c.Request().Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 10*time.Second)
			defer cancel()
			if job, err = s.deps.Bulk.Get(ctx, id.MSP, spec.ID); err != nil {
				return err
			}
		}
		if job.Status == bulk.JobRunning {
			return writeJSON(c, http.StatusAccepted, job)
		}
		return writeJSON(c, http.StatusOK, job)
	}
}

func (s *Server) getBulk(c echo.Context) error {
	job, err := s.deps.Bulk.Get(c.Request().Context(), identity(c).MSP, c.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, job)
}
