package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"healthcare/internal/config"
)

// healthURL is the /healthz URL of a server listening on addr (HTTP_ADDR;
// config's default when empty). A wildcard or empty host is reached on
// 127.0.0.1.
func healthURL(addr string) string {
	if addr == "" {
		addr = config.Defaults().HTTPAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/healthz"
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}

func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "[--url URL]",
		"Exit 0 when URL answers 200 within --timeout. For container health checks in images without curl.\n"+
			"The default URL is /healthz on HTTP_ADDR (environment, then .env), as serve listens.", stderr)
	url := fs.String("url", "", "URL to check (default http://HTTP_ADDR/healthz, a wildcard host as 127.0.0.1)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" {
		env, err := config.Env(getenv, envFile)
		if err != nil {
			return err
		}
		*url = healthURL(env("HTTP_ADDR"))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usagef("healthcheck: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", *url, resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
