package jobspec

import "github.com/jobweaver/jobweaver/shared/step"

// DataPipeline is DATA_PIPELINE: payload {steps: [...]} of step.Pipeline's
// kinds (SIMULATION's and SCRIPT), each with an optional unique id. Its
// steps' outputs are kept, and a SCRIPT reads the earlier ones by id. It
// resumes (ResumingStepList): its steps' budgets may add up to more than
// MaxAttemptMs, each within MaxStepMs.
var DataPipeline = ResumingStepList("DATA_PIPELINE", "DataPipelinePayload", step.Pipeline, true)
