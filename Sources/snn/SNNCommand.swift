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
    ///
    /// Also keeps freed memory for reuse (glibc): training allocates the same large step tensors again
    /// and again, and with glibc's defaults each one above the mmap threshold came fresh from the
    /// kernel, page by zeroed page (4-6% of EM-PF and BNTT training went to page faults).
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        keepFreedMemory()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// glibc's `mallopt(M_MMAP_THRESHOLD, 256 MiB)` and `mallopt(M_TRIM_THRESHOLD, 512 MiB)` (the Swift
/// Glibc module does not export `mallopt`; it is looked up by name, a no-op where it is missing).
func keepFreedMemory() {
    #if canImport(Glibc)
    typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }   // RTLD_DEFAULT
    let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
    let mmapThreshold: Int32 = -3, trimThreshold: Int32 = -1   // M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (malloc.h)
    _ = mallopt(mmapThreshold, 256 << 20)
    _ = mallopt(trimThreshold, 512 << 20)
    #endif
}
