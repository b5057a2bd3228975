package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CheckAssets makes sure every function's code is in cfg.AssetDir
// (<fn>/bootstrap, executable) and, when it is a Go binary (ELF), built
// for the architecture the stack gives the function: an arm64 function
// with an x86_64 bootstrap deploys fine and then fails every invocation
// with Runtime.InvalidEntrypoint. A bootstrap that is not ELF (a script)
// passes. With dashboardHosting, the dashboard's build (DashboardDir) must
// hold an index.html.
func CheckAssets(cfg Config) error {
	want, wantArch := elf.EM_AARCH64, "arm64"
	if cfg.Architecture == "x86_64" {
		want, wantArch = elf.EM_X86_64, "x86_64"
	}
	var errs []error
	for _, fn := range AllFunctions {
		path := filepath.Join(cfg.AssetDir, fn, "bootstrap")
		fi, err := os.Stat(path)
		if err != nil || fi.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s is missing or not executable: run make build (ARCH=%s) first", path, wantArch))
			continue
		}
		f, err := elf.Open(path)
		if err != nil {
			continue // not ELF: a script, which Lambda runs as it is
		}
		machine := f.Machine
		f.Close()
		if machine != want {
			got := map[elf.Machine]string{elf.EM_AARCH64: "arm64", elf.EM_X86_64: "x86_64"}[machine]
			if got == "" {
				got = machine.String()
			}
			errs = append(errs, fmt.Errorf("%s is built for %s, but the stack deploys %s functions: run make build ARCH=%s, or set -c architecture=%s",
				path, got, wantArch, wantArch, got))
		}
	}
	if cfg.DashboardHosting {
		if fi, err := os.Stat(filepath.Join(cfg.DashboardDir, "index.html")); err != nil || !fi.Mode().IsRegular() {
			errs = append(errs, fmt.Errorf("%s has no index.html: the stack uploads the web dashboard's build; run make build (it builds dashboard/dist), or set -c dashboardDir=<a build>",
				cfg.DashboardDir))
		}
	}
	return errors.Join(errs...)
}
