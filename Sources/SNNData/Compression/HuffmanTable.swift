/// A canonical Huffman decoding table: `table[bits]` is `symbol << 4 | length` for the code that
/// the low `maxLength` bits (LSB first, as DEFLATE packs them) start with; 0 where no code does.
struct HuffmanTable {
    var table: [UInt32]
    var maxLength: Int

    init(lengths: [Int], name: String, offset: Int) throws {
        var count = [Int](repeating: 0, count: 16)
        for l in lengths { count[l] += 1 }
        count[0] = 0
        var left = 1
        for len in 1...15 {
            left <<= 1
            left -= count[len]
            if left < 0 {
                throw DataError(.corrupt, offset: offset, "DEFLATE: over-subscribed \(name) Huffman code (expected a prefix code)")
            }
        }
        var maxLen = 1
        for len in 1...15 where count[len] > 0 { maxLen = len }
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 { next[len] = code; code = (code + count[len]) << 1 }
        let size = 1 << maxLen
        var t = [UInt32](repeating: 0, count: size)
        for (sym, len) in lengths.enumerated() where len > 0 {
            let c = next[len]
            next[len] += 1
            var r = 0
            for b in 0..<len where (c >> b) & 1 != 0 { r |= 1 << (len - 1 - b) }
            var k = r
            while k < size {
                t[k] = UInt32(sym << 4 | len)
                k += 1 << len
            }
        }
        table = t
        maxLength = maxLen
    }

    static let fixedLiteral: HuffmanTable = {
        var l = [Int](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return try! HuffmanTable(lengths: l, name: "fixed literal", offset: 0)
    }()
    static let fixedDistance: HuffmanTable = try! HuffmanTable(lengths: [Int](repeating: 5, count: 30), name: "fixed distance", offset: 0)
}
