package jobspec

import "github.com/jobweaver/jobweaver/shared/step"

// DataPipeline is DATA_PIPELINE: payload {steps: [...]} of step.Pipeline's
// kinds (SIMULATION's and SCRIPT), each with an optional unique id. Its
// steps' outputs are kept, and a SCRIPT reads the earlier ones by id.
var DataPipeline = StepList("DATA_PIPELINE", "DataPipelinePayload", step.Pipeline, true)
