package database

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBusy means the caller already had as many calls in flight as
// Options.PerCaller allows, and none of them finished within callerWait.
// Nothing was sent; the request may be retried (HTTP 429 with Retry-After).
var ErrBusy = errors.New("too many database calls in flight for this caller")

// callerWait is how long a call over its caller's limit waits for one of
// the caller's own calls to finish before ErrBusy. A waiting call holds no
// connection, so the wait costs nobody else anything; it lets a client's
// short burst (a page that loads three things at once) through, while a
// caller whose calls are stuck (on a lock its own psql session holds, say)
// is refused within this time.
const callerWait = 100 * time.Millisecond

// callerKey is whom a call counts against: the user, or for an anonymous
// call the client address (all anonymous calls without one share a key).
type callerKey struct {
	user int64
	addr string
}

func keyOf(id Identity) callerKey {
	if id.UserID > 0 {
		return callerKey{user: id.UserID}
	}
	return callerKey{addr: id.ClientAddr}
}

// callerLimit counts each caller's calls in flight: a semaphore (a
// buffered channel) per caller, kept only while someone holds or waits
// for it, so the map holds at most the callers active right now.
type callerLimit struct {
	max int
	mu  sync.Mutex
	m   map[callerKey]*callerSlots
}

type callerSlots struct {
	held chan struct{}
	refs int // holders and waiters; guarded by callerLimit.mu
}

func newCallerLimit(n int) *callerLimit {
	return &callerLimit{max: n, m: make(map[callerKey]*callerSlots)}
}

// acquire takes one of key's slots, waiting at most callerWait, and
// returns the function that gives it back.
func (l *callerLimit) acquire(ctx context.Context, key callerKey) (func(), error) {
	l.mu.Lock()
	s := l.m[key]
	if s == nil {
		s = &callerSlots{held: make(chan struct{}, l.max)}
		l.m[key] = s
	}
	s.refs++
	l.mu.Unlock()
	release := func() {
		<-s.held
		l.leave(key, s)
	}
	select {
	case s.held <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(callerWait)
	defer t.Stop()
	select {
	case s.held <- struct{}{}:
		return release, nil
	case <-t.C:
		l.leave(key, s)
		return nil, ErrBusy
	case <-ctx.Done():
		l.leave(key, s)
		return nil, ctx.Err()
	}
}

func (l *callerLimit) leave(key callerKey, s *callerSlots) {
	l.mu.Lock()
	s.refs--
	if s.refs == 0 {
		delete(l.m, key)
	}
	l.mu.Unlock()
}

// inFlight is the number of callers with a call in flight or waiting (tests).
func (l *callerLimit) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
