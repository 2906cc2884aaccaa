package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"healthcare/internal/audit"
	"healthcare/internal/auth"
	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/drain"
	"healthcare/internal/httpapi"
	"healthcare/internal/metrics"
	"healthcare/internal/reporting"
)

const serveAbout = `
Run the REST API. Settings come from the environment and .env (see
docs/configuration.md); --addr and --database-url override HTTP_ADDR and
DATABASE_URL. --check-config checks them and exits, connecting to nothing.

The server connects as its runtime login (a plain member of
healthcare_api). It refuses to start when that role could bypass row-level
security (superuser, BYPASSRLS, table owner) or when the database is not
migrated to the version this binary embeds (run "healthcare migrate up").
SIGINT or SIGTERM stop it gracefully: /readyz answers 503 and the server
keeps serving for SHUTDOWN_DRAIN, then stops accepting, answers every
connection it accepted and finishes the requests in flight within
SHUTDOWN_TIMEOUT.

Prometheus metrics are served at /metrics on a listener of their own,
METRICS_ADDR (127.0.0.1:9464 by default; off disables it), never on the
API's port.`

func runServe(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[--addr host:port] [--database-url URL]", serveAbout, stderr)
	addr := fs.String("addr", "", "listen address host:port (default HTTP_ADDR, 127.0.0.1:8000; port 0 picks a free port)")
	dbURL := fs.String("database-url", "", "runtime database connection (default DATABASE_URL or DB_*)")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this loopback host:port (off by default)")
	checkOnly := fs.Bool("check-config", false, "check the settings (placeholders, weak SECRET_KEY, bad values) and exit, connecting to nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q", fs.Arg(0))
	}
	if *pprofAddr != "" {
		if err := startPprof(ctx, *pprofAddr, stderr); err != nil {
			return err
		}
	}
	cfg, err := config.Load(overlay(getenv, map[string]string{"HTTP_ADDR": *addr, "DATABASE_URL": *dbURL}), envFile)
	if err != nil {
		return err
	}
	if *checkOnly {
		fmt.Fprintln(stdout, "serve: the settings are good")
		return nil
	}
	return serve(ctx, cfg, stderr, nil)
}

