import ArgumentParser
import SNNData
import SNNEngines

/// How an experiment runs its trained models on the asynchronous engine (`snn experiment bntt`, `snn
/// experiment empf`): the engine's options, the F sweep (default inf, 32, 8), the number of test samples,
/// or none at all.
struct ExperimentAsyncOptions: ParsableArguments {
    @OptionGroup(title: "Asynchronous evaluation of the trained models (default --F inf,32,8)")
    var engine: AsyncModeOptions

    @Flag(help: "Skip the asynchronous evaluation.")
    var noAsync = false

    @Option(help: "Test samples run asynchronously per model and F (the first N of the test set; 0 = all). An event-driven run costs far more than a layered one.")
    var asyncLimit = 1000

    /// The F values to run (nil = infinity): none with --no-async, --F when given, else inf, 32, 8.
    func groupSizes() throws -> [Int?] {
        if noAsync { return [] }
        return givenOptions().contains("--F") ? try engine.groupSizes() : [nil, 32, 8]
    }

    /// Checks the values and that the models (which end with a non-spiking read-out) can run them.
    func validate() throws {
        guard asyncLimit >= 0 else { throw ValidationError("--async-limit must be 0 (all) or positive, got \(asyncLimit)") }
        if noAsync {
            let given = (AsyncModeOptions.names + ["--async-limit"]).filter(givenOptions().contains)
            guard given.isEmpty else {
                throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") to the asynchronous evaluation, which --no-async skips")
            }
        }
        if case .onOutput = try AsyncModeOptions.parseStopRule(engine.stop) {
            throw ValidationError("--stop \(engine.stop): the models end with a non-spiking read-out, which emits no output spikes; use on-spiking-done or max-steps:N")
        }
        _ = try engine.options(forwardGroupSize: nil, seed: 0)
    }

    /// The test samples run asynchronously: the first `--async-limit` of `test` (all with 0).
    func samples(of test: any FrameDataset) -> any FrameDataset {
        asyncLimit > 0 && asyncLimit < test.count ? SubsetDataset(test, indices: Array(0..<asyncLimit)) : test
    }
}
