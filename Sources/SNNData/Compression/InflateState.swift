/// DEFLATE length and distance code tables (RFC 1951, section 3.2.5) and the order of code-length codes.
let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]

let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]

let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]

let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

/// The running state of one ``Inflate`` call: the input bit reader and the output buffer.
struct InflateState {
    let src: UnsafeBufferPointer<UInt8>
    let maxOutput: Int
    let baseOffset: Int
    var pos = 0          // next byte of src to load into the bit buffer
    var padded = 0       // zero bytes loaded past the end of src
    var bitBuf: UInt64 = 0
    var bitCount = 0
    /// The output so far: `len` bytes of a `cap`-byte buffer.
    var buf: UnsafeMutablePointer<UInt8>
    var cap: Int
    var len = 0
    /// Set when decoding stopped because the output would pass `maxOutput`.
    var limitReached = false

    /// Records that the output limit was reached and returns the error to throw.
    mutating func overLimit(at offset: Int) -> DataError {
        limitReached = true
        return DataError(.corrupt, offset: offset, "DEFLATE: output exceeds the limit of \(maxOutput) bytes")
    }

    init(src: UnsafeBufferPointer<UInt8>, maxOutput: Int, baseOffset: Int, capacity: Int) {
        self.src = src
        self.maxOutput = maxOutput
        self.baseOffset = baseOffset
        cap = capacity
        buf = .allocate(capacity: capacity)
    }

    /// Makes room for `extra` more output bytes (or throws past `maxOutput`).
    @inline(__always) mutating func reserve(_ extra: Int) throws {
        if len + extra <= cap { return }
        guard len + extra <= maxOutput else {
            throw overLimit(at: errorOffset)
        }
        let newCap = Swift.max(cap * 2, len + extra)
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        nb.update(from: buf, count: len)
        buf.deallocate()
        buf = nb
        cap = newCap
    }

    /// Input bytes consumed so far, rounded up to whole bytes.
    var consumedBytes: Int { (8 * (pos + padded) - bitCount + 7) / 8 }
    var errorOffset: Int { baseOffset + min(consumedBytes, src.count) }

    @inline(__always) mutating func refill() {
        while bitCount <= 56 {
            if pos < src.count {
                bitBuf |= UInt64(src[pos]) << UInt64(bitCount)
                pos += 1
            } else {
                padded += 1
            }
            bitCount += 8
        }
    }

