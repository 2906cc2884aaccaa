package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/julienschmidt/httprouter"

	"healthcare/internal/database"
)

// The floor is the least a server built on this stack can do per request:
// net/http and httprouter in front, database.Call (the pool, pgx and the
// same identity batch) behind, and nothing else. It trusts a table of the
// bench's tokens instead of verifying them, and it has no access log, no
// metrics, no request id, no security headers, no body limit, no error
// mapping and no whole-request read or write deadline. Measured beside the server (--floor), it splits the server's
// CPU per request into what the stack costs anyway and what the server's
// own work adds, and its ratio to pgbench bounds what any server on this
// stack could reach on this machine.
//
// The floor runs in its own process (the bench binary started again with
// floorAddrEnv set), so its CPU and memory are measured like the server's.
const (
	floorAddrEnv   = "BENCH_FLOOR_ADDR"
	floorTokensEnv = "BENCH_FLOOR_TOKENS"
)

// floorRoutes are the routes the floor serves: the two read routes whose
// ratio to pgbench the server is held to.
var floorRoutes = map[string]bool{"list_patients": true, "get_patient": true}

// startFloor runs the floor against ds. Token i of tokens is user i+1's,
// as mintTokens made them.
func (e *env) startFloor(ds *dataset, tokens []string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sp, err := e.newScratchProcess("floor")
	if err != nil {
		return nil, err
	}
	tokensPath := filepath.Join(sp.dir, "tokens")
	if err := os.WriteFile(tokensPath, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		floorAddrEnv + "=" + sp.addr,
		floorTokensEnv + "=" + tokensPath,
		"DATABASE_URL=" + ds.appURL,
	}, passThroughEnv()...)
	return sp.launch(cmd, "")
}

// floorMain is the floor process: it serves until SIGTERM.
func floorMain() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	users, err := readFloorTokens(os.Getenv(floorTokensEnv))
	if err != nil {
		return err
	}
	// The server's pool size: its default unless DB_POOL_MAX_CONNS is set
	// for the bench (passThroughEnv forwards it to both).
	var opts database.Options
	if v := os.Getenv("DB_POOL_MAX_CONNS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("DB_POOL_MAX_CONNS: want a positive integer, got %q", v)
		}
		opts.MaxConns = int32(n)
	}
	db, err := database.Open(ctx, os.Getenv("DATABASE_URL"), opts)
	if err != nil {
		return err
	}
	defer db.Close()

	identity := func(r *http.Request) (database.Identity, bool) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		uid, known := users[tok]
		return database.Identity{UserID: uid, RequestID: requestIDVal, Session: benchSession(uid)}, ok && known
	}
	answer := func(w http.ResponseWriter, r *http.Request, fn database.Func, args ...any) {
		id, ok := identity(r)
		if !ok {
			http.Error(w, "unknown token", http.StatusUnauthorized)
			return
		}
		out, err := db.Call(r.Context(), id, fn, args...)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case out == nil:
			http.NotFound(w, r)
		default:
			w.Header()["Content-Type"] = []string{"application/json"}
			_, _ = w.Write(out)
		}
	}
	router := httprouter.New()
	router.GET("/healthz", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {})
	router.GET("/api/patients/", func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		answer(w, r, database.FnListPatients, int32(50), int32(0)) // pgbench's lim and off
	})
	router.GET("/api/patients/:id/", func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		answer(w, r, database.FnGetPatient, id)
	})

	srv := &http.Server{Addr: os.Getenv(floorAddrEnv), Handler: router, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// readFloorTokens maps each token in path (one per line) to its user id.
func readFloorTokens(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("floor tokens: %w", err)
	}
	defer f.Close()
	users := make(map[string]int64)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for uid := int64(1); sc.Scan(); uid++ {
		users[sc.Text()] = uid
	}
	return users, sc.Err()
}
