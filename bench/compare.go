package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// compare is -compare: it builds this tree's ./bench and the other ref's
// (in a temporary git worktree), starts the private cluster once, and
// runs the two binaries alternately, o.rounds rounds, with the flags
// given (args, less -compare and -rounds) and -database-url naming that
// cluster, so that both measure the same server in the same minutes.
// Each run's table is read back; the result is each metric's median for
// both and the ratio this/other.
func compare(ctx context.Context, o options, args []string) error {
	if o.rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1, not %d", o.rounds)
	}
	args = stripFlags(args, "compare", "rounds")
	sha, err := gitOut(ctx, "", "rev-parse", "--verify", "--quiet", o.compare+"^{commit}")
	if err != nil {
		return fmt.Errorf("-compare %s: not a commit in this repository (git rev-parse: %v)", o.compare, err)
	}
	here, _ := gitOut(ctx, "", "rev-parse", "--short", "HEAD")
	if dirty, _ := gitOut(ctx, "", "status", "--porcelain", "--untracked-files=no"); dirty != "" {
		here += "+changes"
	}
	tmp, err := os.MkdirTemp("", "jobweaver-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	fmt.Fprintf(os.Stderr, "compare: checking out %s (%s) in a temporary worktree…\n", o.compare, sha[:12])
	if _, err := gitOut(ctx, "", "worktree", "add", "--detach", src, sha); err != nil {
		return fmt.Errorf("git worktree add: %w", err)
	}
	defer func() { _, _ = gitOut(context.Background(), "", "worktree", "remove", "--force", src) }()

	this, other := filepath.Join(tmp, "bench-this"), filepath.Join(tmp, "bench-other")
	for _, b := range []struct{ dir, out, what string }{{"", this, "this tree (" + here + ")"}, {src, other, o.compare + " (" + sha[:12] + ")"}} {
		fmt.Fprintf(os.Stderr, "compare: building ./bench of %s…\n", b.what)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, "./bench")
		cmd.Dir, cmd.Stdout, cmd.Stderr = b.dir, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building ./bench of %s: %w", b.what, err)
		}
	}

	if !hasFlag(args, "database-url") {
		srv, err := openServer(ctx, o)
		if err != nil {
			return err
		}
		defer srv.Stop(o.keep)
		args = append(args, "-database-url", srv.url)
		for _, l := range header(srv) {
			fmt.Println(l)
		}
	}
	fmt.Printf("# compare: this = %s, other = %s (%s); %d rounds, alternating; flags: %s\n", here, o.compare, sha[:12], o.rounds, strings.Join(args, " "))

	sides := []struct {
		name, bin string
		runs      []map[string]measure
	}{{name: "this", bin: this}, {name: "other", bin: other}}
	var order []string // metric keys in first-seen order
	seen := map[string]bool{}
	var failures []string
	start := time.Now()
	for r := 1; r <= o.rounds; r++ {
		for i := range sides {
			s := &sides[i]
			fmt.Fprintf(os.Stderr, "compare: round %d of %d: %s (%s elapsed, load %s)…\n", r, o.rounds, s.name, time.Since(start).Round(time.Second), loadAvg())
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, s.bin, args...)
			cmd.Stdout = io.MultiWriter(&out, prefixWriter(os.Stderr, fmt.Sprintf("  [%s %d] ", s.name, r)))
			cmd.Stderr = prefixWriter(os.Stderr, fmt.Sprintf("  [%s %d] ", s.name, r))
			if err := cmd.Run(); err != nil {
				failures = append(failures, fmt.Sprintf("round %d, %s: %v", r, s.name, err))
				fmt.Fprintf(os.Stderr, "compare: round %d, %s failed: %v\n", r, s.name, err)
				continue
			}
			ms := parseTable(out.String())
			for _, m := range ms {
				if !seen[m.key] {
					seen[m.key] = true
					order = append(order, m.key)
				}
			}
			byKey := map[string]measure{}
			for _, m := range ms {
				byKey[m.key] = m
			}
			s.runs = append(s.runs, byKey)
		}
	}

	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tmetric\tthis (median)\tother (median)\tthis/other\tbetter\truns this | other")
	fmt.Fprintln(tw, "--------\t------\t-------------\t--------------\t----------\t------\t-----------------")
	for _, k := range order {
		var unit, scenario, metric string
		vals := make([][]float64, 2)
		for i, s := range sides {
			for _, run := range s.runs {
				if m, ok := run[k]; ok {
					vals[i] = append(vals[i], m.value)
					unit, scenario, metric = m.unit, m.scenario, m.metric
				}
			}
		}
		a, b := median(vals[0]), median(vals[1])
		ratio, better := "-", "-"
		if len(vals[0]) > 0 && len(vals[1]) > 0 && b != 0 {
			ratio = fmt.Sprintf("%.2f×", a/b)
			better = betterSide(unit, a, b)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s | %s\n", scenario, metric, num(vals[0], a, unit), num(vals[1], b, unit), ratio, better, list(vals[0]), list(vals[1]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d runs failed: %s", len(failures), 2*o.rounds, strings.Join(failures, "; "))
	}
	return nil
}

