import Foundation
import SNNData
import Testing

@Suite struct GzipTests {
    let text = Array("hello hello hello hello, spiking world!\n".utf8)
    let stored: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 4, 3, 1, 40, 0, 215, 255, 104, 101, 108, 108, 111, 32, 104, 101, 108, 108, 111, 32, 104, 101, 108, 108, 111, 32, 104, 101, 108, 108, 111, 44, 32, 115, 112, 105, 107, 105, 110, 103, 32, 119, 111, 114, 108, 100, 33, 10, 194, 60, 185, 148, 40, 0, 0, 0]
    let fixed: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 87, 200, 64, 39, 117, 20, 138, 11, 50, 179, 51, 243, 210, 21, 202, 243, 139, 114, 82, 20, 185, 0, 194, 60, 185, 148, 40, 0, 0, 0]

    @Test func storedAndFixedBlocks() throws {
        #expect(try Gzip.decompress(stored) == text)
        #expect(try Gzip.decompress(fixed) == text)
        // Two members concatenated, then zero padding.
        #expect(try Gzip.decompress(stored + fixed + [0, 0, 0]) == text + text)
    }

    @Test func dynamicBlocksOfShippedFiles() throws {
        let url = try #require(TestData.shipped("digits/digits.csv.gz"))
        let out = try FileData.readDecompressing(url)
        #expect(out.count == 264_712)
        #expect(String(decoding: out.prefix(12), as: UTF8.self) == "0,0,5,13,9,1")
        let labels = try FileData.readDecompressing(try #require(TestData.shipped("mnist-t10k/t10k-labels-idx1-ubyte.gz")))
        #expect(labels.count == 10_008)
        #expect(Array(labels.prefix(8)) == [0, 0, 8, 1, 0, 0, 0x27, 0x10])
    }

    @Test func badChecksumIsReported() {
        var bad = fixed
        bad[bad.count - 8] ^= 1 // CRC-32
        let e = TestData.dataError { try Gzip.decompress(bad, file: "x.gz") }
        #expect(e?.kind == .corrupt)
        #expect(e?.file == "x.gz")
        #expect(e?.offset == fixed.count - 8)
        var badSize = fixed
        badSize[badSize.count - 1] ^= 1
        #expect(TestData.dataError { try Gzip.decompress(badSize) }?.kind == .corrupt)
    }

    @Test func truncationAndGarbage() {
        for n in [0, 1, 5, 10, 20, fixed.count - 1] {
            let e = TestData.dataError { try Gzip.decompress(Array(fixed.prefix(n))) }
            #expect(e?.kind == .truncated, "prefix of \(n) bytes gave \(String(describing: e))")
        }
        #expect(TestData.dataError { try Gzip.decompress(Array("not gzip at all".utf8)) }?.kind == .corrupt)
        var type3 = fixed
        type3[10] = 0b111 // final block, type 3
        #expect(TestData.dataError { try Gzip.decompress(type3) }?.kind == .corrupt)
        var stored2 = stored
        stored2[13] ^= 0xFF // NLEN no longer the complement of LEN
        #expect(TestData.dataError { try Gzip.decompress(stored2) }?.kind == .corrupt)
    }

    @Test func everyFlipAndCutOfADynamicStreamFailsCleanly() throws {
        let url = try #require(TestData.shipped("digits/digits.csv.gz"))
        let good = try FileData.read(url)
        let original = try Gzip.decompress(good)
        var errors = 0
        for k in 0..<300 {
            var bad = good
            let off = (k * 7919) % good.count
            bad[off] ^= UInt8(1 << (k % 8))
            do {
                let out = try Gzip.decompress(bad)
                #expect(out == original, "flip at \(off) decoded to different data without an error")
            } catch let e as DataError {
                errors += 1
                #expect(e.offset != nil)
            }
            let cut = Array(good.prefix((k * 104_729) % good.count))
            #expect(TestData.dataError { try Gzip.decompress(cut) } != nil)
        }
        #expect(errors > 250)
    }
}
