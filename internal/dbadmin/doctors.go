package dbadmin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
)

// DoctorLink is a doctor record and the account it is linked to.
type DoctorLink struct {
	Doctor int64
	Name   string // the doctor's name in the directory
	UserID int64  // 0 when unlinked
	User   string // the account's username; "" when unlinked
}

// LinkDoctor links doctor record doctorID to the account named username
// (case-insensitive), as PUT /api/doctors/<id>/account/ does for admins:
// the account then reads the patients mapped to that record (the care
// view). One record per account: an account linked to another record is
// refused. It acts as OwnerGroup (policies doctors.select_owner and
// update_owner).
func LinkDoctor(ctx context.Context, q Querier, doctorID int64, username string) (DoctorLink, error) {
	var out DoctorLink
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `select id, username from app.users where lower(username) = lower($1)`, username).Scan(&out.UserID, &out.User)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user named %q", username)
		}
		if err != nil {
			return err
		}
		var other int64
		err = tx.QueryRow(ctx, `select id from app.doctors where account_id = $1 and id <> $2`, out.UserID, doctorID).Scan(&other)
		if err == nil {
			return fmt.Errorf("user %q is linked to doctor %d already; unlink that one first (healthcare doctor unlink --doctor %d)", out.User, other, other)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `select app.lock_for_admin('app.doctors', $1, 'no key update', $2)`, doctorID, fmt.Sprintf("doctor %d", doctorID)); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `update app.doctors set account_id = $2 where id = $1 returning id, name`, doctorID, out.UserID).Scan(&out.Doctor, &out.Name)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no doctor with id %d", doctorID)
		}
		if e, ok := database.AsError(err); ok && e.Kind == database.KindConflict {
			return fmt.Errorf("user %q was linked to another doctor meanwhile", out.User)
		}
		return err
	})
	if err != nil {
		return DoctorLink{}, fmt.Errorf("link doctor: %w", err)
	}
	return out, nil
}

// UnlinkDoctor unlinks doctor record doctorID from its account, as DELETE
// /api/doctors/<id>/account/ does for admins, and returns the link it
// removed (UserID 0 when there was none).
func UnlinkDoctor(ctx context.Context, q Querier, doctorID int64) (DoctorLink, error) {
	var out DoctorLink
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		// A short wait, then an error naming the session that holds the
		// row (a key-share lock of a new mapping no longer blocks: migration
		// 021).
		if _, err := tx.Exec(ctx, `select app.lock_for_admin('app.doctors', $1, 'no key update', $2)`, doctorID, fmt.Sprintf("doctor %d", doctorID)); err != nil {
			return err
		}
		var user *int64
		err := tx.QueryRow(ctx, `select id, name, account_id from app.doctors where id = $1`, doctorID).Scan(&out.Doctor, &out.Name, &user)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no doctor with id %d", doctorID)
		}
		if err != nil {
			return err
		}
		if user == nil {
			return nil
		}
		out.UserID = *user
		if err := tx.QueryRow(ctx, `select username from app.users where id = $1`, out.UserID).Scan(&out.User); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `update app.doctors set account_id = null where id = $1`, doctorID)
		return err
	})
	if err != nil {
		return DoctorLink{}, fmt.Errorf("unlink doctor: %w", err)
	}
	return out, nil
}
