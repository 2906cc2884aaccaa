// Package reporting makes the releases of the reporting door: the
// published tables are computed once per release (app.release_reports)
// and read as often as one likes until the next, so re-reading after each
// change to a cell learns nothing (docs/design.md, "The reporting door").
package reporting

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// Querier is a pool or a connection.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Result is what app.release_reports did.
type Result struct {
	Released bool   `json:"released"`
	Release  int64  `json:"release"`
	Reason   string `json:"reason"`
}

// Release makes a release when the latest is older than the database's
// release_interval (api.release_reports, the server's door), or always
// when force is set (app.release_reports, for the privileged connection
// only).
func Release(ctx context.Context, q Querier, force bool) (Result, error) {
	sql := `select api.release_reports()::text`
	if force {
		sql = `select app.release_reports(true)::text`
	}
	var raw []byte
	if err := q.QueryRow(ctx, sql).Scan(&raw); err != nil {
		return Result{}, fmt.Errorf("release reports: %w", err)
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return Result{}, fmt.Errorf("read release: %w", err)
	}
	return r, nil
}

// CheckInterval is how often a server asks whether a release is due; the
// database decides (one release per release_interval, one caller at a
// time), so every server copy may ask.
const CheckInterval = time.Minute

// RunReleaser asks for a release at start and every interval until ctx
// ends.
func RunReleaser(ctx context.Context, q Querier, interval time.Duration, log zerolog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, interval)
		r, err := Release(rctx, q, false)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Msg("reporting release failed; retrying next interval")
		case r.Released:
			log.Info().Int64("release", r.Release).Msg("reporting release made")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
