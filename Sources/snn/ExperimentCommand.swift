import ArgumentParser

/// `snn experiment`: the papers' comparisons as single commands.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce the papers' comparisons; each writes a report folder (Markdown, JSON, SVG plots).",
        subcommands: [LayerSyncExperiment.self, BNTTExperiment.self, EMPFExperiment.self, EMPFBench.self]
    )
}