// measure is one row of a bench table, read back.
type measure struct {
	key, scenario, metric string
	value                 float64
	unit                  string // "jobs/s", "ms", …
}

var (
	cellSplit = regexp.MustCompile(`\s{2,}`)
	leadNum   = regexp.MustCompile(`^(-?[0-9][0-9,]*(?:\.[0-9]+)?)\s*([^\s(]*)`)
)

// parseTable reads the rows of a bench table (this version's or an older
// one's: scenario, metric, measured, … separated by runs of spaces) from
// its output; rows whose measured cell does not start with a number are
// left out.
func parseTable(out string) []measure {
	var ms []measure
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		if !in {
			if strings.HasPrefix(line, "--------") {
				in = true
			}
			continue
		}
		if line == "" {
			continue
		}
		cells := cellSplit.Split(line, -1)
		if len(cells) < 3 {
			continue
		}
		m := leadNum.FindStringSubmatch(cells[2])
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
		if err != nil {
			continue
		}
		ms = append(ms, measure{key: cells[0] + "\x00" + cells[1], scenario: cells[0], metric: cells[1], value: v, unit: m[2]})
	}
	return ms
}

// betterSide says which side is better for a metric of unit: rates are
// better higher, times lower; within 3 % it is a tie.
func betterSide(unit string, a, b float64) string {
	r := a / b
	if r > 0.97 && r < 1.03 {
		return "same"
	}
	higher := strings.HasSuffix(unit, "/s")
	if strings.HasSuffix(unit, "ms") || unit == "s" {
		higher = false
	} else if !higher {
		return "-"
	}
	if (r > 1) == higher {
		return "this"
	}
	return "other"
}

func num(vals []float64, med float64, unit string) string {
	if len(vals) == 0 {
		return "-"
	}
	return strings.TrimSpace(strconv.FormatFloat(med, 'f', prec(med), 64) + " " + unit)
}

func prec(v float64) int {
	if v >= 100 || v <= -100 {
		return 0
	}
	return 1
}

func list(vals []float64) string {
	if len(vals) == 0 {
		return "-"
	}
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = strconv.FormatFloat(v, 'f', prec(v), 64)
	}
	return strings.Join(s, " ")
}

// stripFlags removes -name value, -name=value (and the -- forms) of the
// given flags from args.
func stripFlags(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		n, hasValue := flagName(args[i])
		if contains(names, n) {
			if !hasValue {
				i++ // the value is the next argument
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if n, _ := flagName(a); n == name {
			return true
		}
	}
	return false
}

// flagName is the name of a -flag or --flag argument ("" for others)
// and whether it carries its value (=).
func flagName(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "-") {
		return "", false
	}
	n := strings.TrimLeft(arg, "-")
	name, _, eq := strings.Cut(n, "=")
	return name, eq
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			return "", fmt.Errorf("%v: %s", err, s)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// prefixWriter writes each line to w with prefix before it.
func prefixWriter(w io.Writer, prefix string) io.Writer {
	return &prefixed{w: w, prefix: prefix, bol: true}
}

type prefixed struct {
	w      io.Writer
	prefix string
	bol    bool
}

func (p *prefixed) Write(b []byte) (int, error) {
	var buf bytes.Buffer
	for _, c := range b {
		if p.bol {
			buf.WriteString(p.prefix)
			p.bol = false
		}
		buf.WriteByte(c)
		if c == '\n' {
			p.bol = true
		}
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}
