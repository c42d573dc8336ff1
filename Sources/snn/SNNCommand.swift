import ArgumentParser

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
}
