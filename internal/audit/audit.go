// Package audit works the audit trail that PostgreSQL keeps in schema
// audit (sql/migrations/013_audit.sql): it seals new events into the hash
// chain, verifies the chain, prunes old months and prints events. Events
// themselves are written by the database, in the transaction of the access
// they record; nothing here is on the request path.
package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what the functions need of a connection or pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// SealResult is audit.seal()'s answer.
type SealResult struct {
	Sealed bool   `json:"sealed"`
	Reason string `json:"reason"`
	Events int64  `json:"events"`
	Hash   string `json:"hash"`
}

// Seal seals every event of the transactions finished since the last
// seal. Any number of server copies may call it: one seals, the others
// return at once (Sealed false).
func Seal(ctx context.Context, q Querier) (SealResult, error) {
	var raw []byte
	if err := q.QueryRow(ctx, `select audit.seal()::text`).Scan(&raw); err != nil {
		return SealResult{}, fmt.Errorf("seal audit events: %w", err)
	}
	var r SealResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return SealResult{}, fmt.Errorf("read seal: %w", err)
	}
	return r, nil
}

// lineSettings fix how a row prints, as audit.seal() fixes them: each
// event's line is its row's text form (e::text). The expression is
// repeated here on purpose: verification must not trust a function stored
// in the database it checks.
var lineSettings = []string{
	"set local timezone = 'UTC'", "set local datestyle = 'ISO, YMD'",
	"set local intervalstyle = 'postgres'", "set local extra_float_digits = 1",
}

// ErrBroken means the chain does not match the events it seals.
var ErrBroken = errors.New("audit trail does not match its seals")

// Report is what Verify found.
type Report struct {
	Seals  int
	Events int64
	// LastHash is the newest seal's hash: keep it outside the database
	// (a log line, a file) to detect a rewrite of the whole chain.
	LastHash string
}

// Verify recomputes every seal from the events it covers, in order, and
// returns ErrBroken naming the first seal whose range no longer matches:
// an event changed, deleted or inserted in a sealed range, a seal changed
// or removed, or a gap between seals.
func Verify(ctx context.Context, q Querier) (Report, error) {
	tx, err := q.Begin(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("verify: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for _, s := range lineSettings {
		if _, err := tx.Exec(ctx, s); err != nil {
			return Report{}, fmt.Errorf("verify: %s: %w", s, err)
		}
	}
	// Seals whose events audit.prune dropped cannot be rechecked: the chain
	// is verified from the first seal after them, starting from the hash
	// that seal names.
	var from int64
	if err := tx.QueryRow(ctx, `select chain_from_seal from audit.seal_state`).Scan(&from); err != nil {
		return Report{}, fmt.Errorf("read where the chain starts: %w", err)
	}
	rows, err := tx.Query(ctx, `select id, xact_from, xact_to, events, prev_hash, hash from audit.seals where id >= $1 order by id`, from)
	if err != nil {
		return Report{}, fmt.Errorf("read seals: %w", err)
	}
	type seal struct {
		id, from, to, events int64
		prev, hash           []byte
	}
	seals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seal, error) {
		var s seal
		err := r.Scan(&s.id, &s.from, &s.to, &s.events, &s.prev, &s.hash)
		return s, err
	})
	if err != nil {
		return Report{}, fmt.Errorf("read seals: %w", err)
	}
	rep := Report{Seals: len(seals)}
	var prev []byte
	if len(seals) > 0 && from > 1 {
		prev = seals[0].prev
	}
	var nextFrom int64
	for i, s := range seals {
		if i > 0 && s.from != nextFrom {
			return rep, fmt.Errorf("%w: seal %d covers transactions from %d, but the seal before it ended at %d", ErrBroken, s.id, s.from, nextFrom)
		}
		if !bytes.Equal(s.prev, prev) {
			return rep, fmt.Errorf("%w: seal %d does not name the hash of the seal before it", ErrBroken, s.id)
		}
		var n int64
		var hash []byte
		err := tx.QueryRow(ctx, `select count(*), sha256(coalesce($1::bytea, ''::bytea) ||
			convert_to(coalesce(string_agg(e::text, E'\n' order by e.id), ''), 'UTF8'))
			from audit.events e where e.xact >= $2 and e.xact < $3`, prev, s.from, s.to).Scan(&n, &hash)
		if err != nil {
			return rep, fmt.Errorf("hash the events of seal %d: %w", s.id, err)
		}
		if n != s.events || !bytes.Equal(hash, s.hash) {
			return rep, fmt.Errorf("%w: seal %d (transactions %d to %d): %d events now, %d sealed; hash %s, sealed %s",
				ErrBroken, s.id, s.from, s.to-1, n, s.events, hex.EncodeToString(hash), hex.EncodeToString(s.hash))
		}
		rep.Events += n
		prev, nextFrom = s.hash, s.to
	}
	rep.LastHash = hex.EncodeToString(prev)
	return rep, nil
}

