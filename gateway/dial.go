package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Dial validates cfg, loads (or enrolls) the identity and connects to every
// endpoint, waiting up to cfg.DialTimeout for them to be ready. An endpoint
// that is down is not an error (the client fails over and keeps
// reconnecting); an unreadable TLS root or identity file is.
func Dial(ctx context.Context, cfg Config, opts ...Option) (*Client, error) {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.id != nil {
		// The identity comes from WithIdentity: Config.Identity is unused.
		cfg.Identity = Identity{MSPID: o.id.MspID(), CertFile: "-", KeyFile: "-"}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.id != nil && o.sign == nil {
		return nil, &ConfigError{"WithIdentity", "a sign function is required"}
	}

	var s *signer
	if o.id != nil {
		s = &signer{id: o.id, sign: o.sign}
	} else {
		var err error
		if s, err = loadSigner(ctx, cfg.Identity); err != nil {
			return nil, err
		}
	}

	newEndpoint := o.newEndpoint
	if newEndpoint == nil {
		newEndpoint = dialEndpoint
	}
	eps := make([]endpoint, len(cfg.Endpoints))
	errs := make([]error, len(cfg.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range cfg.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eps[i], errs[i] = newEndpoint(ctx, &cfg, ep, s, o.log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, ep := range eps {
			if ep != nil {
				_ = ep.Close()
			}
		}
		return nil, fmt.Errorf("gateway: dial: %w", err)
	}
	c := newClient(&cfg, eps, o)
	healthy := 0
	for _, ep := range eps {
		if ep.Healthy() {
			healthy++
		}
	}
	if healthy == 0 {
		c.log.Error("no ledger endpoint is ready; calls will retry until one is", "endpoints", len(eps))
	} else {
		c.log.Info("connected to the ledger", "endpoints", len(eps), "ready", healthy, "endpoint", c.pool.current().Addr())
	}
	return c, nil
}
