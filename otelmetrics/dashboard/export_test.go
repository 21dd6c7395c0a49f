package dashboard

// The percentile readers are compared with a real Prometheus by the
// external tests.
type (
	Classic     = classic
	Exponential = exponential
)

const DefaultWindow = defaultWindow