// newLogger builds the process's one logger: JSON lines on w.
func newLogger(level string, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// applyRuntimeLimits, when set, adjusts the Go runtime to the loaded
// configuration before serve starts (main sets it to setMemoryLimit).
var applyRuntimeLimits func(config.Config)

// serve opens the pool, runs the start-up checks, and serves until ctx
// ends. onListen, when set, is called with the bound address once the
// listener is open (dev prints its banner then).
func serve(ctx context.Context, cfg config.Config, logw io.Writer, onListen func(addr string)) error {
	if applyRuntimeLimits != nil {
		applyRuntimeLimits(cfg)
	}
	lb := newLogBuffer(logw, 32<<10, 100*time.Millisecond)
	defer lb.Close()
	log := newLogger(cfg.LogLevel, lb)
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	if cfg.SecretKeyGenerated {
		log.Warn().Msg("SECRET_KEY is not set: using a random key for this process; tokens will not survive a restart")
	}

	db, err := database.Open(ctx, cfg.DatabaseURL, database.Options{
		MaxConns:         cfg.DBPoolMaxConns,
		AcquireTimeout:   cfg.DBAcquireTimeout,
		StatementTimeout: cfg.DBStatementTimeout,
		LockTimeout:      cfg.DBLockTimeout,
		PerCaller:        cfg.DBPerUserConnections,
	})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	// Fail closed: a role that can skip the policies must never serve.
	if err := dbadmin.CheckRuntimeLogin(ctx, db.Pool()); err != nil {
		return err
	}
	if err := checkMigrated(ctx, db); err != nil {
		return err
	}
	if open, err := dbadmin.StatisticsOpen(ctx, db.Pool()); err != nil {
		return err
	} else if open {
		log.Warn().Msg("the statistics views are open to every login: reporting and psql logins can read exact row counts; " +
			"run `healthcare migrate` as a superuser once, or the statements in docs/operations.md (\"Closing the statistics views\")")
	}

	hasher, err := auth.NewHasher(auth.Params{
		Memory: cfg.Argon2MemoryKiB, Iterations: cfg.Argon2Iterations, Parallelism: cfg.Argon2Parallelism,
		SaltLen: auth.DefaultParams.SaltLen, KeyLen: auth.DefaultParams.KeyLen,
	}, cfg.LoginConcurrency)
	if err != nil {
		return fmt.Errorf("password hasher: %w", err)
	}
	tokens, err := auth.NewTokens(auth.TokenOptions{
		Key: []byte(cfg.SecretKey), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL,
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	stopper := drain.New(cfg.ShutdownDrain, cfg.ShutdownTimeout, log)
	// Metrics are counted only when something can read them, on their
	// own listener: the API's port has no /metrics.
	var observe func(httpapi.RequestInfo)
	var metricsSrv *metricsServer
	if cfg.MetricsAddr != "" {
		m := metrics.New(db.Pool().Stat)
		observe = func(ri httpapi.RequestInfo) { m.ObserveRequest(ri.Method, ri.Route, ri.Status, ri.Duration) }
		if metricsSrv, err = startMetrics(cfg, m.Handler(), log); err != nil {
			return err
		}
		defer metricsSrv.stop()
	}
	handler := httpapi.NewServer(httpapi.Options{
		MaxBodyBytes: cfg.MaxBodyBytes,
		Ready:        func(ctx context.Context) error { return checkMigrated(ctx, db) },
		Draining:     stopper.Draining,
		Observe:      observe,
		LoginThrottle: httpapi.LoginThrottle{
			MaxPerAccount: cfg.LoginMaxFailuresPerAccount,
			MaxPerAddress: cfg.LoginMaxFailuresPerAddress,
			AccountFlood:  cfg.LoginAccountFlood,
			Window:        cfg.LoginFailureWindow,
		},
		TrustedProxies:     cfg.TrustedProxies,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		RequireIfMatch:     cfg.RequireIfMatch,
		FHIRBaseURL:        cfg.FHIRBaseURL,
	}, db, tokens, hasher, log)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    cfg.HTTPMaxHeaderBytes,
	}
	addr := ln.Addr().String()
	log.Info().Str("addr", "http://"+addr).Msg("listening")
	if onListen != nil {
		onListen(addr)
	}

	// Seal the audit trail while serving; stopped before the pool closes.
	sealCtx, stopSealer := context.WithCancel(ctx)
	sealerDone := make(chan struct{})
	go func() {
		defer close(sealerDone)
		audit.RunSealer(sealCtx, db.Pool(), cfg.AuditSealInterval, log)
	}()
	defer func() { stopSealer(); <-sealerDone }()
	releaseCtx, stopReleaser := context.WithCancel(ctx)
	releaserDone := make(chan struct{})
	go func() {
		defer close(releaserDone)
		reporting.RunReleaser(releaseCtx, db.Pool(), reporting.CheckInterval, log)
	}()
	defer func() { stopReleaser(); <-releaserDone }()

	// Until ctx ends (SIGTERM, SIGINT); then drain for SHUTDOWN_DRAIN and
	// answer every accepted connection within SHUTDOWN_TIMEOUT.
	if err := stopper.Serve(ctx, srv, ln); err != nil {
		return err
	}
	// Metrics stay readable through the drain; they stop with the API.
	if metricsSrv != nil {
		metricsSrv.stop()
	}
	log.Info().Msg("stopped")
	return nil
}

// metricsServer serves Prometheus metrics on METRICS_ADDR, a listener of
// its own: /metrics lists per-route traffic, which is not for the public
// port.
type metricsServer struct {
	srv  *http.Server
	done chan struct{}
	once sync.Once
}

// metricsStopTimeout bounds the wait for a scrape in flight at shutdown.
const metricsStopTimeout = time.Second

// startMetrics listens on cfg.MetricsAddr and serves h at GET /metrics
// (404 for anything else), logging "metrics listening" with the bound
// address as metrics_addr.
func startMetrics(cfg config.Config, h http.Handler, log zerolog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	ms := &metricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
			ReadTimeout:       cfg.HTTPReadTimeout,
			WriteTimeout:      cfg.HTTPWriteTimeout,
			IdleTimeout:       cfg.HTTPIdleTimeout,
			MaxHeaderBytes:    cfg.HTTPMaxHeaderBytes,
		},
		done: make(chan struct{}),
	}
	log.Info().Str("metrics_addr", "http://"+ln.Addr().String()+"/metrics").Msg("metrics listening")
	go func() {
		defer close(ms.done)
		if err := ms.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics listener failed")
		}
	}()
	return ms, nil
}

// stop closes the listener, lets a scrape in flight finish within
// metricsStopTimeout and waits for the server to end. It may be called
// more than once.
func (ms *metricsServer) stop() {
	ms.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), metricsStopTimeout)
		defer cancel()
		if err := ms.srv.Shutdown(ctx); err != nil {
			_ = ms.srv.Close()
		}
		<-ms.done
	})
}

// readyTimeout bounds the migration check of start-up and /readyz.
const readyTimeout = 5 * time.Second

// checkMigrated is dbadmin.CheckMigrated within readyTimeout: /readyz
// calls it per probe, and a saturated pool must answer "not ready" in
// bounded time, not hold the probe until it gives up.
func checkMigrated(ctx context.Context, db *database.DB) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return dbadmin.CheckMigrated(ctx, db.Pool())
}
