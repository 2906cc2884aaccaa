// Package drain stops an http.Server without dropping a connection it
// accepted, so that a rolling restart loses no request.
//
// http.Server.Shutdown alone drops some. It marks the server as shutting
// down before it closes the listener, and a connection accepted just
// before whose first request is read just after is closed with no answer
// at all (net/http's conn.serve returns when shuttingDown() is true right
// after readRequest). With clients that open a connection per request,
// that was one lost request in about three restarts. Shutdown also closes
// the listener at once, while load balancers are still sending.
//
// Server.Serve therefore stops in this order when its context ends:
//
//  1. Drain: Draining reports true (so /readyz answers 503 and load
//     balancers take the server out of rotation) and every response carries
//     Connection: close (so keep-alive clients reconnect elsewhere), while
//     the listener stays open and everything is served as usual for the
//     drain period.
//  2. Close the listener here, not in Shutdown, and wait for
//     http.Server.Serve to return: from then on nothing is accepted, and
//     every connection that was has passed through its StateNew hook.
//     Connections still in the kernel's accept queue are reset, which their
//     clients see as a reset and may retry elsewhere.
//  3. Wait until every accepted connection has answered its first request.
//     The ConnState hook counts a connection from StateNew until it first
//     reaches StateIdle (answered and kept alive) or StateClosed (answered
//     with Connection: close, or given up by the client or a read timeout).
//  4. Only then call Shutdown, which closes idle connections and waits for
//     the requests in flight. Steps 3 and 4 share the shutdown timeout.
//
// The request path pays one atomic load per request (the Connection:
// close check) and, in the ConnState hook net/http calls anyway, a type
// assertion and a field read; the counting is per connection.
package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Server stops one http.Server gracefully; see the package comment.
type Server struct {
	drain, timeout time.Duration
	log            zerolog.Logger

	draining   atomic.Bool
	accepted   atomic.Int64 // connections accepted so far
	unanswered atomic.Int64 // accepted connections that have not yet answered their first request
}

// New returns a Server that, once Serve's context ends, keeps serving for
// drain and then gives the remaining connections up to timeout. It logs
// each step to log.
func New(drain, timeout time.Duration, log zerolog.Logger) *Server {
	return &Server{drain: drain, timeout: timeout, log: log}
}

// Draining reports whether the server is stopping; /readyz answers 503
// from then on.
func (s *Server) Draining() bool { return s.draining.Load() }

// Serve serves srv on the TCP listener ln until ctx ends, then drains and
// shuts srv down (package comment). It returns nil once every accepted
// connection was answered and every request finished, or an error if
// srv.Serve failed or the shutdown timeout ran out (srv is then closed).
//
// Serve wraps srv.Handler and ln and chains its own srv.ConnState hook
// before any already set; call it once per srv.
func (s *Server) Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	next := srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.Handler = s.closeWhenDraining(next)
	hook := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		s.track(c, state)
		if hook != nil {
			hook(c, state)
		}
	}
	ln = &listener{Listener: ln}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// 1. Drain.
	s.draining.Store(true)
	s.log.Info().Str("drain", s.drain.String()).Msg("draining")
	if s.drain > 0 {
		t := time.NewTimer(s.drain)
		select {
		case err := <-served:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		case <-t.C:
		}
	}

	// 2. Stop accepting. Serve returns after its last Accept, so every
	// connection it took has been counted.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	_ = ln.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		_ = srv.Close()
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info().Int64("connections_accepted", s.accepted.Load()).
		Int64("awaiting_first_answer", s.unanswered.Load()).Msg("stopped accepting")

	// 3. Let every accepted connection answer its first request.
	if err := s.awaitFirstAnswers(ctx); err != nil {
		n := s.unanswered.Load()
		_ = srv.Close()
		return fmt.Errorf("shutdown: %d accepted connections had not answered their first request after %v", n, s.timeout)
	}

	// 4. Now Shutdown cannot meet a connection whose first request it
	// would read and drop.
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// awaitFirstAnswers polls until no accepted connection is waiting for its
// first answer, or ctx ends.
func (s *Server) awaitFirstAnswers(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.unanswered.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// closeWhenDraining asks keep-alive clients to close the connection after
// the response, once the drain has begun.
func (s *Server) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// track is the ConnState hook. net/http calls it for a connection first
// with StateNew from the accepting goroutine, before the connection's own
// goroutine starts, and then only from that goroutine, so conn.answered
// needs no lock.
func (s *Server) track(nc net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		if _, ok := nc.(*conn); ok {
			s.accepted.Add(1)
			s.unanswered.Add(1)
		}
	case http.StateIdle, http.StateClosed, http.StateHijacked:
		if c, ok := nc.(*conn); ok && !c.answered {
			c.answered = true
			s.unanswered.Add(-1)
		}
	}
}

// listener gives every accepted connection a place for its answered flag.
type listener struct{ net.Listener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// conn is an accepted connection. It forwards the two optional methods
// net/http looks for on a *net.TCPConn, so the server behaves as it does
// on the bare connection.
type conn struct {
	net.Conn
	answered bool // its first request has been answered (or it closed)
}

// CloseWrite half-closes the connection (net/http does before closing
// one whose request body it did not read).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom keeps the TCP connection's sendfile/splice path for
// io.Copy into a response.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}
