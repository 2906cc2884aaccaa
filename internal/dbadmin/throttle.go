package dbadmin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ClearThrottle clears the login throttle of an account (username,
// case-insensitive), of a client address, or of both, so the right
// password logs in at once. It acts as OwnerGroup and calls
// app.clear_login_throttle, which records an audit event (door admin,
// action delete, detail.object "login_throttle") in the same transaction.
// It returns how many counters were cleared (0 when nothing was
// throttled; the event is written all the same).
func ClearThrottle(ctx context.Context, q Querier, username, address string) (int, error) {
	username = strings.TrimSpace(username)
	address = strings.TrimSpace(address)
	if username == "" && address == "" {
		return 0, errors.New("clear the throttle: name an account, an address or both")
	}
	if address != "" {
		// The throttle counts addresses as the server writes them
		// (netip's form: IPv4 dotted, IPv6 compressed, no zone).
		a, err := netip.ParseAddr(address)
		if err != nil {
			return 0, fmt.Errorf("clear the throttle: %q is not an IP address", address)
		}
		address = a.Unmap().WithZone("").String()
	}
	var cleared int
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `select app.clear_login_throttle($1, $2)`, username, address).Scan(&cleared)
	})
	if err != nil {
		return 0, fmt.Errorf("clear the throttle: %w", err)
	}
	return cleared, nil
}
