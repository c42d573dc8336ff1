import Foundation
import SNNTensor

/// Pictures of one sample's frames, for looking at data: the `T` frames side by side.
///
/// Frames shaped `[2, H, W]` (OFF, ON event counts) are drawn on grey: ON brighter, OFF darker.
/// Frames shaped `[C, H, W]` with another `C` show the mean over channels, `[H, W]` as is, and 1-D
/// frames `[F]` as one column per time step (a raster, time to the right), unless `F` is a
/// perfect square (a flattened image such as the 8x8 digits), which is drawn as a square. Values are scaled by
/// the sample's largest magnitude.
public enum FramePicture {
    /// Greyscale pixels (0...255) of the picture, row-major, with its width and height.
    public static func grey(_ frames: Tensor, gap: Int = 1) -> (pixels: [UInt8], width: Int, height: Int) {
        precondition(frames.rank >= 2, "FramePicture: frames need a time dimension, got \(frames.shape)")
        let T = frames.shape[0]
        var inner = Array(frames.shape.dropFirst())
        if inner.count == 1, inner[0] > 1, let side = Optional(Int(Double(inner[0]).squareRoot())), side * side == inner[0] {
            inner = [side, side] // a flattened square image, e.g. the 8x8 digits
        }
        let f = inner.reduce(1, *)
        if inner.count == 1 { // raster: width T, height F
            let peak = max(frames.data.map(abs).max() ?? 0, 1e-12)
            var px = [UInt8](repeating: 0, count: T * f)
            for t in 0..<T { for k in 0..<f { px[k * T + t] = UInt8(min(255, 255 * abs(frames.data[t * f + k]) / peak)) } }
            return (px, T, f)
        }
        let h = inner[inner.count - 2], w = inner[inner.count - 1]
        let c = inner.count == 3 ? inner[0] : 1
        var values = [Float](repeating: 0, count: T * h * w)
        for t in 0..<T {
            for y in 0..<h {
                for x in 0..<w {
                    var v: Float = 0
                    if c == 2 {
                        v = frames.data[t * f + h * w + y * w + x] - frames.data[t * f + y * w + x]
                    } else {
                        for ch in 0..<c { v += frames.data[t * f + ch * h * w + y * w + x] }
                        v /= Float(c)
                    }
                    values[(t * h + y) * w + x] = v
                }
            }
        }
        let peak = max(values.map(abs).max() ?? 0, 1e-12)
        let width = T * w + (T - 1) * gap
        var px = [UInt8](repeating: c == 2 ? 128 : 0, count: width * h)
        for t in 0..<T {
            for y in 0..<h {
                for x in 0..<w {
                    let v = values[(t * h + y) * w + x] / peak
                    let g = c == 2 ? 128 + 127 * v : 255 * max(0, v)
                    px[y * width + t * (w + gap) + x] = UInt8(max(0, min(255, g.rounded())))
                }
            }
            if t < T - 1 { for y in 0..<h { for k in 0..<gap { px[y * width + t * (w + gap) + w + k] = 255 } } }
        }
        return (px, width, h)
    }

    /// A binary PGM (P5) image of the frames, each picture pixel drawn `scale` x `scale`.
    public static func pgm(_ frames: Tensor, scale: Int = 4) -> [UInt8] {
        let g = grey(frames)
        let W = g.width * scale, H = g.height * scale
        var out = Array("P5\n\(W) \(H)\n255\n".utf8)
        out.reserveCapacity(out.count + W * H)
        for y in 0..<H { for x in 0..<W { out.append(g.pixels[(y / scale) * g.width + x / scale]) } }
        return out
    }

    /// An SVG image of the frames (one grey square per picture pixel that is not background).
    public static func svg(_ frames: Tensor, scale: Int = 4, title: String = "") -> String {
        let g = grey(frames)
        let background: UInt8 = frames.rank == 4 && frames.shape[1] == 2 ? 128 : 0
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(g.width * scale)\" height=\"\(g.height * scale)\" shape-rendering=\"crispEdges\">\n"
        if !title.isEmpty { s += "<title>\(title.replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "&", with: "&amp;"))</title>\n" }
        s += "<rect width=\"100%\" height=\"100%\" fill=\"rgb(\(background),\(background),\(background))\"/>\n"
        for y in 0..<g.height {
            for x in 0..<g.width {
                let v = g.pixels[y * g.width + x]
                if v != background {
                    s += "<rect x=\"\(x * scale)\" y=\"\(y * scale)\" width=\"\(scale)\" height=\"\(scale)\" fill=\"rgb(\(v),\(v),\(v))\"/>\n"
                }
            }
        }
        return s + "</svg>\n"
    }
}
