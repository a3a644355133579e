package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Backend is the ledger side of the API: the per-user Ledgers (from the
// per-organisation wallets) and the chaincode event stream feeding the read
// model.
type Backend struct {
	Ledgers api.Ledgers
	Events  api.EventSource
	Close   func() error
	// GLNs maps the network users' GLNs to their MSP IDs (nil for the fake
	// ledger).
	GLNs map[string]string
}

// newBackend builds the backend: the Fabric ledger through package
// gateway, or with -fake-ledger the in-memory demo ledger.
func newBackend(ctx context.Context, c config, log *slog.Logger) (Backend, error) {
	if c.fakeLedger {
		return fakeBackend(ctx, c, log)
	}
	spec, err := netspec.Load(c.network)
	if err != nil {
		return Backend{}, err
	}
	l, err := netspec.NewLayout(spec, c.runDir)
	if err != nil {
		return Backend{}, err
	}
	org, user, ok := strings.Cut(c.eventsUser, "/")
	if !ok {
		return Backend{}, fmt.Errorf("-events-user %q: want <org>/<name>", c.eventsUser)
	}
	f := &fabric{l: l, log: log, clients: map[string]*gateway.Client{}}
	events, err := f.client(ctx, org, user)
	if err != nil {
		return Backend{}, fmt.Errorf("events identity %s: %w", c.eventsUser, err)
	}
	return Backend{
		Ledgers: api.LedgersFunc(func(id api.Identity) (api.Ledger, error) {
			cl, err := f.client(context.Background(), id.Org, id.User)
			if err != nil {
				return nil, err
			}
			return ledger{cl}, nil
		}),
		Events: eventSource{events, memberOf(spec, org)},
		Close:  f.close,
		GLNs:   networkGLNs(spec),
	}, nil
}

// fabric holds one gateway client per network user: the API submits with
// the identity of the authenticated user, never a shared one.
type fabric struct {
	l       *netspec.Layout
	log     *slog.Logger
	mu      sync.Mutex
	clients map[string]*gateway.Client
}

func (f *fabric) client(ctx context.Context, org, user string) (*gateway.Client, error) {
	key := org + "/" + user
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c, nil
	}
	cfg, err := fabconn.GatewayConfig(f.l, org, user)
	if err != nil {
		return nil, err
	}
	c, err := gateway.Dial(ctx, cfg, gateway.WithLogger(f.log.With("user", key)), gateway.WithGetRequestLookup())
	if err != nil {
		return nil, err
	}
	f.clients[key] = c
	return c, nil
}

func (f *fabric) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, c := range f.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ledger adapts a gateway client to api.Ledger.
type ledger struct{ c *gateway.Client }

func (l ledger) Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error {
	return translate(l.c.Submit(ctx, fn, req.ID(), req, result))
}

func (l ledger) Evaluate(ctx context.Context, fn string, req trace.Request, result any) error {
	return translate(l.c.Evaluate(ctx, fn, req, result))
}

// ledgerError carries the chaincode's own message form ("invalid request:
// <field>: <detail>") that the API's error handler reads, and both the
// domain class and the gateway error for errors.Is/As.
type ledgerError struct {
	msg   string
	class error
	cause error
}

func (e *ledgerError) Error() string   { return e.msg }
func (e *ledgerError) Unwrap() []error { return []error{e.class, e.cause} }

// translate maps gateway errors onto the API's expectations.
func translate(err error) error {
	var ge *gateway.Error
	if err == nil || !errors.As(err, &ge) {
		return err
	}
	switch {
	case ge.Kind == gateway.KindUnknownOutcome:
		return &ledgerError{"ledger outcome unknown: " + err.Error(), api.ErrOutcomeUnknown, err}
	case gateway.Retryable(err), ge.Kind == gateway.KindEndorsementPolicy:
		return &ledgerError{"ledger unavailable: " + err.Error(), api.ErrUnavailable, err}
	}
	switch ge.Kind {
	case gateway.KindInvalid:
		return &ledgerError{"invalid request: " + ge.Msg, trace.ErrInvalidRequest, err}
	case gateway.KindAccessDenied:
		return &ledgerError{"access denied: " + ge.Msg, trace.ErrAccessDenied, err}
	case gateway.KindNotFound:
		return &ledgerError{"not found: " + ge.Msg, trace.ErrNotFound, err}
	case gateway.KindConflict:
		return &ledgerError{"conflict: " + ge.Msg, trace.ErrConflict, err}
	}
	return err
}

// eventSource streams the chaincode's events into the read model, which
// commits each event's rows and its position in one SQL transaction: the
// position is handed in, and the gateway's own checkpoint is not kept.
type eventSource struct {
	c *gateway.Client
	// member reports the collections the events identity's organisation
	// holds: their routed transactions' full events are required.
	member func(collection string) bool
}

// memberOf returns the collections org's peer holds (docs/
// confidentiality.md): a regulator all, a manufacturer its own, others
// none (the read model then gets stubs for transactions on packs, so the
// API should run with the regulator's identity, the default).
func memberOf(spec *netspec.Spec, org string) func(string) bool {
	for _, o := range spec.Orgs {
		if o.Name != org && o.MSPID != org {
			continue
		}
		if slices.Contains(o.Roles, string(trace.RoleRegulator)) {
			return func(string) bool { return true }
		}
		msp := o.MSPID
		return func(c string) bool { return c == trace.Collection(msp) }
	}
	return func(string) bool { return false }
}

type positionCheckpoint struct{ from gateway.Checkpoint }

func (p positionCheckpoint) Load(context.Context) (gateway.Checkpoint, error) { return p.from, nil }
func (positionCheckpoint) Save(context.Context, gateway.Checkpoint) error     { return nil }

func (s eventSource) Stream(ctx context.Context, from api.Position, apply readmodel.ApplyFunc) error {
	cp := positionCheckpoint{gateway.Checkpoint{Block: from.Block, Index: from.Index, TxID: from.TxID}}
	opts := []gateway.EventsOption{gateway.WithPrivateEvents(s.member)}
	if cp.from.IsZero() {
		opts = append(opts, gateway.FromBlock(0))
	}
	return s.c.Events(ctx, cp, func(ctx context.Context, ev gateway.Event) error {
		var e trace.Event
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			return fmt.Errorf("event %s in block %d: %w", ev.TxID, ev.Block, err)
		}
		return apply(ctx, e, api.Position{Block: ev.Block, Index: ev.Index, TxID: ev.TxID})
	}, opts...)
}

func fakeBackend(ctx context.Context, c config, log *slog.Logger) (Backend, error) {
	log.Warn("serving on the in-memory ledger (the real contract on one in-memory peer): nothing reaches Fabric, everything is lost on exit")
	sim, err := memledger.New(time.Time{})
	if err != nil {
		return Backend{}, err
	}
	if c.fakeDemo {
		res, err := sim.Demo(ctx)
		if err != nil {
			return Backend{}, err
		}
		log.Info("fake ledger: demo flow recorded", "clone_anomaly", res.Clone, "serial", res.CloneSerial)
	}
	return Backend{
		Ledgers: api.LedgersFunc(func(id api.Identity) (api.Ledger, error) { return sim.For(id.Actor(), id.GCP), nil }),
		Events:  sim,
		Close:   func() error { return nil },
	}, nil
}

// networkGLNs maps every network user's GLN to the user's MSP ID.
func networkGLNs(spec *netspec.Spec) map[string]string {
	out := map[string]string{}
	for _, o := range spec.Orgs {
		for _, u := range o.Users {
			if u.GLN != "" {
				out[u.GLN] = o.MSPID
			}
		}
	}
	return out
}
