import ArgumentParser

extension SNNCommand {
    /// Every subcommand, in the order `snn --help` lists them.
    static var allSubcommands: [any ParsableCommand.Type] {
        [DemoCommand.self, TrainCommand.self, EvalCommand.self, ExperimentCommand.self, ReportCommand.self, TraceCommand.self, BenchCommand.self, InfoCommand.self, DataCommand.self, ExportCommand.self, ImportCommand.self]
    }
}
