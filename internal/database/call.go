package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrUnavailable means the database could not be reached or dropped the
// connection: the pool had no connection within the acquire timeout, the
// server refused or closed the connection, or it is shutting down. The
// request may be retried later (HTTP 503 with Retry-After). When it happens
// after a write was sent, the write may or may not have committed, which is
// why Call never retries it.
var ErrUnavailable = errors.New("database unavailable")

// Identity is who a Call acts for. It becomes transaction-local settings
// that app.current_user_id() trusts only for members of healthcare_api.
type Identity struct {
	// UserID is the verified token's subject; 0 means anonymous.
	UserID int64
	// RequestID is the server's own id of the request, recorded as
	// app.request_id for audit and log correlation.
	RequestID string
	// ClientRequestID is the X-Request-Id the client sent, if any: its
	// own claim, recorded apart (app.client_request_id, the audit event's
	// detail.client_request_id), never as RequestID.
	ClientRequestID string
	// Session is the verified token's session (refresh token family, a
	// UUID); empty for anonymous calls and for the login and refresh
	// routes, which prove who they are otherwise.
	Session string
	// ClientAddr is the client's address as the server saw it (through
	// trusted proxies), recorded in the audit trail; empty when unknown.
	ClientAddr string
}

// IdentitySQL starts every call: api.begin_request sets the caller's
// identity, request ids, client address, statement and lock timeouts and
// commit mode for the current transaction only, so nothing survives on the pooled
// connection once the batch's implicit transaction ends; it refuses (RUNAU)
// a session that was logged out or revoked, so a logout takes effect on the
// very next request at every server copy, and treats an inactive user as
// anonymous. Call sends it before every api function with $1 the user id,
// $2 the request id, $3 the statement timeout, $4 the session, $5 the
// client address, $6 synchronous_commit (empty: as configured), $7 the lock timeout and $8 the
// client's own request id; cmd/bench sends the same text from pgbench.
const IdentitySQL = `select api.begin_request($1::text, $2::text, $3::text, $4::uuid, $5::text, $6::text, $7::text, $8::text)`

// Call runs api.<fn>(args...) as the given identity and returns the JSON
// text it produced (nil when the function returned SQL null).
//
// The identity statement and the function call travel as one pgx batch: one
// network round trip and one implicit transaction that commits when the
// batch's Sync is processed. Errors raised by SQL come back as a wrapped
// *Error (a lock held by another session past Options.LockTimeout is
// KindLocked); connection-level failures as ErrUnavailable; a caller
// already at Options.PerCaller calls in flight gets ErrBusy, with nothing
// sent.
func (db *DB) Call(ctx context.Context, id Identity, fn Func, args ...any) ([]byte, error) {
	if fn.sql == "" {
		return nil, errors.New("database: call with zero Func")
	}
	if len(args) != fn.argc {
		return nil, fmt.Errorf("call %s: got %d arguments, want %d", fn.QualifiedName(), len(args), fn.argc)
	}
	if db.callers != nil {
		release, err := db.callers.acquire(ctx, keyOf(id))
		if err != nil {
			return nil, fmt.Errorf("call api.%s: %w", fn.name, err)
		}
		defer release()
	}
	out, err := db.call(ctx, id, fn, args)
	if err != nil && pgconn.SafeToRetry(err) && ctx.Err() == nil {
		// pgconn guarantees nothing reached the server (typically a pooled
		// connection that died while idle), so even a write is safe to send
		// once more on a fresh connection. Any other failure is not retried:
		// the write might have committed.
		out, err = db.call(ctx, id, fn, args)
	}
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", fn.QualifiedName(), err)
	}
	return out, nil
}

func (db *DB) call(ctx context.Context, id Identity, fn Func, args []any) ([]byte, error) {
	conn, err := db.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// statement_timeout bounds each statement but not the commit, which
	// waits for synchronous standbys: with them gone it would wait for
	// ever. The whole call gets the statement timeout plus a margin; past
	// it the call is ErrUnavailable (the write may have committed, as with
	// any connection failure after sending).
	callCtx, cancel := context.WithTimeout(ctx, db.callTimeout)
	defer cancel()
	out, err := db.send(callCtx, conn, id, fn, args)
	if err != nil && ctx.Err() == nil && errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: no answer within %v: %w", ErrUnavailable, db.callTimeout, err)
	}
	return out, err
}

// send runs the identity statement and the call as one batch on conn.
func (db *DB) send(ctx context.Context, conn *pgxpool.Conn, id Identity, fn Func, args []any) ([]byte, error) {
	b := &pgx.Batch{}
	b.Queue(IdentitySQL, userSetting(id.UserID), id.RequestID, db.statementTimeout, sessionSetting(id.Session),
		id.ClientAddr, commitMode(fn), db.lockTimeout, id.ClientRequestID)
	b.Queue(fn.sql, args...)
	br := conn.SendBatch(ctx, b)

	var out []byte
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, classify(ctx, conn, err)
	}
	if err := br.QueryRow().Scan(&out); err != nil {
		_ = br.Close()
		return nil, classify(ctx, conn, err)
	}
	// Close reads through the Sync, where the implicit transaction
	// commits; a commit failure surfaces here and the result is discarded.
	if err := br.Close(); err != nil {
		return nil, classify(ctx, conn, err)
	}
	if refused, ok := asRefusal(out); ok {
		return nil, refused
	}
	return out, nil
}

// userSetting is the text form of app.user_id: empty for anonymous, so
// app.current_user_id() yields null rather than a user.
func userSetting(id int64) string {
	if id <= 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// commitMode is synchronous_commit for fn's transaction. A read writes only
// its audit event; committing it asynchronously saves the read a WAL
// flush, and a crash can lose at most the last wal_writer_delay (about
// 200 ms, at most three times that under load) of read events, never a
// write. A write commits as the server is configured: the empty value
// leaves synchronous_commit alone, so a cluster set to remote_apply or to
// synchronous standbys is never weakened, nor a test cluster's off
// strengthened (docs/design.md, "The audit trail").
func commitMode(fn Func) string {
	if fn.read {
		return "off"
	}
	return ""
}

// sessionSetting is the session argument: NULL when there is none.
func sessionSetting(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// classify turns SQL errors into *Error, marks connection-level failures
// (and the server's "not now" codes) as ErrUnavailable, and leaves the
// caller's cancellation as it is.
func classify(ctx context.Context, conn *pgxpool.Conn, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e := newError(pgErr)
		if unavailableCode(pgErr.Code) {
			return fmt.Errorf("%w: %w", ErrUnavailable, e)
		}
		return e
	}
	if ctx.Err() != nil {
		return err
	}
	if connectionFailure(conn, err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// unavailableCode lists server errors that say "not now" rather than "no":
// connection exceptions (class 08), shutdowns (57P01..57P03) and a full
// server (53300).
func unavailableCode(code string) bool {
	if len(code) == 5 && code[:2] == "08" {
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "53300":
		return true
	}
	return false
}

func connectionFailure(conn *pgxpool.Conn, err error) bool {
	if conn != nil && conn.Conn().IsClosed() {
		return true // pgx closes the connection on any network error
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connectErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.Timeout(err)
}
