/// A decoder for raw DEFLATE streams (RFC 1951), in pure Swift.
///
/// It exists so that the default build needs nothing beyond the Swift toolchain (no zlib). It checks
/// everything the format allows it to check (block types, Huffman code completeness, stored-block
/// lengths, back-reference distances, running past the end of the input) and throws a ``DataError``
/// with the byte offset in the compressed input where decoding failed.
public enum Inflate {
    /// The decoded bytes and the number of input bytes the stream occupied (its last byte included).
    public struct Result: Sendable {
        public var output: [UInt8]
        public var consumed: Int
    }

    /// Decodes the raw DEFLATE stream that starts at `input[0]`.
    /// - Parameters:
    ///   - sizeHint: expected output size, used to reserve memory.
    ///   - maxOutput: the decoder stops with an error rather than produce more than this many bytes.
    ///   - baseOffset: added to the offsets reported in errors (the stream's position in its file).
    public static func decompress(_ input: UnsafeBufferPointer<UInt8>, sizeHint: Int = 0,
                                  maxOutput: Int = Int.max, baseOffset: Int = 0) throws -> Result {
        var state = InflateState(src: input, maxOutput: maxOutput, baseOffset: baseOffset,
                                 capacity: Swift.max(1024, sizeHint, input.count * 3))
        defer { state.buf.deallocate() }
        try state.run()
        return Result(output: Array(UnsafeBufferPointer(start: state.buf, count: state.len)), consumed: state.consumedBytes)
    }

    /// The first bytes of the stream's output: at least `count` of them (or the whole output if it
    /// is shorter), without decoding much further. Used to read a header (e.g. an idx file's
    /// dimensions) before deciding how much output to allow.
    public static func prefix(_ input: UnsafeBufferPointer<UInt8>, atLeast count: Int, baseOffset: Int = 0) throws -> [UInt8] {
        // A stored block adds at most 65,535 bytes at once and a back-reference 258, so the output
        // holds at least `count` bytes when a limit this far above `count` is reached.
        var state = InflateState(src: input, maxOutput: count + 65_535 + 258, baseOffset: baseOffset,
                                 capacity: Swift.max(1024, count))
        defer { state.buf.deallocate() }
        do { try state.run() } catch {
            if !state.limitReached { throw error }
        }
        return Array(UnsafeBufferPointer(start: state.buf, count: state.len))
    }

    /// Decodes the raw DEFLATE stream at the start of `input`.
    public static func decompress(_ input: [UInt8], sizeHint: Int = 0, maxOutput: Int = Int.max) throws -> Result {
        try input.withUnsafeBufferPointer { try decompress($0, sizeHint: sizeHint, maxOutput: maxOutput) }
    }
}
