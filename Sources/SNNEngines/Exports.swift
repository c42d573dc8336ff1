// The spike-trace file format lives in its own module (built with bounds checks, like every parser);
// code that imports SNNEngines keeps seeing `SpikeTrace`.
@_exported import SNNTrace
