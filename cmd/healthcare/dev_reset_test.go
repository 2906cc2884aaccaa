package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDevData makes a folder that looks like dev's private cluster.
func fakeDevData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "postgres")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"PG_VERSION", devStateFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("15\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDevResetAsksAndDeletesOnlyADevCluster(t *testing.T) {
	exists := func(dir string) bool { _, err := os.Stat(dir); return err == nil }

	t.Run("no answer keeps the folder", func(t *testing.T) {
		dir := fakeDevData(t)
		var stderr bytes.Buffer
		err := devReset(dir, false, strings.NewReader("n\n"), &stderr)
		if err == nil || !strings.Contains(err.Error(), "not confirmed") {
			t.Fatalf("err = %v, want not confirmed", err)
		}
		if !strings.Contains(stderr.String(), "Stop and delete "+dir) {
			t.Errorf("no question asked: %q", stderr.String())
		}
		if !exists(dir) {
			t.Fatal("folder deleted without a yes")
		}
	})
	t.Run("yes deletes it", func(t *testing.T) {
		dir := fakeDevData(t)
		if err := devReset(dir, false, strings.NewReader("y\n"), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if exists(dir) {
			t.Fatal("folder still there")
		}
	})
	t.Run("--yes does not ask", func(t *testing.T) {
		dir := fakeDevData(t)
		var stderr bytes.Buffer
		if err := devReset(dir, true, strings.NewReader(""), &stderr); err != nil {
			t.Fatal(err)
		}
		if exists(dir) || strings.Contains(stderr.String(), "[y/N]") {
			t.Fatalf("exists=%v, stderr %q", exists(dir), stderr.String())
		}
	})
	t.Run("a folder dev did not make is never deleted", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := devReset(dir, true, strings.NewReader(""), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "not a dev cluster") {
			t.Fatalf("err = %v, want a refusal", err)
		}
		if !exists(filepath.Join(dir, "thesis.tex")) {
			t.Fatal("deleted a folder that was not a dev cluster")
		}
	})
	t.Run("a missing folder is fine", func(t *testing.T) {
		if err := devReset(filepath.Join(t.TempDir(), "none"), true, strings.NewReader(""), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})
}
