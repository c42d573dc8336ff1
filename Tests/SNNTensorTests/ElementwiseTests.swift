import Testing
import SNNTensor
#if canImport(Glibc)
import Glibc
#endif

@Suite("Elementwise")
struct ElementwiseTests {
    @Test("axpy, scale, add, sum, dot on odd lengths", arguments: [0, 1, 3, 15, 16, 17, 33, 100, 1000])
    func basics(n: Int) {
        var rng = TestRNG(UInt64(700 + n))
        let x = rng.values(n), y0 = rng.values(n)
        var y = y0
        Elementwise.axpy(n, alpha: -0.75, x, &y)
        for i in 0..<n { #expect(abs(y[i] - (y0[i] - 0.75 * x[i])) < 1e-6) }
        y = y0
        Elementwise.scale(n, by: 3, &y)
        for i in 0..<n { #expect(abs(y[i] - 3 * y0[i]) < 1e-6) }
        y = y0
        Elementwise.add(n, x, into: &y)
        for i in 0..<n { #expect(abs(y[i] - (y0[i] + x[i])) < 1e-6) }
        let s = Elementwise.sum(n, x)
        #expect(abs(Double(s) - x.reduce(0.0) { $0 + Double($1) }) < 1e-4)
        let d = Elementwise.dot(n, x, y0)
        #expect(abs(Double(d) - dotD(x, y0)) < 1e-4)
    }

    @Test("column sums")
    func columnSums() {
        var rng = TestRNG(3)
        let rows = 7, cols = 19, ld = 21
        let x = rng.values(rows * ld)
        var out = [Float](repeating: 1, count: cols)
        Elementwise.addColumnSums(rows: rows, cols: cols, x, ld: ld, into: &out)
        for j in 0..<cols {
            var s: Float = 1
            for r in 0..<rows { s += x[r * ld + j] }
            #expect(abs(out[j] - s) < 1e-5)
        }
    }

    @Test("softmax cross-entropy rows: loss and gradient (finite differences)")
    func softmaxCrossEntropy() {
        var rng = TestRNG(8)
        let rows = 5, cols = 10
        var z = rng.values(rows * cols, -3, 3)
        z[3] = 40 // large logits stay stable
        let labels = (0..<rows).map { _ in rng.int(0...(cols - 1)) }
        var grad = [Float](repeating: .nan, count: rows * cols)
        let loss = Elementwise.softmaxCrossEntropyRows(logits: z, rows: rows, cols: cols, labels: labels,
                                                       gradient: &grad, gradientWeight: 0.5)
        var ref = 0.0
        for r in 0..<rows {
            let row = (0..<cols).map { Double(z[r * cols + $0]) }
            let mx = row.max()!
            ref += mx + log(row.reduce(0) { $0 + exp($1 - mx) }) - row[labels[r]]
        }
        ref /= Double(rows)
        #expect(abs(Double(loss) - ref) < 1e-5)
        for r in 0..<rows {
            let gs = (0..<cols).reduce(0.0) { $0 + Double(grad[r * cols + $1]) }
            #expect(abs(gs) < 1e-6)
        }
        let h: Float = 1e-2
        for i in stride(from: 0, to: rows * cols, by: 3) {
            var zp = z, zm = z
            zp[i] += h; zm[i] -= h
            let lp = Elementwise.softmaxCrossEntropyRows(logits: zp, rows: rows, cols: cols, labels: labels)
            let lm = Elementwise.softmaxCrossEntropyRows(logits: zm, rows: rows, cols: cols, labels: labels)
            let fd = 0.5 * Double(lp - lm) / Double(2 * h)
            #expect(abs(fd - Double(grad[i])) < 2e-3, "gradient \(i): fd \(fd) vs \(grad[i])")
        }
    }
}
