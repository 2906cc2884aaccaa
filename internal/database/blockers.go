package database

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// blockerWatch notes, from a second connection, which sessions block a
// migration's connection while it waits for a lock, so a lock timeout can
// name them: once the wait has failed, PostgreSQL no longer says who held
// the lock. It connects only once the migration has run for a while
// (blockerWatchAfter), so a quick migrate opens no second connection.
type blockerWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	last   []string
}

const (
	blockerWatchAfter = 500 * time.Millisecond
	blockerWatchEvery = 250 * time.Millisecond
)

// blockersSQL describes the sessions blocking $1, oldest first.
const blockersSQL = `select a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),
       to_char(a.state_change at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"'),
       coalesce(to_char(a.xact_start at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"'), ''),
       to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"'),
       coalesce(host(a.client_addr), 'local')
  from pg_catalog.pg_stat_activity a
 where a.pid = any (pg_catalog.pg_blocking_pids($1))
 order by a.backend_start`

// watchBlockers starts watching the sessions that block pid, connecting
// with cfg. stop ends it and returns the last blockers seen.
func watchBlockers(ctx context.Context, cfg *pgx.ConnConfig, pid uint32) *blockerWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &blockerWatch{cancel: cancel, done: make(chan struct{})}
	go w.run(ctx, cfg, pid)
	return w
}

func (w *blockerWatch) run(ctx context.Context, cfg *pgx.ConnConfig, pid uint32) {
	defer close(w.done)
	select {
	case <-ctx.Done():
		return
	case <-time.After(blockerWatchAfter):
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return // the hint falls back to saying where to look
	}
	defer conn.Close(context.Background())
	t := time.NewTicker(blockerWatchEvery)
	defer t.Stop()
	for {
		if found := describeBlockers(ctx, conn, pid); len(found) > 0 {
			w.mu.Lock()
			w.last = found
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func describeBlockers(ctx context.Context, conn *pgx.Conn, pid uint32) []string {
	rows, err := conn.Query(ctx, blockersSQL, int32(pid))
	if err != nil {
		return nil
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var bpid int32
		var user, app, state, stateSince, xactSince, connected, addr string
		if err := r.Scan(&bpid, &user, &app, &state, &stateSince, &xactSince, &connected, &addr); err != nil {
			return "", err
		}
		s := fmt.Sprintf("pid %d (user %q, application_name %q, from %s, connected %s): %s since %s",
			bpid, user, app, addr, connected, state, stateSince)
		if xactSince != "" {
			s += ", transaction open since " + xactSince
		}
		return s, nil
	})
	if err != nil {
		return nil
	}
	return found
}

// stop ends the watch and returns what it saw last: one line per session.
func (w *blockerWatch) stop() []string {
	if w == nil {
		return nil
	}
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// blockersText is the list for an error message, or "" when none was seen.
func blockersText(found []string) string {
	if len(found) == 0 {
		return ""
	}
	pids := make([]string, len(found))
	for i, f := range found {
		pids[i], _, _ = strings.Cut(strings.TrimPrefix(f, "pid "), " ")
	}
	return "blocked by " + strings.Join(found, "; ") +
		"; end it with select pg_terminate_backend(" + strings.Join(pids, "), pg_terminate_backend(") + ")"
}
