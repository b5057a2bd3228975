// Command lambdazip packages Lambda bootstrap binaries for `make build`:
// for each folder given, it writes <folder>.zip holding <folder>/bootstrap
// at the root of the archive with mode 0755 (what the provided.al2023
// runtime executes), and prints the binary's architecture and the sizes.
//
//	go run ./localstack/lambdazip build/api build/scheduler build/worker build/dlq
//
// The archives are reproducible: a fixed timestamp, so that an unchanged
// binary gives an identical zip (and an unchanged asset hash in the CDK).
package main

import (
	"archive/zip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// modTime is the timestamp of every entry: the earliest a zip can hold.
var modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lambdazip <folder with a bootstrap>...")
		os.Exit(2)
	}
	for _, dir := range os.Args[1:] {
		if err := pack(dir); err != nil {
			fmt.Fprintf(os.Stderr, "lambdazip: %v\n", err)
			os.Exit(1)
		}
	}
}

func pack(dir string) error {
	dir = filepath.Clean(dir)
	bin := filepath.Join(dir, "bootstrap")
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	arch, err := machine(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	out := dir + ".zip"
	if err := write(out, bin, fi.Size()); err != nil {
		return err
	}
	zi, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("%-26s %-7s %5.1f MB    %-20s %5.1f MB\n", bin, arch, mb(fi.Size()), out, mb(zi.Size()))
	return nil
}

// write zips bin as "bootstrap" (mode 0755) into out, through a temporary
// file renamed into place.
func write(out, bin string, size int64) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".lambdazip-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: modTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := io.Copy(w, f); err != nil || n != size {
		return fmt.Errorf("%s: copied %d of %d bytes: %v", bin, n, size, err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// machine names a Linux ELF binary's architecture as Lambda does.
func machine(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("not a Linux executable: %w", err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_AARCH64:
		return "arm64", nil
	case elf.EM_X86_64:
		return "x86_64", nil
	}
	return "", fmt.Errorf("architecture %v is neither arm64 nor x86_64", f.Machine)
}

func mb(n int64) float64 { return float64(n) / 1e6 }
