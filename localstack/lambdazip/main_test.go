package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The zip holds the binary as "bootstrap" at its root, mode 0755, and is
// the same bytes every time.
func TestPack(t *testing.T) {
	self, err := os.Executable() // a Linux ELF binary of the host
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "worker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := pack(dir); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(dir + ".zip")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 || !zr.File[0].Modified.Equal(modTime) {
		t.Fatalf("entries: %+v", zr.File[0].FileHeader)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, bin) {
		t.Fatal("the zipped bootstrap differs from the binary")
	}
	if fi, _ := os.Stat(dir + ".zip"); fi.Mode().Perm() != 0o644 {
		t.Errorf("zip mode %v", fi.Mode())
	}
	if err := pack(dir); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(dir + ".zip"); !bytes.Equal(again, first) {
		t.Error("zipping the same binary twice gave different archives")
	}
}

func TestPackRefusesWhatLambdaCannotRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "api")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pack(dir); err == nil {
		t.Fatal("a script was packed as a Lambda bootstrap")
	}
	if err := pack(t.TempDir()); err == nil {
		t.Fatal("a folder without bootstrap was packed")
	}
}
