import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `snn`: train, evaluate, benchmark and inspect spiking neural networks, layered or asynchronous.
@main
struct SNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snn",
        abstract: "Spiking neural networks, layered and asynchronous (event-driven), in pure Swift.",
        discussion: """
        Start with `snn demo`: it trains a small SNN on the shipped N-MNIST recordings and runs it both \
        layer by layer and asynchronously. Every command prints its options with --help.
        """,
        subcommands: SNNCommand.allSubcommands
    )

    /// Result lines reach a log file as they are printed (stdout is line-buffered even without a terminal).
    static func main() {
        #if canImport(Glibc)
        setvbuf(stdout, nil, _IOLBF, 0)
        #endif
        main(nil)
    }
}