// Prune drops the monthly partitions whose events are all older than
// olderThan before now and returns their names; the database records the
// prune as an event. It needs the privileged connection. The command passes
// the wall clock; tests pass the dates they pin.
func Prune(ctx context.Context, q Querier, olderThan time.Duration, now time.Time) ([]string, error) {
	var raw []byte
	if err := q.QueryRow(ctx, `select audit.prune(make_interval(secs => $1), $2)::text`, olderThan.Seconds(), now).Scan(&raw); err != nil {
		return nil, fmt.Errorf("prune audit events: %w", err)
	}
	var r struct {
		Dropped []string `json:"dropped"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("read prune: %w", err)
	}
	return r.Dropped, nil
}

// Event is one audit event, as Events returns it.
type Event struct {
	ID         int64
	At         time.Time
	UserID     *int64
	DBRole     string
	Door       string
	Action     string
	Outcome    string
	PatientID  *int64
	Patients   []int64
	RequestID  *string
	ClientAddr *string
	Detail     []byte
}

// Filter selects events; zero fields select everything.
type Filter struct {
	Patient int64
	User    int64
	Since   time.Time
	Limit   int
}

// Events returns the events matching f, oldest first (at most f.Limit,
// the newest ones, when set).
func Events(ctx context.Context, q Querier, f Filter) ([]Event, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	rows, err := q.Query(ctx, `
		select * from (
		  select e.id, e.at, e.user_id, e.db_role::text, e.door, e.action, e.outcome, e.patient_id,
		         coalesce(e.patients, '{}'), e.request_id, host(e.client_addr), e.detail::text
		    from audit.events e
		   where ($1 = 0 or e.patient_id = $1 or e.patients @> array[$1::bigint])
		     and ($2 = 0 or e.user_id = $2)
		     and ($3::timestamptz is null or e.at >= $3)
		   order by e.id desc limit $4) s
		 order by 1`, f.Patient, f.User, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var detail *string
		err := r.Scan(&e.ID, &e.At, &e.UserID, &e.DBRole, &e.Door, &e.Action, &e.Outcome, &e.PatientID,
			&e.Patients, &e.RequestID, &e.ClientAddr, &detail)
		if detail != nil {
			e.Detail = []byte(*detail)
		}
		return e, err
	})
}

// FormatTable writes events as an aligned text table for people.
func FormatTable(events []Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-24s %-6s %-18s %-5s %-6s %-9s %-8s %s\n", "id", "at (UTC)", "user", "db role", "door", "action", "outcome", "patient", "request / client / detail")
	for _, e := range events {
		patient := "-"
		if e.PatientID != nil {
			patient = fmt.Sprint(*e.PatientID)
		} else if len(e.Patients) > 0 {
			patient = fmt.Sprintf("%d listed", len(e.Patients))
		}
		user := "-"
		if e.UserID != nil {
			user = fmt.Sprint(*e.UserID)
		}
		var extra []string
		if e.RequestID != nil {
			extra = append(extra, *e.RequestID)
		}
		if e.ClientAddr != nil {
			extra = append(extra, *e.ClientAddr)
		}
		if len(e.Detail) > 0 {
			extra = append(extra, string(e.Detail))
		}
		fmt.Fprintf(&b, "%-8d %-24s %-6s %-18s %-5s %-6s %-9s %-8s %s\n", e.ID, e.At.UTC().Format("2006-01-02 15:04:05.000"),
			user, e.DBRole, e.Door, e.Action, e.Outcome, patient, strings.Join(extra, "  "))
	}
	return b.String()
}
