import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
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

    /// Line-buffers standard output first: when it is redirected to a file or a pipe, each result
    /// line is written as soon as it is printed, so an interrupted run keeps every line it printed.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
