package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// bundle is a function's deployment package: build/<fn>.zip with the
// bootstrap executable at its root (runtime provided.al2023, handler
// bootstrap).
type bundle struct {
	Path  string
	Zip   []byte
	Arch  lambdatypes.Architecture
	Found bool // false: not built yet (dry run only)
}

// ELF machine numbers.
const (
	elfMachineX86_64  = 0x3e
	elfMachineAArch64 = 0xb7
)

// readBundle reads and checks path. A missing file is an error unless
// missingOK, which returns a bundle with Found false and x86_64.
func readBundle(path string, missingOK bool) (bundle, error) {
	b := bundle{Path: path, Arch: lambdatypes.ArchitectureX8664}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if missingOK {
			return b, nil
		}
		return b, fmt.Errorf("%s not found: run `make build` first (it writes build/<function>.zip)", path)
	}
	if err != nil {
		return b, err
	}
	arch, err := bootstrapArch(data)
	if err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	b.Zip, b.Arch, b.Found = data, arch, true
	return b, nil
}

// bootstrapArch finds the bootstrap file at the zip's root, checks that it
// is an executable Linux ELF for x86-64 or arm64, and returns Lambda's
// name for that architecture.
func bootstrapArch(data []byte) (lambdatypes.Architecture, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("not a zip file: %w", err)
	}
	var boot *zip.File
	for _, f := range zr.File {
		if f.Name == "bootstrap" {
			boot = f
			break
		}
	}
	if boot == nil {
		return "", errors.New("no bootstrap file at the root of the zip (runtime provided.al2023 runs ./bootstrap)")
	}
	if boot.Mode()&0o111 == 0 {
		return "", fmt.Errorf("bootstrap is not executable (mode %v in the zip)", boot.Mode())
	}
	rc, err := boot.Open()
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	defer rc.Close()
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(rc, hdr); err != nil || !bytes.Equal(hdr[:4], []byte("\x7fELF")) {
		return "", errors.New("bootstrap is not an ELF executable (build it with GOOS=linux)")
	}
	if hdr[4] != 2 || hdr[5] != 1 {
		return "", errors.New("bootstrap is not a 64-bit little-endian ELF executable")
	}
	switch m := binary.LittleEndian.Uint16(hdr[18:20]); m {
	case elfMachineX86_64:
		return lambdatypes.ArchitectureX8664, nil
	case elfMachineAArch64:
		return lambdatypes.ArchitectureArm64, nil
	default:
		return "", fmt.Errorf("bootstrap is built for ELF machine %#x; Lambda runs x86-64 and arm64", m)
	}
}
