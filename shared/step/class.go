package step

// Class says what a step spends its time on, so that the worker can
// bound each kind of work by what it uses: CPU-bound steps by the cores,
// I/O-bound ones (waiting on a timer or the network) in the hundreds to
// thousands.
type Class int

// Step classes.
const (
	// CPU is a step that computes for most of its time (SCRIPT, COMPUTE),
	// and any step whose kind is not in the I/O table.
	CPU Class = iota
	// IO is a step that mostly waits (SLEEP, HTTP_CALL, WEBHOOK) or does
	// next to nothing (LOG, FAIL).
	IO
)

func (c Class) String() string {
	if c == IO {
		return "io"
	}
	return "cpu"
}

// ioActions are the step kinds that wait rather than compute. A kind not
// listed is CPU-bound: a new kind costs a CPU slot until it is listed
// here.
var ioActions = map[string]bool{
	"SLEEP":     true,
	"HTTP_CALL": true,
	"WEBHOOK":   true,
	"LOG":       true,
	"FAIL":      true,
	// Parks, or hands on its callback's body.
	"WAIT_FOR_CALLBACK": true,
}

// Classify returns a step's class, by its kind (Action).
func Classify(s Step) Class {
	if ioActions[s.Action()] {
		return IO
	}
	return CPU
}

// ClassOf is the class of a list of steps run in one attempt: CPU if any
// step is CPU-bound, else IO. An empty list is IO: it only records its
// result.
func ClassOf(steps []Step) Class {
	for _, s := range steps {
		if Classify(s) == CPU {
			return CPU
		}
	}
	return IO
}
