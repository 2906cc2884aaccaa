package database

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A caller at its limit waits briefly and is refused with ErrBusy, while
// another caller, and an anonymous caller from another address, get a
// slot; a slot given back lets the caller in again, and idle callers leave
// nothing behind.
func TestCallerLimitRefusesOnlyTheCallerOverIt(t *testing.T) {
	l := newCallerLimit(2)
	ctx := context.Background()
	alice := keyOf(Identity{UserID: 7, ClientAddr: "10.0.0.1"})
	var held []func()
	for range 2 {
		release, err := l.acquire(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	start := time.Now()
	if _, err := l.acquire(ctx, alice); !errors.Is(err, ErrBusy) {
		t.Fatalf("third call of one user: %v, want ErrBusy", err)
	}
	t.Logf("refused after %v", time.Since(start).Round(time.Millisecond))
	for _, other := range []Identity{{UserID: 8}, {ClientAddr: "10.0.0.1"}, {ClientAddr: "10.0.0.2"}} {
		release, err := l.acquire(ctx, keyOf(other))
		if err != nil {
			t.Fatalf("%+v while user 7 is at its limit: %v", other, err)
		}
		release()
	}
	// Anonymous callers of one address share a limit.
	anon := keyOf(Identity{ClientAddr: "10.0.0.3"})
	a1, _ := l.acquire(ctx, anon)
	a2, _ := l.acquire(ctx, anon)
	if _, err := l.acquire(ctx, anon); !errors.Is(err, ErrBusy) {
		t.Fatalf("third anonymous call of one address: %v, want ErrBusy", err)
	}
	a1()
	a2()
	// A waiting call gets the slot a finishing one gives back.
	finished := make(chan struct{})
	go func() {
		held[0]()
		close(finished)
	}()
	release, err := l.acquire(ctx, alice)
	if err != nil {
		t.Fatalf("a call after one finished: %v", err)
	}
	release()
	held[1]()
	<-finished // its release has given the slot back and left
	if n := l.inFlight(); n != 0 {
		t.Fatalf("%d callers left in the map with nothing in flight", n)
	}
}
