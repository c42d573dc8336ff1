import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining
#if MPI
import SNNMPI
#endif
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The processes of this run: one, or the ranks of an MPI job (`mpirun -np N snn ...`, build with
/// `--traits MPI`). Rank 0 prints and writes files; the others print errors only.
enum Cluster {
    nonisolated(unsafe) private static var current: (any Communicator)?

    /// Environment variables an MPI launcher sets (Open MPI's mpirun, PMIx, Slurm's PMI).
    static var launcherSize: Int? {
        let env = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS"] { if let n = env[key].flatMap(Int.init) { return n } }
        return env["PMIX_RANK"] != nil ? 0 : nil
    }

    /// Starts MPI when launched by an MPI launcher (MPI builds), checks that every rank got the same
    /// options; a single-process communicator otherwise. Throws when launched as several MPI
    /// processes by a build without the MPI trait (each would train alone).
    static func start() throws -> any Communicator {
        if let current { return current }
        #if MPI
        if launcherSize != nil {
            let c = MPICommunicator()
            current = c
            if c.rank != 0 {  // rank 0 prints the results; the others' standard output goes nowhere
                let devNull = open("/dev/null", O_WRONLY)
                if devNull >= 0 { dup2(devNull, STDOUT_FILENO); close(devNull) }
            }
            try checkSameOptions(c)
            return c
        }
        #else
        if let n = launcherSize, n > 1 {
            throw CLIError("this snn was built without the MPI trait, but it was started as one of \(n) MPI processes (mpirun -np \(n)): each would run alone. Build it with `swift build -c release --traits MPI` (needs libopenmpi-dev), or run it without mpirun")
        }
        #endif
        let c = SingleProcessCommunicator()
        current = c
        return c
    }

    /// Runs `body` on every rank. An error that every rank hit together (``CollectiveError``) is
    /// reported by rank 0 and ends every rank cleanly; any other error on a rank of a multi-rank job
    /// is printed with its rank and aborts the whole job (no rank is left waiting for it).
    static func run(_ body: (any Communicator) throws -> Void) throws {
        let comm: any Communicator
        do { comm = try start() } catch let e as CollectiveError { finish(); if current?.rank ?? 0 == 0 { throw e.error }; exit(1) }
        do {
            try body(comm)
            finish()
        } catch let e as CollectiveError {
            finish()
            if comm.rank == 0 { throw e.error }
            exit(1)
        } catch {
            if comm.size == 1 { throw error }
            FileHandle.standardError.write(Data("error: rank \(comm.rank) of \(comm.size): \(error)\n".utf8))
            comm.abort(code: 1)
        }
    }

    static func finish() {
        #if MPI
        (current as? MPICommunicator)?.finalize()
        #endif
    }

    /// Rank 0 broadcasts a hash of its command line; every rank compares it with its own.
    static func checkSameOptions(_ comm: any Communicator) throws {
        guard comm.size > 1 else { return }
        let args = CommandLine.arguments.dropFirst().joined(separator: "\u{0}")
        let mine = withUnsafeBytes(of: fnv1a64(Array(args.utf8)).littleEndian) { Array($0) }
        var root = mine
        comm.broadcast(&root, root: 0)
        var flags = [Double](repeating: 0, count: comm.size)
        if root != mine { flags[comm.rank] = 1 }
        let all = comm.allReduceSum(flags)
        let ranks = all.indices.filter { all[$0] > 0 }
        if !ranks.isEmpty {
            throw CollectiveError(CLIError("the MPI ranks were started with different options: rank\(ranks.count == 1 ? "" : "s") \(ranks.map(String.init).joined(separator: ", ")) got a command line other than rank 0's (\(CommandLine.arguments.dropFirst().joined(separator: " "))); start every rank with the same options"))
        }
    }
}

/// An error every rank of the job hit at the same point (so every rank can stop cleanly).
struct CollectiveError: Error, CustomStringConvertible {
    var error: any Error
    init(_ error: any Error) { self.error = error }
    var description: String { "\(error)" }
}
