package worker

import (
	"slices"
	"testing"

	"github.com/jobweaver/jobweaver/shared/step"
)

func TestSlotsTake(t *testing.T) {
	const C, I = step.CPU, step.IO
	for _, tc := range []struct {
		name            string
		cpu, io         int
		classes         []step.Class
		picked, rest    []int
		cpuUsed, ioUsed int
	}{
		{"all fit", 2, 2, []step.Class{C, I, C, I}, []int{0, 1, 2, 3}, nil, 2, 2},
		{"a full class does not hold back the other", 1, 3, []step.Class{C, C, C, I, I}, []int{0, 3, 4}, []int{1, 2}, 1, 2},
		{"order kept within a class", 3, 1, []step.Class{I, I, C, I, C}, []int{0, 2, 4}, []int{1, 3}, 2, 1},
		{"nothing fits", 0, 0, []step.Class{C, I}, nil, []int{0, 1}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newSlots(tc.cpu, tc.io)
			pending := make([]int, len(tc.classes))
			for i := range pending {
				pending[i] = i
			}
			picked, rest := p.take(tc.classes, pending)
			if !slices.Equal(picked, tc.picked) || !slices.Equal(rest, tc.rest) {
				t.Fatalf("take = %v, %v; want %v, %v", picked, rest, tc.picked, tc.rest)
			}
			if p.inUse(C) != tc.cpuUsed || p.inUse(I) != tc.ioUsed {
				t.Fatalf("in use cpu %d io %d; want %d, %d", p.inUse(C), p.inUse(I), tc.cpuUsed, tc.ioUsed)
			}
		})
	}
}

func TestSlotsReleaseWakes(t *testing.T) {
	p := newSlots(1, 1)
	if !p.tryAcquire(step.IO) || p.tryAcquire(step.IO) {
		t.Fatal("the one I/O slot was not taken exactly once")
	}
	freed := p.freed()
	select {
	case <-freed:
		t.Fatal("freed before a release")
	default:
	}
	p.release(step.IO)
	select {
	case <-freed:
	default:
		t.Fatal("a release did not close freed")
	}
	if !p.tryAcquire(step.IO) || p.maxInUse(step.IO) != 1 {
		t.Fatalf("after a release: acquire failed or peak %d", p.maxInUse(step.IO))
	}
}
