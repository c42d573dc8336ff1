#if MPI
import CMPI
import Foundation
import SNNTraining

/// A ``Communicator`` over MPI's `MPI_COMM_WORLD` (the system Open MPI), for processes started by
/// `mpirun -np N` or `srun`.
///
/// MPI's default error handler stays in place (`MPI_ERRORS_ARE_FATAL`): a failed collective, or a
/// peer that died, ends the whole job instead of leaving ranks waiting. Collectives are called from
/// one thread only (the training loop's); kernels run on other threads without touching MPI
/// (`MPI_THREAD_FUNNELED`).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private var finalized = false

    /// Initialises MPI (once per process).
    public init() {
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided)
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(cmpi_comm_world(), &r)
        MPI_Comm_size(cmpi_comm_world(), &s)
        rank = Int(r); size = Int(s)
    }

    /// Whether the process was started by an MPI launcher (Open MPI's mpirun, PMIx, Slurm's PMI).
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        check(MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, Int32(buffer.count), cmpi_float(), cmpi_sum(), cmpi_comm_world()), "MPI_Allreduce")
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        check(MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, Int32(buffer.count), cmpi_double(), cmpi_sum(), cmpi_comm_world()), "MPI_Allreduce")
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int) {
        var length = [Int32(bytes.count)]
        length.withUnsafeMutableBufferPointer { p in
            check(MPI_Bcast(p.baseAddress, 1, cmpi_int(), Int32(root), cmpi_comm_world()), "MPI_Bcast")
        }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length[0])) }
        bytes.withUnsafeMutableBufferPointer { p in
            check(MPI_Bcast(p.baseAddress, Int32(p.count), cmpi_byte(), Int32(root), cmpi_comm_world()), "MPI_Bcast")
        }
    }

    public func barrier() { check(MPI_Barrier(cmpi_comm_world()), "MPI_Barrier") }

    public func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]? {
        var lengths = [Int32](repeating: 0, count: size)
        var mine = Int32(bytes.count)
        lengths.withUnsafeMutableBufferPointer { l in
            check(MPI_Gather(&mine, 1, cmpi_int(), l.baseAddress, 1, cmpi_int(), Int32(root), cmpi_comm_world()), "MPI_Gather")
        }
        var offsets = [Int32](repeating: 0, count: size)
        for k in 1..<max(size, 1) { offsets[k] = offsets[k - 1] + lengths[k - 1] }
        var all = [UInt8](repeating: 0, count: rank == root ? Int(lengths.reduce(0, +)) : 1)
        var send = bytes.isEmpty ? [0] : bytes
        send.withUnsafeMutableBufferPointer { s in
            all.withUnsafeMutableBufferPointer { a in
                check(MPI_Gatherv(s.baseAddress, mine, cmpi_byte(), a.baseAddress, lengths, offsets, cmpi_byte(), Int32(root), cmpi_comm_world()), "MPI_Gatherv")
            }
        }
        guard rank == root else { return nil }
        return (0..<size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + lengths[$0])]) }
    }

    public func abort(code: Int32) -> Never {
        fflush(nil)  // every stream: what this rank printed comes out before the job ends
        MPI_Abort(cmpi_comm_world(), code)
        exit(code)
    }

    /// Ends MPI in this process (call once, after the last collective, on every rank).
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }

    private func check(_ code: Int32, _ call: String) {
        if code != cmpi_success() {
            FileHandle.standardError.write(Data("error: rank \(rank) of \(size): \(call) failed with MPI error \(code)\n".utf8))
            abort(code: 1)
        }
    }
}
#endif