    @inline(__always) func checkOverrun() throws {
        if padded > 0 && 8 * (pos + padded) - bitCount > 8 * src.count {
            throw DataError(.truncated, offset: baseOffset + src.count,
                            "DEFLATE stream ends early (expected more compressed data, \(src.count) bytes available)")
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        if bitCount < n { refill() }
        let v = Int(bitBuf & ((1 << UInt64(n)) - 1))
        bitBuf >>= UInt64(n)
        bitCount -= n
        try checkOverrun()
        return v
    }

    @inline(__always) mutating func decode(_ h: HuffmanTable, _ t: UnsafeBufferPointer<UInt32>) throws -> Int {
        if bitCount < h.maxLength { refill() }
        let e = Int(t[Int(bitBuf & ((1 << UInt64(h.maxLength)) - 1))])
        let len = e & 15
        if len == 0 {
            throw DataError(.corrupt, offset: errorOffset, "DEFLATE: bit pattern matches no Huffman code (expected a valid code)")
        }
        bitBuf >>= UInt64(len)
        bitCount -= len
        try checkOverrun()
        return e >> 4
    }

    mutating func run() throws {
        var last = false
        while !last {
            last = try bits(1) == 1
            let type = try bits(2)
            switch type {
            case 0: try stored()
            case 1: try codes(HuffmanTable.fixedLiteral, HuffmanTable.fixedDistance)
            case 2:
                let (lit, dist) = try dynamicTables()
                try codes(lit, dist)
            default:
                throw DataError(.corrupt, offset: errorOffset, "DEFLATE: block type 3 (expected 0, 1 or 2)")
            }
        }
    }

    mutating func stored() throws {
        // Drop to a byte boundary, then give back the whole bytes still in the bit buffer.
        let drop = bitCount & 7
        bitBuf >>= UInt64(drop)
        bitCount -= drop
        let p = pos + padded - bitCount / 8
        if p > src.count {
            throw DataError(.truncated, offset: baseOffset + src.count, "DEFLATE: stream ends inside a stored block header")
        }
        pos = p; padded = 0; bitBuf = 0; bitCount = 0
        guard pos + 4 <= src.count else {
            throw DataError(.truncated, offset: baseOffset + src.count, "DEFLATE: stream ends inside a stored block header (expected LEN and NLEN)")
        }
        let len = Int(src[pos]) | Int(src[pos + 1]) << 8
        let nlen = Int(src[pos + 2]) | Int(src[pos + 3]) << 8
        if len != (~nlen & 0xFFFF) {
            throw DataError(.corrupt, offset: baseOffset + pos, "DEFLATE: stored block length \(len) does not match its complement \(nlen)")
        }
        pos += 4
        guard pos + len <= src.count else {
            throw DataError(.truncated, offset: baseOffset + src.count, "DEFLATE: stored block of \(len) bytes runs past the end of the input")
        }
        guard self.len + len <= maxOutput else {
            throw overLimit(at: baseOffset + pos)
        }
        try reserve(len)
        if len > 0 { (buf + self.len).update(from: src.baseAddress! + pos, count: len) }
        self.len += len
        pos += len
    }

    mutating func dynamicTables() throws -> (HuffmanTable, HuffmanTable) {
        let hlit = try bits(5) + 257
        let hdist = try bits(5) + 1
        let hclen = try bits(4) + 4
        if hlit > 286 || hdist > 30 {
            throw DataError(.corrupt, offset: errorOffset, "DEFLATE: \(hlit) literal/length and \(hdist) distance codes (expected at most 286 and 30)")
        }
        var clLengths = [Int](repeating: 0, count: 19)
        for i in 0..<hclen { clLengths[codeLengthOrder[i]] = try bits(3) }
        let cl = try HuffmanTable(lengths: clLengths, name: "code length", offset: errorOffset)
        var lengths = [Int](repeating: 0, count: hlit + hdist)
        var i = 0
        try cl.table.withUnsafeBufferPointer { t in
            while i < hlit + hdist {
                let sym = try decode(cl, t)
                if sym < 16 { lengths[i] = sym; i += 1; continue }
                var rep = 0, value = 0
                switch sym {
                case 16:
                    if i == 0 { throw DataError(.corrupt, offset: errorOffset, "DEFLATE: repeat code with no previous length") }
                    value = lengths[i - 1]; rep = 3 + (try bits(2))
                case 17: rep = 3 + (try bits(3))
                default: rep = 11 + (try bits(7))
                }
                if i + rep > hlit + hdist {
                    throw DataError(.corrupt, offset: errorOffset, "DEFLATE: code lengths run past the \(hlit + hdist) expected")
                }
                for _ in 0..<rep { lengths[i] = value; i += 1 }
            }
        }
        if lengths[256] == 0 {
            throw DataError(.corrupt, offset: errorOffset, "DEFLATE: no code for end-of-block (symbol 256)")
        }
        let lit = try HuffmanTable(lengths: Array(lengths[0..<hlit]), name: "literal/length", offset: errorOffset)
        let dist = try HuffmanTable(lengths: Array(lengths[hlit...]), name: "distance", offset: errorOffset)
        return (lit, dist)
    }

    mutating func codes(_ lit: HuffmanTable, _ dist: HuffmanTable) throws {
        try lit.table.withUnsafeBufferPointer { lt in
            try dist.table.withUnsafeBufferPointer { dt in
                while true {
                    let sym = try decode(lit, lt)
                    if sym < 256 {
                        if len >= maxOutput {
                            throw overLimit(at: errorOffset)
                        }
                        if len == cap { try reserve(1) }
                        buf[len] = UInt8(truncatingIfNeeded: sym)
                        len += 1
                        continue
                    }
                    if sym == 256 { return }
                    let li = sym - 257
                    if li >= 29 {
                        throw DataError(.corrupt, offset: errorOffset, "DEFLATE: length symbol \(sym) (expected 257...285)")
                    }
                    let length = lengthBase[li] + (try bits(lengthExtra[li]))
                    let ds = try decode(dist, dt)
                    if ds >= 30 {
                        throw DataError(.corrupt, offset: errorOffset, "DEFLATE: distance symbol \(ds) (expected 0...29)")
                    }
                    let distance = distBase[ds] + (try bits(distExtra[ds]))
                    if distance > len {
                        throw DataError(.corrupt, offset: errorOffset, "DEFLATE: back-reference \(distance) bytes back with only \(len) bytes written")
                    }
                    if len + length > maxOutput {
                        throw overLimit(at: errorOffset)
                    }
                    try reserve(length)
                    let to = buf + len
                    let from = to - distance
                    if distance >= length {
                        to.update(from: from, count: length)
                    } else {
                        for k in 0..<length { to[k] = from[k] }
                    }
                    len += length
                }
            }
        }
    }
}
