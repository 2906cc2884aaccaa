package dbadmin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// UserChange is what `healthcare user` did to an account.
type UserChange struct {
	ID       int64
	Username string
	// Changed is false when the account was already as asked (nothing
	// written, no event).
	Changed bool
	// SessionsEnded counts the refresh tokens revoked (deactivation and a
	// new password end the account's sessions, as a logout does).
	SessionsEnded int
}

// The changes `healthcare user` makes, as the audit event's detail.change
// names them.
const (
	ChangeSetPassword = "set_password"
	ChangeDeactivate  = "deactivate"
	ChangeActivate    = "activate"
	ChangeGrantAdmin  = "grant_admin"
	ChangeRevokeAdmin = "revoke_admin"
)

// ChangeUser applies one administrative change to the account named
// username (case-insensitive), as Django's admin did: a new password
// (hash, an argon2id PHC string from internal/auth), deactivation or
// activation, or granting or revoking admin. It acts as OwnerGroup (policy
// users.all_owner), records an audit event (door admin, action update,
// detail.object "user"; the trigger users_audit writes it for every change
// but a new password) in the same transaction, and ends the account's
// sessions when it deactivates it or sets its password
// (app.end_user_sessions): its access tokens are refused on their next
// request.
func ChangeUser(ctx context.Context, q Querier, username, change, hash string) (UserChange, error) {
	var set string
	var args []any
	switch change {
	case ChangeSetPassword:
		if hash == "" {
			return UserChange{}, errors.New("set password: no hash given")
		}
		set, args = "password_hash = $2", []any{hash}
	case ChangeDeactivate:
		set = "is_active = false"
	case ChangeActivate:
		set = "is_active = true"
	case ChangeGrantAdmin:
		set = "is_admin = true"
	case ChangeRevokeAdmin:
		set = "is_admin = false"
	default:
		return UserChange{}, fmt.Errorf("unknown change %q", change)
	}
	var out UserChange
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		var active, admin bool
		// FOR NO KEY UPDATE: the key-share locks of the account's own open
		// work (a new patient, a session) do not hold it (issue 24).
		err := tx.QueryRow(ctx, `select id, username, is_active, is_admin from app.users where lower(username) = lower($1) for no key update`, username).
			Scan(&out.ID, &out.Username, &active, &admin)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user named %q", username)
		}
		if err != nil {
			return err
		}
		switch {
		case change == ChangeDeactivate && !active, change == ChangeActivate && active,
			change == ChangeGrantAdmin && admin, change == ChangeRevokeAdmin && !admin:
			return nil
		}
		if change == ChangeDeactivate || change == ChangeSetPassword {
			if err := tx.QueryRow(ctx, `select app.end_user_sessions($1)`, out.ID).Scan(&out.SessionsEnded); err != nil {
				return fmt.Errorf("end the sessions: %w", err)
			}
		}
		// The trigger users_audit records changes of is_active and is_admin
		// (with app.sessions_ended); a new password only this event.
		if _, err := tx.Exec(ctx, `select set_config('app.sessions_ended', $1, true)`, fmt.Sprint(out.SessionsEnded)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `update app.users set `+set+` where id = $1`, append([]any{out.ID}, args...)...); err != nil {
			return err
		}
		out.Changed = true
		if change != ChangeSetPassword {
			return nil
		}
		_, err = tx.Exec(ctx, `insert into audit.events (user_id, door, action, outcome, detail)
		                       values (null, 'admin', 'update', 'ok',
		                               jsonb_build_object('object', 'user', 'user', $1::bigint, 'username', $2::text,
		                                                  'change', $3::text, 'sessions_ended', $4::integer))`,
			out.ID, out.Username, change, out.SessionsEnded)
		return err
	})
	if err != nil {
		return UserChange{}, fmt.Errorf("%s: %w", change, err)
	}
	return out, nil
}
