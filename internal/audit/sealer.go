package audit

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// RunSealer seals every interval until ctx ends. Every server copy runs
// one; the database lets one seal at a time. Each new seal's hash is
// logged, so the chain's head is kept outside the database too: a
// superuser who rewrote the whole chain would not match the log.
func RunSealer(ctx context.Context, q Querier, interval time.Duration, log zerolog.Logger) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, interval)
		r, err := Seal(sctx, q)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Msg("audit seal failed; retrying next interval")
		case r.Sealed:
			log.Info().Int64("events", r.Events).Str("hash", r.Hash).Msg("audit events sealed")
		}
	}
}
